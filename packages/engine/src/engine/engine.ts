import { randomUUID } from 'node:crypto'
import type { Backend, BackendTask, TaskProgress } from '../backend.js'
import { textBackend } from '../backends/text.js'
import { DEFAULT_STOP_TIMEOUT_MS, PROGRESS_INTERVAL_MS, WORKER_TERMINATE_BACKSTOP_MS } from '../constants.js'
import {
  BackendFailedError,
  EngineStoppedError,
  QueueFullError,
  StoreClosedError,
  TaskCancelledError,
  TaskIdConflictError,
  TaskNotFoundError,
  TaskTimeoutError,
  UnsupportedTaskTypeError,
} from '../errors.js'
import { TypedEventTarget } from '../events.js'
import type { ResultStore } from '../store/store.js'
import type { TaskRecord, TaskRequest, TaskStatus } from '../types.js'
import { raceSignal, waitFor } from './async.js'
import { type Config, configure, type TaskEngineInit } from './config.js'
import type { GetOptions, RunOptions, StopOptions, SubmitOptions, TaskEngineEvents } from './options.js'
import {
  capabilities,
  type EngineCapabilities,
  type EngineHealth,
  health,
  type ListOptions,
  list,
} from './queries.js'
import { type BackendEntry, type BackendRegistry, type RegisterOptions, Registry } from './registry.js'
import { Results } from './results.js'
import { FinishedTaskHandle, LiveTaskHandle, type TaskHandle, TaskState } from './task.js'
import { codeOf, taskErrorInfo } from './task-error.js'
import { TurnBudget } from './turn.js'
import { validateInput, validateRequest } from './validate.js'

export type { GetOptions, RunOptions, StopOptions, SubmitOptions, TaskEngineEvents } from './options.js'

const FINAL_EVENT = {
  COMPLETED: 'task:completed',
  FAILED: 'task:failed',
  TIMEOUT: 'task:timeout',
  CANCELLED: 'task:cancelled',
} as const

type FinalStatus = keyof typeof FINAL_EVENT

/**
 * The task engine: a priority queue in front of pluggable backends, with timeouts, cancellation,
 * statuses and a result store. See the package README for a tour.
 */
export class TaskEngine extends TypedEventTarget<TaskEngineEvents> {
  readonly #config: Config
  readonly #registry: Registry
  readonly #store: ResultStore | undefined
  readonly #results: Results
  readonly #active = new Map<string, TaskState>()
  readonly #admitting = new Map<string, { type: string; handle: Promise<TaskHandle> }>()
  readonly #idleWaiters: Array<() => void> = []
  readonly #settling: Array<{ state: TaskState; ok: boolean; value: unknown }> = []
  readonly #turn = new TurnBudget()
  readonly #stopController = new AbortController()
  #seq = 0
  #queued = 0
  #running = 0
  #pumping = false
  #abandoned = 0
  #stopping: Promise<void> | undefined
  #stopped = false

  /** The registered backends; add your own with `register`. */
  readonly backends: BackendRegistry

