/**
 * A component that re-renders only when its props change (shallowly), as `memo` of preact/compat
 * does; imported from there, compat would bring its React shims (which rename `onChange` to
 * `onInput`, among others) into the page with it.
 */
import { type Attributes, type Component, createElement, type FunctionComponent } from 'preact'

export function memo<P extends object>(component: FunctionComponent<P>): FunctionComponent<P> {
  function shouldUpdate(this: Component<P>, next: P): boolean {
    return differs(this.props, next)
  }
  function Memoed(this: Component<P>, props: P) {
    this.shouldComponentUpdate = shouldUpdate
    return createElement(component, props as Attributes & P)
  }
  Memoed.displayName = `Memo(${component.displayName ?? component.name})`
  return Memoed
}

function differs(a: object, b: object): boolean {
  const x = a as Record<string, unknown>
  const y = b as Record<string, unknown>
  for (const key in x) if (x[key] !== y[key]) return true
  for (const key in y) if (!(key in x)) return true
  return false
}
