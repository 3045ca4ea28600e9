interface Resolvers<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

/**
 * `Promise.withResolvers` (ES2024) as the spec defines it: `this` is the constructor used
 * (NewPromiseCapability(C)), so subclasses get instances of themselves, and a non-constructor
 * `this` is a TypeError.
 */
function withResolvers<T>(this: unknown): Resolvers<T> {
  if (typeof this !== 'function') {
    throw new TypeError('Promise.withResolvers called on a non-constructor')
  }
  let resolve: Resolvers<T>['resolve'] | undefined
  let reject: Resolvers<T>['reject'] | undefined
  const promise = Reflect.construct(this, [
    (res: Resolvers<T>['resolve'], rej: Resolvers<T>['reject']) => {
      if (resolve !== undefined || reject !== undefined) {
        throw new TypeError('Promise executor has already been invoked with non-undefined arguments')
      }
      resolve = res
      reject = rej
    },
  ]) as Promise<T>
  if (typeof resolve !== 'function' || typeof reject !== 'function') {
    throw new TypeError('Promise resolve or reject function is not callable')
  }
  return { promise, resolve, reject }
}

/**
 * Installs `Promise.withResolvers` where the runtime lacks it (Node 20), because libp2p 3 calls it
 * on its first connection. A native implementation is never replaced. Called by `createTransport()`
 * before libp2p is created; importing this package has no side effects.
 *
 * @returns `true` if the fallback was installed by this call
 */
export function ensurePromiseWithResolvers(): boolean {
  if (typeof (Promise as { withResolvers?: unknown }).withResolvers === 'function') {
    return false
  }
  // Same attributes as the built-in methods of Promise: writable, configurable, not enumerable.
  Object.defineProperty(Promise, 'withResolvers', {
    value: withResolvers,
    writable: true,
    enumerable: false,
    configurable: true,
  })
  return true
}
