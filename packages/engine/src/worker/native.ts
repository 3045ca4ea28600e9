/**
 * Native calls and thread termination.
 *
 * Terminating a worker thread stops its JavaScript at once, but not native code it is running: an
 * addon's synchronous call (ONNX Runtime creating a session or running a model) or its work on the
 * libuv thread pool (sharp) carries on, then tries to hand its result back to JavaScript in a
 * thread whose environment is being torn down. N-API refuses, and addons built with C++
 * exceptions (onnxruntime-node, sharp) turn that refusal into an exception nothing can catch:
 * `terminate called after throwing an instance of 'Napi::Error'`, and the whole process aborts.
 * It happens whenever a worker is terminated inside such a call: on cancellation, on
 * `engine.stop()`, and on `process.exit()`, which terminates every worker itself.
 *
 * So a backend wraps each such call in {@link nativeCall}, and the engine never terminates a pool
 * worker while one is running: it waits for the call to return (the worker then starts no other),
 * and only then terminates the thread. The bookkeeping is one pair of integers shared between the
 * thread and the pool, so it works while the worker's event loop is busy and from a synchronous
 * `process.on('exit')` handler.
 */
import { workerData } from 'node:worker_threads'
import { NATIVE_CALL_EXIT_WAIT_MS } from '../constants.js'
import { EngineStoppedError } from '../errors.js'

/** Slot 0: native calls in progress, or CLOSED. Slot 1: 1 once termination was requested. */
const CALLS = 0
const CLOSE_REQUESTED = 1
const CLOSED = -1

/** The key of a pool worker's `workerData` that holds its guard's shared memory. */
export const NATIVE_GUARD_KEY = 'nativeGuard'

let state: Int32Array | null | undefined

/** This thread's guard: set up by the engine in its pool workers, absent anywhere else. */
function threadState(): Int32Array | null {
  if (state === undefined) {
    // Read from workerData rather than set by the worker's entry module, so a backend that
    // imports another copy of this package still shares the pool's guard.
    const shared = (workerData as Record<string, unknown> | null | undefined)?.[NATIVE_GUARD_KEY]
    state = shared instanceof SharedArrayBuffer ? new Int32Array(shared) : null
  }
  return state
}

/**
 * Runs `fn`, a call into native code that must not be cut short by terminating this thread (an
 * ONNX Runtime session creation or inference, an image decode on the libuv pool), and resolves
 * with its result. In one of the engine's pool workers, the engine waits for such calls to return
 * before it terminates the thread, whether for a cancelled task, `engine.stop()` or
 * `process.exit()`; once termination is pending, a new call rejects with `ERR_ENGINE_STOPPED`
 * instead of starting. Anywhere else (the main thread, an in-process backend) it just runs `fn`.
 *
 * ```ts
 * const session = await nativeCall(() => ort.InferenceSession.create(file, options))
 * const outputs = await nativeCall(() => session.run(feeds))
 * ```
 *
 * Keep each call to one native operation: the thread cannot be terminated while it runs, so a
 * cancelled task's worker is replaced only when the call returns.
 */
export async function nativeCall<T>(fn: () => T | Promise<T>): Promise<T> {
  const s = threadState()
  if (s === null) return fn()
  for (;;) {
    const calls = Atomics.load(s, CALLS)
    if (calls === CLOSED || Atomics.load(s, CLOSE_REQUESTED) === 1) {
      throw new EngineStoppedError('this worker thread is being terminated; no new native call starts')
    }
    if (Atomics.compareExchange(s, CALLS, calls, calls + 1) === calls) break
  }
  try {
    return await fn()
  } finally {
    Atomics.sub(s, CALLS, 1)
    Atomics.notify(s, CALLS)
  }
}

/** The pool's side of one worker's guard. */
export class NativeGuard {
  /** Passed to the worker in its `workerData` under {@link NATIVE_GUARD_KEY}. */
  readonly buffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT)
  readonly #state = new Int32Array(this.buffer)

  /** Whether the thread is inside a native call right now. */
  get busy(): boolean {
    return Atomics.load(this.#state, CALLS) > 0
  }

  /**
   * Resolves once the thread is outside every native call and will start no other: from then on
   * it may be terminated safely.
   */
  async close(): Promise<void> {
    Atomics.store(this.#state, CLOSE_REQUESTED, 1)
    for (;;) {
      const calls = Atomics.compareExchange(this.#state, CALLS, 0, CLOSED)
      if (calls === 0 || calls === CLOSED) return
      const waited = waitAsync(this.#state, CALLS, calls)
      if (waited.async) await waited.value
    }
  }

  /**
   * `close()` for a synchronous `process.on('exit')` handler: blocks this thread until the worker
   * is outside native calls, or until `timeoutMs` passed. Returns whether it got there.
   */
  closeSync(timeoutMs: number): boolean {
    Atomics.store(this.#state, CLOSE_REQUESTED, 1)
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const calls = Atomics.compareExchange(this.#state, CALLS, 0, CLOSED)
      if (calls === 0 || calls === CLOSED) return true
      const left = deadline - performance.now()
      if (left <= 0) return false
      Atomics.wait(this.#state, CALLS, calls, left)
    }
  }
}

/** `Atomics.waitAsync` (Node.js 16+), which TypeScript's ES2023 library does not declare yet. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> }
  }
).waitAsync

/** Guards of the workers alive in this process, for the exit handler, with a liveness check. */
const live = new Map<NativeGuard, () => boolean>()
let exitHandler: (() => void) | undefined

/**
 * Tracks a worker's guard until it exits. While any is tracked, a `process.on('exit')` handler
 * makes `process.exit()` wait (at most `NATIVE_CALL_EXIT_WAIT_MS` in all) for native calls in
 * progress before Node.js terminates the workers. `alive` tells whether the thread still runs (a
 * thread that died inside a call never leaves it).
 */
export function trackNativeGuard(guard: NativeGuard, alive: () => boolean): () => void {
  live.set(guard, alive)
  if (exitHandler === undefined) {
    exitHandler = () => {
      const deadline = performance.now() + NATIVE_CALL_EXIT_WAIT_MS
      for (const [g, isAlive] of live) {
        if (isAlive()) g.closeSync(Math.max(0, deadline - performance.now()))
      }
    }
    process.on('exit', exitHandler)
  }
  return () => {
    live.delete(guard)
    if (live.size === 0 && exitHandler !== undefined) {
      process.off('exit', exitHandler)
      exitHandler = undefined
    }
  }
}
