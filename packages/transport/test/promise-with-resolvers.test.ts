import { afterEach, describe, expect, it } from 'vitest'
import { ensurePromiseWithResolvers } from '../src/promise-with-resolvers.js'

type WithResolvers = <T>() => { promise: Promise<T>; resolve: (v: T) => void; reject: (r?: unknown) => void }
const native = Object.getOwnPropertyDescriptor(Promise, 'withResolvers')

function installed(): WithResolvers {
  return (Promise as unknown as { withResolvers: WithResolvers }).withResolvers
}

describe('ensurePromiseWithResolvers', () => {
  afterEach(() => {
    // Put the runtime back the way it was so the next test sees the same starting point.
    if (native === undefined) {
      delete (Promise as { withResolvers?: unknown }).withResolvers
    } else {
      Object.defineProperty(Promise, 'withResolvers', native)
    }
  })

  it('installs a fallback only where the runtime lacks one', () => {
    delete (Promise as { withResolvers?: unknown }).withResolvers
    expect(ensurePromiseWithResolvers()).toBe(true)
    expect(typeof installed()).toBe('function')
    expect(ensurePromiseWithResolvers()).toBe(false)
  })

  it('never replaces an existing implementation', () => {
    const own = (() => ({})) as unknown as WithResolvers
    Object.defineProperty(Promise, 'withResolvers', { value: own, writable: true, configurable: true })
    expect(ensurePromiseWithResolvers()).toBe(false)
    expect(installed()).toBe(own)
  })

  it('behaves like the spec: resolve, reject, subclasses, non-constructor receivers', async () => {
    delete (Promise as { withResolvers?: unknown }).withResolvers
    ensurePromiseWithResolvers()
    const fn = installed()

    const ok = fn.call(Promise) as ReturnType<WithResolvers>
    ok.resolve(42)
    await expect(ok.promise).resolves.toBe(42)

    const bad = fn.call(Promise) as ReturnType<WithResolvers>
    bad.reject(new Error('boom'))
    await expect(bad.promise).rejects.toThrow('boom')

    class MyPromise<T> extends Promise<T> {}
    const sub = fn.call(MyPromise) as ReturnType<WithResolvers>
    expect(sub.promise).toBeInstanceOf(MyPromise)
    sub.resolve(undefined)

    expect(() => fn.call(undefined)).toThrow(TypeError)
    expect(() => fn.call({})).toThrow(TypeError)

    const descriptor = Object.getOwnPropertyDescriptor(Promise, 'withResolvers')
    expect(descriptor).toMatchObject({ enumerable: false, writable: true, configurable: true })
    expect(fn.name).toBe('withResolvers')
    expect(fn.length).toBe(0)
  })

  it('is not installed by importing the package (no import side effects)', async () => {
    delete (Promise as { withResolvers?: unknown }).withResolvers
    const hadWebSocket = 'WebSocket' in globalThis
    await import('../src/index.js')
    expect((Promise as { withResolvers?: unknown }).withResolvers).toBeUndefined()
    expect('WebSocket' in globalThis).toBe(hadWebSocket)
  })
})
