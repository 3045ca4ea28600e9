import type { BackendTask, TaskProgress } from '../backend.js'
import { DEFAULT_PRIORITY, PROGRESS_INTERVAL_MS, WORKER_TERMINATE_BACKSTOP_MS } from '../constants.js'
import { BackendFailedError, TaskCancelledError, TaskTimeoutError } from '../errors.js'
import type { TaskRequest } from '../types.js'
import type { Config } from './config.js'
import type { Limits } from './limits.js'
import type { TaskEngineEvents } from './options.js'
import type { BackendEntry, Registry } from './registry.js'
import type { Results } from './results.js'
import { FairScheduler, weightOf } from './scheduler.js'
import { LiveTaskHandle, TaskState } from './task.js'
import { codeOf, taskErrorInfo } from './task-error.js'
import { TurnBudget } from './turn.js'

const FINAL_EVENT = {
  COMPLETED: 'task:completed',
  FAILED: 'task:failed',
  TIMEOUT: 'task:timeout',
  CANCELLED: 'task:cancelled',
} as const

type FinalStatus = keyof typeof FINAL_EVENT

const hasRoom = (entry: BackendEntry): boolean => entry.active < entry.capacity

/** Emits an engine event, building its `detail` only if anyone listens. */
export type Emit = <K extends keyof TaskEngineEvents & string>(
  type: K,
  detail: () => TaskEngineEvents[K],
) => void

/**
 * The life of queued and running tasks: starts them on their backends as slots free up, enforces
 * timeouts, cancels, gives slots back, and records and announces the final status.
 */
export class Dispatcher {
  readonly #config: Config
  readonly #limits: Limits
  readonly #registry: Registry
  readonly #results: Results
  readonly #emit: Emit
  readonly #stopSignal: AbortSignal
  /** Queued and running tasks by id. */
  readonly active = new Map<string, TaskState>()
  readonly #idleWaiters: Array<() => void> = []
  readonly #settling: Array<{ state: TaskState; ok: boolean; value: unknown }> = []
  readonly #turn = new TurnBudget()
  /** Queued tasks, and which starts next. */
  readonly #scheduler = new FairScheduler()
  #seq = 0
  #queued = 0
  #running = 0
  #pumping = false
  #abandoned = 0

  constructor(
    config: Config,
    limits: Limits,
    registry: Registry,
    results: Results,
    emit: Emit,
    stopSignal: AbortSignal,
  ) {
    this.#config = config
    this.#limits = limits
    this.#registry = registry
    this.#results = results
    this.#emit = emit
    this.#stopSignal = stopSignal
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.#queued
  }

  /** Tasks holding a slot. */
  get running(): number {
    return this.#running
  }

  /** Flows (`TaskRequest.flow`) with tasks waiting. */
  get flows(): number {
    return this.#scheduler.flows
  }

  /** Whether a task of `flow` may queue now (see scheduler.ts). */
  admits(flow: string): boolean {
    return this.#scheduler.admits(flow, this.#config.maxQueueLength)
  }

  /** Runs given up after the grace period whose backend still has not stopped. */
  get abandoned(): number {
    return this.#abandoned
  }

  /**
   * Queues a validated request with its parsed `input` on `entry` and starts what can start; the
   * caller checked that the engine runs and the queue has room.
   */
  enqueue(entry: BackendEntry, request: TaskRequest, id: string, input: unknown): LiveTaskHandle {
    const priority = request.priority ?? DEFAULT_PRIORITY
    const state = new TaskState(
      entry,
      id,
      request.type,
      priority,
      this.#seq++,
      request.timeoutMs ?? this.#config.timeoutMs,
      this.#config.now(),
      request.meta === undefined ? undefined : { ...request.meta },
      input,
      request.persist ?? 'before-result',
      request.flow ?? '',
      request.weight ?? weightOf(priority),
    )
    state.resume = request.resume
    const handle = new LiveTaskHandle(state, (s) => this.cancel(s))
    state.handle = handle
    if (request.timeoutFrom === 'submit') this.#startTimer(state)
    this.active.set(id, state)
    this.#scheduler.push(state)
    this.#queued++
    this.#emit('task:queued', () => state.record())
    this.#pump()
    return handle
  }

  /**
   * Cancels the task; its record carries `reason` (a coded error) when given, and is not kept
   * with `forget`.
   */
  cancel(state: TaskState, reason?: Error, forget = false): boolean {
    if (forget && (state.status === 'QUEUED' || state.status === 'RUNNING')) state.forget = true
    return this.#abort(state, 'CANCELLED', reason ?? new TaskCancelledError(`task ${state.id} was cancelled`))
  }

