/** Settles like `promise`, or rejects with the signal's reason if it aborts first. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    // The listener goes once the promise settles: a long-lived signal must not collect them.
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * Resolves once `promise` settles, `ms` have passed or `signal` aborts, whichever comes first;
 * never rejects, and leaves no timer or listener behind.
 */
export function waitFor(promise: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    if (signal?.aborted === true) done()
    else signal?.addEventListener('abort', done, { once: true })
    promise.then(done, done)
  })
}
