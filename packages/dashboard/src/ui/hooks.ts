/**
 * Preact hooks over the live store. A swarm of a thousand nodes changes many times a second: a
 * view re-renders only for what it shows (`useLiveValue`), or at most every so often and only while
 * it is on screen (`useLiveThrottled`), so renders stay out of the way of the graph's frames.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { LiveState, LiveStore } from './live.js'

/** One value of the store's state, re-rendering only when it changes (compared with `Object.is`). */
export function useLiveValue<T>(store: LiveStore, select: (state: LiveState) => T): T {
  const selector = useRef(select)
  selector.current = select
  const [value, setValue] = useState(() => select(store.state))
  useEffect(() => {
    const read = (): void => setValue(() => selector.current(store.state))
    read()
    return store.subscribe(read)
  }, [store])
  return value
}

/**
 * The store's state, re-rendering at most every `ms` (a change after a quiet spell at once, the
 * rest of a burst together at the end of it), and not at all while `active` is false (once more
 * when it turns true): a list of a thousand nodes need not redraw for each of a burst of changes,
 * nor while its tab is hidden.
 */
export function useLiveThrottled(store: LiveStore, ms: number, active = true): LiveState {
  const [state, setState] = useState(store.state)
  useEffect(() => {
    if (!active) return
    let timer: ReturnType<typeof setTimeout> | undefined
    let last = Number.NEGATIVE_INFINITY
    const show = (): void => {
      timer = undefined
      last = performance.now()
      setState(store.state)
    }
    setState(store.state)
    const off = store.subscribe(() => {
      if (timer !== undefined) return
      const wait = last + ms - performance.now()
      if (wait <= 0) show()
      else timer = setTimeout(show, wait)
    })
    return () => {
      off()
      clearTimeout(timer)
    }
  }, [store, ms, active])
  return state
}