  constructor(init: TaskEngineInit = {}) {
    super()
    this.#config = configure(init)
    this.#store = init.store
    this.#results = new Results(init.store, this.#config.historyLimit, this.#config.historyMaxBytes, (err) =>
      this.emit('store:error', () => err),
    )
    this.#registry = new Registry({
      concurrency: this.#config.concurrency,
      workers: this.#config.workers,
      graceMs: this.#config.cancelGraceMs,
      progressIntervalMs: PROGRESS_INTERVAL_MS,
    })
    this.backends = {
      register: (backend: Backend, options?: RegisterOptions) => {
        if (this.#stopping !== undefined) throw new EngineStoppedError('the engine is stopped')
        this.#registry.add(backend, options)
      },
      unregister: (name: string) => this.#registry.unregister(name),
      load: (name: string) => this.#registry.loadByName(name, this.#stopController.signal),
      get: (name: string) => this.#registry.byName(name)?.backend,
      list: () => this.#registry.entries.map((e) => this.#registry.info(e)),
    }
    for (const backend of init.backends ?? []) this.#registry.add(backend)
    if (this.#config.builtins) {
      const text = textBackend()
      const taken = text.taskTypes.some((t) => this.#registry.forType(t.name) !== undefined)
      // A user backend named `text` or serving `chunk` takes precedence over the built-in one.
      if (!taken && this.#registry.byName(text.name) === undefined) this.#registry.add(text)
    }
  }

  /** The result store, if the engine has one. */
  get store(): ResultStore | undefined {
    return this.#store
  }

  /**
   * Validates and queues a task. Resolves with its handle once queued; rejects with
   * `ERR_INVALID_REQUEST`, `ERR_UNSUPPORTED_TASK_TYPE`, `ERR_INVALID_INPUT` (naming each field),
   * `ERR_QUEUE_FULL`, `ERR_TASK_ID_CONFLICT` or `ERR_ENGINE_STOPPED`. A request whose `id` matches a
   * known task resolves with that task's handle and runs nothing.
   */
  async submit<Output = unknown>(
    request: TaskRequest,
    options: SubmitOptions = {},
  ): Promise<TaskHandle<Output>> {
    this.#assertRunning()
    options.signal?.throwIfAborted()
    validateRequest(request, this.#config.maxTimeoutMs)
    if (request.id !== undefined) {
      const existing = this.#existing(request.id, request.type)
      if (existing !== undefined) return (await existing) as TaskHandle<Output>
    }
    const entry = this.#registry.forType(request.type)
    if (entry === undefined) {
      const known = this.#registry.taskTypes().map((t) => t.type.name)
      throw new UnsupportedTaskTypeError(
        `no backend runs task type "${request.type}"; this engine runs: ${known.join(', ') || 'nothing'}`,
      )
    }
    this.#assertRoom()
    const input = validateInput(request.type, entry.taskTypes.get(request.type)!.input, request.input)
    const id = request.id ?? randomUUID()
    if (!(input instanceof Promise)) return this.#enqueue(entry, request, id, input) as TaskHandle<Output>
    // An asynchronous schema: reserve the id so a retry arriving meanwhile joins this admission.
    const admission = (async () => {
      const value = await raceSignal(input, options.signal)
      return this.#enqueue(entry, request, id, value)
    })()
    this.#admitting.set(id, { type: request.type, handle: admission })
    try {
      return (await admission) as TaskHandle<Output>
    } finally {
      this.#admitting.delete(id)
    }
  }

  /** Submits a task and resolves with its output, or rejects with the task's coded error. */
  async run<Output = unknown>(request: TaskRequest, options: RunOptions = {}): Promise<Output> {
    const handle = await this.submit<Output>(request, options)
    const onAbort = (): void => {
      handle.cancel()
    }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      return await handle.output()
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }

  /**
   * A snapshot of the task, or `undefined` if unknown or expired; without the output with
   * `{ output: false }` (a status query). May throw the store's errors.
   */
  get(id: string, options: GetOptions = {}): TaskRecord | undefined {
    const state = this.#active.get(id)
    if (state !== undefined) return state.record()
    return this.#results.get(id, options.output !== false)
  }

  /** Tasks newest first: queued and running from memory, finished ones from the store. */
  list(options: ListOptions = {}): TaskRecord[] {
    return list(options, this.#active.values(), this.#results.history(), this.#results.store)
  }

  /**
   * Cancels a queued or running task; returns `false` if it had already finished. Throws
   * `ERR_TASK_NOT_FOUND` for an unknown id.
   */
  cancel(id: string): boolean {
    const state = this.#active.get(id)
    if (state !== undefined) return this.#cancel(state)
    if (this.get(id) !== undefined) return false
    throw new TaskNotFoundError(`no task with id "${id}"`)
  }

  /** What this engine can do and how busy it is, for announcing to peers. */
  capabilities(): EngineCapabilities {
    return capabilities(this.#registry, this.#config, this.#running, this.#queued)
  }

  /** `healthy`, `degraded` (working, with a problem worth a look) or `unhealthy` (not working). */
  health(): EngineHealth {
    return health({
      registry: this.#registry,
      config: this.#config,
      running: this.#running,
      queued: this.#queued,
      abandoned: this.#abandoned,
      stopped: this.#stopping !== undefined,
      store: this.#store,
      storeError: this.#results.storeError,
    })
  }

  /**
   * Stops accepting tasks, cancels queued ones, lets running ones finish until `timeoutMs`, then
   * cancels them, unloads every backend, ends the worker threads and closes the store. Idempotent.
   */
  stop(options: StopOptions = {}): Promise<void> {
    this.#stopping ??= this.#stop(options)
    return this.#stopping
  }

  #assertRunning(): void {
    if (this.#stopping !== undefined)
      throw new EngineStoppedError('the engine is stopped and accepts no tasks')
  }

  #assertRoom(): void {
    if (this.#queued >= this.#config.maxQueueLength) {
      throw new QueueFullError(
        `the queue is full (${this.#config.maxQueueLength} tasks waiting); retry later`,
      )
    }
  }

  /** The handle of a known task with this id, checking that the retry is of the same task type. */
  #existing(id: string, type: string): TaskHandle | Promise<TaskHandle> | undefined {
    const conflict = (other: string): TaskIdConflictError =>
      new TaskIdConflictError(`task "${id}" exists with type "${other}", not "${type}"`)
    const state = this.#active.get(id)
    if (state !== undefined) {
      if (state.type !== type) throw conflict(state.type)
      return state.handle
    }
    const admitting = this.#admitting.get(id)
    if (admitting !== undefined) {
      if (admitting.type !== type) throw conflict(admitting.type)
      return admitting.handle
    }
    // A broken store must not block new work: find() reports it through health() instead.
    const record = this.#results.find(id)
    if (record === undefined) return undefined
    if (record.type !== type) throw conflict(record.type)
    return new FinishedTaskHandle(record)
  }

  #enqueue(entry: BackendEntry, request: TaskRequest, id: string, input: unknown): TaskHandle {
    // Re-checked: an asynchronous validation may have let the engine stop or the queue fill.
    this.#assertRunning()
    this.#assertRoom()
    if (entry.removed) throw new UnsupportedTaskTypeError(`backend "${entry.name}" was unregistered`)
    const state = new TaskState(
      entry,
      id,
      request.type,
      request.priority ?? 0,
      this.#seq++,
      request.timeoutMs ?? this.#config.timeoutMs,
      this.#config.now(),
      request.meta === undefined ? undefined : { ...request.meta },
      input,
    )
    const handle = new LiveTaskHandle(state, (s) => this.#cancel(s))
    state.handle = handle
    this.#active.set(id, state)
    entry.queue.push(state)
    this.#queued++
    this.emit('task:queued', () => state.record())
    this.#pump()
    return handle
  }

  /** Starts queued tasks while there are free slots: highest priority first, FIFO among equals. */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    try {
      while (this.#running < this.#config.concurrency && this.#queued > 0) {
        let best: BackendEntry | undefined
        let top: TaskState | undefined
        for (const entry of this.#registry.entries) {
          if (entry.active >= entry.capacity) continue
          const head = entry.queue.peek()
          if (head === undefined) continue
          if (
            top === undefined ||
            head.priority > top.priority ||
            (head.priority === top.priority && head.seq < top.seq)
          ) {
            best = entry
            top = head
          }
        }
        if (best === undefined || top === undefined) break
        best.queue.pop()
        this.#queued--
        this.#start(top)
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
    state.timer = setTimeout(() => {
      this.#abort(
        state,
        'TIMEOUT',
        new TaskTimeoutError(`task ${state.id} exceeded its timeout of ${state.timeoutMs} ms`),
      )
    }, state.timeoutMs)
    this.emit('task:started', () => state.record())
    state.handle?.emit('status', () => state.record())
    this.#turn.mark()
    const task: BackendTask = { id: state.id, type: state.type, input: state.input }
    const onProgress = (progress: TaskProgress): void => this.#progress(state, progress)
    let running: Promise<unknown>
    try {
      running = entry.pool
        ? entry.pool.run(task, { signal: controller.signal, onProgress })
        : entry.loaded
          ? // A JavaScript backend may return a plain value; the contract says promise.
            Promise.resolve(entry.backend.run(task, { signal: controller.signal, onProgress }))
          : this.#registry
              .load(entry, this.#stopController.signal)
              .then(() => entry.backend.run(task, { signal: controller.signal, onProgress }))
    } catch (err) {
      running = Promise.reject(err)
    }
    running.then(
      (output) => this.#settled(state, true, output),
      (err: unknown) => this.#settled(state, false, err),
    )
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

  #progress(state: TaskState, progress: TaskProgress): void {
    if (state.status !== 'RUNNING') return
    const fraction = Number(progress?.fraction)
    if (!Number.isFinite(fraction)) return
    state.progress = {
      fraction: Math.min(1, Math.max(0, fraction)),
      ...(typeof progress.message === 'string' ? { message: progress.message.slice(0, 200) } : {}),
    }
    const now = performance.now()
    if (now - state.progressAt < PROGRESS_INTERVAL_MS && fraction < 1) return
    state.progressAt = now
    this.emit('task:progress', () => state.record())
    const snapshot = state.progress
    state.handle?.emit('progress', () => snapshot)
  }

  #cancel(state: TaskState): boolean {
    return this.#abort(state, 'CANCELLED', new TaskCancelledError(`task ${state.id} was cancelled`))
  }

  /**
   * Ends a queued or running task now with `status`. A running task's backend is told through its
   * signal; its slot comes back when the backend gives up, or after the grace period at the latest
   * (a worker is terminated then; an in-process run is abandoned and reported by `health()`).
   */
  #abort(state: TaskState, status: 'TIMEOUT' | 'CANCELLED', reason: Error): boolean {
    if (state.status === 'QUEUED') {
      state.entry.queue.remove(state)
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
    state.entry.active--
    this.#running--
    this.#checkIdle(state.entry)
    if (this.#running === 0) for (const wake of this.#idleWaiters.splice(0)) wake()
    this.#pump()
  }

  #finish(state: TaskState, status: FinalStatus, output: unknown, err?: unknown): void {
    state.status = status
    state.finishedAt = this.#config.now()
    clearTimeout(state.timer)
    state.input = undefined
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
    this.#active.delete(state.id)
    // The result is announced once recorded: for a file store, when the writer thread committed it.
    const recorded = this.#results.persist(state)
    if (recorded === undefined) this.#announce(state)
    else void recorded.then(() => this.#announce(state))
  }

  #announce(state: TaskState): void {
    const record = state.record()
    state.resolveDone(record)
    this.emit(FINAL_EVENT[state.status as FinalStatus], () => record)
    this.emit('task:finished', () => record)
    state.handle?.emit('status', () => record)
  }

  #checkIdle(entry: BackendEntry): void {
    if (entry.removed && entry.active === 0 && entry.queue.size === 0) entry.onIdle?.()
  }

  async #stop(options: StopOptions): Promise<void> {
    const stopped = (): EngineStoppedError =>
      new EngineStoppedError('the engine stopped before the task finished')
    for (const entry of this.#registry.entries) {
      for (const state of entry.queue.drain()) {
        this.#queued--
        this.#finish(state, 'CANCELLED', undefined, stopped())
      }
    }
    if (this.#running > 0) {
      await waitFor(this.#idle(), options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS, options.signal)
    }
    for (const state of [...this.#active.values()]) this.#abort(state, 'CANCELLED', stopped())
    // Bounded: every held slot comes back within the grace period (plus the worker backstop).
    if (this.#running > 0) await this.#idle()
    await this.#results.flush()
    this.#stopController.abort(stopped())
    await Promise.all(this.#registry.entries.map((entry) => this.#registry.unload(entry)))
    try {
      this.#store?.close()
    } catch (err) {
      if (!(err instanceof StoreClosedError)) throw err
    }
    this.#stopped = true
  }

  #idle(): Promise<void> {
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Whether `stop()` has completed. */
  get stopped(): boolean {
    return this.#stopped
  }
}

/** Creates a task engine. See `TaskEngineInit` for the options and their defaults. */
export function taskEngine(init: TaskEngineInit = {}): TaskEngine {
  return new TaskEngine(init)
}

export type { TaskStatus }