  /** The limits changed: start what may start now. */
  poke(): void {
    this.#pump()
  }

  /** Cancels every queued task with the error `reason()` builds. */
  cancelQueued(reason: () => Error): void {
    for (const state of this.#scheduler.drain()) {
      this.#queued--
      this.#finish(state, 'CANCELLED', undefined, reason())
    }
  }

  /** Cancels every queued and running task with the error `reason()` builds. */
  cancelAll(reason: () => Error): void {
    for (const state of [...this.active.values()]) this.#abort(state, 'CANCELLED', reason())
  }

  /** Resolves the next time no task holds a slot. */
  idle(): Promise<void> {
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Starts queued tasks while there are free slots, in the scheduler's order (scheduler.ts). */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#running < this.#limits.startable && this.#queued > 0) {
        const next = this.#scheduler.next(hasRoom)
        if (next === undefined) break
        this.#queued--
        this.#start(next)
      }
    } finally {
      this.#pumping = false
    }
  }

  #start(state: TaskState): void {
    const { entry } = state
    state.status = 'RUNNING'
    state.startedAt = this.#config.now()
    state.slotHeld = true
    entry.active++
    this.#running++
    const controller = new AbortController()
    state.controller = controller
    // Counting from submission, the timer runs already.
    if (state.timer === undefined) this.#startTimer(state)
    this.#emit('task:started', () => state.record())
    state.handle?.emit('status', () => state.record())
    this.#turn.mark()
    const task: BackendTask =
      state.resume === undefined
        ? { id: state.id, type: state.type, input: state.input }
        : { id: state.id, type: state.type, input: state.input, resume: state.resume }
    const onProgress = (progress: TaskProgress): void => this.#progress(state, progress)
    let running: Promise<unknown>
    try {
      running = entry.pool
        ? entry.pool.run(task, { signal: controller.signal, onProgress })
        : entry.loaded
          ? // A JavaScript backend may return a plain value; the contract says promise.
            Promise.resolve(entry.backend.run(task, { signal: controller.signal, onProgress }))
          : this.#registry
              .load(entry, this.#stopSignal)
              .then(() => entry.backend.run(task, { signal: controller.signal, onProgress }))
    } catch (err) {
      running = Promise.reject(err)
    }
    running.then(
      (output) => this.#settled(state, true, output),
      (err: unknown) => this.#settled(state, false, err),
    )
  }

  #startTimer(state: TaskState): void {
    state.timer = setTimeout(() => {
      this.#abort(
        state,
        'TIMEOUT',
        new TaskTimeoutError(`task ${state.id} exceeded its timeout of ${state.timeoutMs} ms`),
      )
    }, state.timeoutMs)
  }

  /** Settles at once within the turn's budget, else in a batch once the event loop has turned. */
  #settled(state: TaskState, ok: boolean, value: unknown): void {
    if (this.#settling.length === 0 && !this.#turn.spent()) {
      this.#settleOne(state, ok, value)
      return
    }
    this.#settling.push({ state, ok, value })
    if (this.#settling.length === 1) setImmediate(this.#settle)
  }

  #settleOne(state: TaskState, ok: boolean, value: unknown): void {
    this.#release(state)
    if (state.status !== 'RUNNING') return
    if (ok) this.#finish(state, 'COMPLETED', value)
    else this.#finish(state, 'FAILED', undefined, value)
  }

  readonly #settle = (): void => {
    for (const { state, ok, value } of this.#settling.splice(0)) this.#settleOne(state, ok, value)
  }

  /**
   * Keeps the latest report in the record and forwards at most one per task per interval. Text
   * deltas are never dropped: those held back by the throttle are concatenated and forwarded with
   * the next report, at the end of the window at the latest, and before the task's final status.
   * Checkpoints likewise: the newest one held back goes with the next report (only the latest
   * matters, so older ones of the same window are dropped).
   */
  #progress(state: TaskState, progress: TaskProgress): void {
    if (state.status !== 'RUNNING') return
    const fraction = Number(progress?.fraction)
    const delta = typeof progress?.delta === 'string' ? progress.delta : ''
    const checkpoint = progress?.checkpoint
    if (Number.isFinite(fraction)) {
      state.progress = {
        fraction: Math.min(1, Math.max(0, fraction)),
        ...(typeof progress.message === 'string' ? { message: progress.message.slice(0, 200) } : {}),
      }
    } else if (delta === '') {
      return
    }
    state.pendingDelta += delta
    // A checkpoint is as of its own report's fraction, which the record now holds.
    if (checkpoint !== undefined && Number.isFinite(fraction)) state.pendingCheckpoint = checkpoint
    const now = performance.now()
    const wait = state.progressAt + PROGRESS_INTERVAL_MS - now
    if (wait > 0 && !(fraction >= 1)) {
      const held = state.pendingDelta !== '' || state.pendingCheckpoint !== undefined
      if (held && state.deltaTimer === undefined) {
        state.deltaTimer = setTimeout(() => this.#forwardProgress(state), wait)
      }
      return
    }
    this.#forwardProgress(state, now)
  }

  #forwardProgress(state: TaskState, now = performance.now()): void {
    clearTimeout(state.deltaTimer)
    state.deltaTimer = undefined
    state.progressAt = now
    const delta = state.pendingDelta
    const checkpoint = state.pendingCheckpoint
    state.pendingDelta = ''
    state.pendingCheckpoint = undefined
    this.#emit('task:progress', () => state.record())
    const progress = state.progress ?? { fraction: 0 }
    const snapshot =
      delta === '' && checkpoint === undefined
        ? progress
        : {
            ...progress,
            ...(delta === '' ? {} : { delta }),
            ...(checkpoint === undefined ? {} : { checkpoint }),
          }
    state.handle?.emit('progress', () => snapshot)
  }

  /**
   * Ends a queued or running task now with `status`. A running task's backend is told through its
   * signal; its slot comes back when the backend gives up, or after the grace period at the latest
   * (a worker is terminated then; an in-process run is abandoned and reported by `health()`).
   */
  #abort(state: TaskState, status: 'TIMEOUT' | 'CANCELLED', reason: Error): boolean {
    if (state.status === 'QUEUED') {
      this.#scheduler.remove(state)
      this.#queued--
      this.#finish(state, status, undefined, reason)
      this.#checkIdle(state.entry)
      return true
    }
    if (state.status !== 'RUNNING') return false
    state.controller?.abort(reason)
    this.#finish(state, status, undefined, reason)
    if (state.slotHeld) {
      const pooled = state.entry.pool !== undefined
      const wait = this.#config.cancelGraceMs + (pooled ? WORKER_TERMINATE_BACKSTOP_MS : 0)
      state.graceTimer = setTimeout(() => {
        if (!state.slotHeld) return
        state.abandoned = true
        this.#abandoned++
        this.#release(state)
      }, wait)
    }
    return true
  }

  /** Gives the task's slot back (once), then starts what can start. */
  #release(state: TaskState): void {
    if (!state.slotHeld) {
      if (state.abandoned) {
        // The abandoned run has settled at last: it no longer holds a thread or burns CPU.
        state.abandoned = false
        this.#abandoned--
      }
      return
    }
    state.slotHeld = false
    clearTimeout(state.graceTimer)
    this.#scheduler.settled(state, this.#config.now() - (state.startedAt ?? this.#config.now()))
    state.entry.active--
    this.#running--
    this.#checkIdle(state.entry)
    if (this.#running === 0) for (const wake of this.#idleWaiters.splice(0)) wake()
    this.#pump()
  }

  #finish(state: TaskState, status: FinalStatus, output: unknown, err?: unknown): void {
    // Streamed text reaches listeners before the status that ends the stream.
    if (state.pendingDelta !== '') this.#forwardProgress(state)
    state.status = status
    state.finishedAt = this.#config.now()
    clearTimeout(state.timer)
    state.input = undefined
    state.resume = undefined
    state.pendingCheckpoint = undefined
    state.controller = undefined
    if (status === 'COMPLETED') {
      state.output = output
      state.progress = { fraction: 1 }
    } else {
      state.error = taskErrorInfo(err)
      state.errorObject =
        codeOf(err) !== undefined && err instanceof Error
          ? err
          : new BackendFailedError(state.error.message, { cause: err })
    }
    this.active.delete(state.id)
    // The result is announced once recorded: for a file store, when the writer thread committed it.
    // A background write is served from memory while in flight, so announcing first loses no reader.
    const recorded = state.forget ? undefined : this.#results.persist(state)
    if (recorded === undefined || state.persist === 'background') this.#announce(state)
    else void recorded.then(() => this.#announce(state))
  }

  #announce(state: TaskState): void {
    const record = state.record()
    state.resolveDone(record)
    this.#emit(FINAL_EVENT[state.status as FinalStatus], () => record)
    this.#emit('task:finished', () => record)
    state.handle?.emit('status', () => record)
  }

  #checkIdle(entry: BackendEntry): void {
    if (entry.removed && entry.active === 0 && entry.queued === 0) entry.onIdle?.()
  }
}
