import { randomUUID } from 'node:crypto'
import type { Backend } from '../backend.js'
import { textBackend } from '../backends/text.js'
import { DEFAULT_STOP_TIMEOUT_MS, PROGRESS_INTERVAL_MS } from '../constants.js'
import {
  EngineStoppedError,
  QueueFullError,
  StoreClosedError,
  TaskIdConflictError,
  TaskNotFoundError,
  UnsupportedTaskTypeError,
} from '../errors.js'
import { TypedEventTarget } from '../events.js'
import { MemoryBudget, type MemoryUsage } from '../memory/budget.js'
import type { ResultStore } from '../store/store.js'
import type { TaskRecord, TaskRequest, TaskStatus } from '../types.js'
import { raceSignal, waitFor } from './async.js'
import { type Config, configure, type TaskEngineInit } from './config.js'
import { Dispatcher } from './dispatch.js'
import { type EngineLimits, type EngineLimitsUpdate, Limits } from './limits.js'
import type {
  CancelOptions,
  GetOptions,
  RunOptions,
  StopOptions,
  SubmitOptions,
  TaskEngineEvents,
} from './options.js'
import {
  capabilities,
  type EngineCapabilities,
  type EngineHealth,
  type EngineLoad,
  health,
  type ListOptions,
  list,
} from './queries.js'
import { type BackendEntry, type BackendRegistry, type RegisterOptions, Registry } from './registry.js'
import { Results } from './results.js'
import { FinishedTaskHandle, type TaskHandle } from './task.js'
import { validateInput, validateRequest } from './validate.js'

export type {
  CancelOptions,
  GetOptions,
  RunOptions,
  StopOptions,
  SubmitOptions,
  TaskEngineEvents,
} from './options.js'

/**
 * The task engine: a priority queue in front of pluggable backends, with timeouts, cancellation,
 * statuses and a result store. See the package README for a tour.
 */
export class TaskEngine extends TypedEventTarget<TaskEngineEvents> {
  readonly #config: Config
  readonly #limits: Limits
  readonly #memory: MemoryBudget
  readonly #registry: Registry
  readonly #store: ResultStore | undefined
  readonly #results: Results
  readonly #tasks: Dispatcher
  readonly #admitting = new Map<string, { type: string; handle: Promise<TaskHandle> }>()
  readonly #stopController = new AbortController()
  #stopping: Promise<void> | undefined
  #stopped = false

  /** The registered backends; add your own with `register`. */
  readonly backends: BackendRegistry

  constructor(init: TaskEngineInit = {}) {
    super()
    this.#config = configure(init)
    this.#limits = new Limits(this.#config.concurrency)
    this.#memory = new MemoryBudget(this.#config.memoryLimitBytes)
    this.#store = init.store
    this.#results = new Results(init.store, this.#config.historyLimit, this.#config.historyMaxBytes, (err) =>
      this.emit('store:error', () => err),
    )
    this.#registry = new Registry({
      concurrency: this.#config.concurrency,
      workers: this.#config.workers,
      graceMs: this.#config.cancelGraceMs,
      progressIntervalMs: PROGRESS_INTERVAL_MS,
      memory: this.#memory,
      settings: (capacity) => this.#limits.settingsFor(capacity),
    })
    this.#tasks = new Dispatcher(
      this.#config,
      this.#limits,
      this.#registry,
      this.#results,
      (type, detail) => this.emit(type, detail),
      this.#stopController.signal,
    )
    this.backends = {
      register: (backend: Backend, options?: RegisterOptions) => {
        if (this.#stopping !== undefined) throw new EngineStoppedError('the engine is stopped')
        this.#registry.add(backend, options)
      },
      unregister: (name: string) => this.#registry.unregister(name),
      load: (name: string) => this.#registry.loadByName(name, this.#stopController.signal),
      reload: (name: string) => this.#registry.reload(name),
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
   * known task resolves with that task's handle and runs nothing, unless that task was cancelled:
   * then it runs anew.
   */
  async submit<Output = unknown>(
    request: TaskRequest,
    options: SubmitOptions = {},
  ): Promise<TaskHandle<Output>> {
    this.#assertRunning()
    options.signal?.throwIfAborted()
    validateRequest(request, this.#config.maxTimeoutMs)
    if (request.id !== undefined) {
      const existing = this.#existing(request.id, request.type, request.persist === 'memory')
      if (existing !== undefined) return (await existing) as TaskHandle<Output>
    }
    const entry = this.#registry.forType(request.type)
    if (entry === undefined) {
      const known = this.#registry.taskTypes().map((t) => t.type.name)
      throw new UnsupportedTaskTypeError(
        `no backend runs task type "${request.type}"; this engine runs: ${known.join(', ') || 'nothing'}`,
      )
    }
    this.#assertRoom(request.flow)
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
    const state = this.#tasks.active.get(id)
    if (state !== undefined) return state.record()
    return this.#results.get(id, options.output !== false)
  }

  /** Tasks newest first: queued and running from memory, finished ones from the store. */
  list(options: ListOptions = {}): TaskRecord[] {
    return list(options, this.#tasks.active.values(), this.#results.history(), this.#results.store)
  }

  /**
   * Cancels a queued or running task; returns `false` if it had already finished. Throws
   * `ERR_TASK_NOT_FOUND` for an unknown id. The record says `ERR_TASK_CANCELLED`, or the code of
   * `options.reason` (a node handing a task back to its requester says why); with
   * `options.forget` it is not kept, so the same id submitted again runs anew.
   */
  cancel(id: string, options: CancelOptions = {}): boolean {
    const state = this.#tasks.active.get(id)
    if (state !== undefined) return this.#tasks.cancel(state, options.reason, options.forget === true)
    if (this.get(id) !== undefined) return false
    throw new TaskNotFoundError(`no task with id "${id}"`)
  }

  /**
   * How busy it is, without listing task types and models: cheap enough to ask before every
   * routing decision.
   */
  load(): EngineLoad {
    return { running: this.#tasks.running, queued: this.#tasks.queued, concurrency: this.#limits.slots }
  }

  /** What this engine can do and how busy it is, for announcing to peers. */
  capabilities(): EngineCapabilities {
    return capabilities(
      this.#registry,
      this.#config,
      this.#limits.slots,
      this.#tasks.running,
      this.#tasks.queued,
    )
  }

  /** The limits in force (see `setLimits`). */
  get limits(): EngineLimits {
    const l = this.#limits
    return { slots: l.slots, cores: l.cores, hold: l.hold, memoryBytes: this.#memory.limitBytes }
  }

  /**
   * Changes how much of the machine the tasks may use, at once: how many start at a time, the
   * cores they share (thread counts of the backends), a hold on starting any, the memory budget
   * of loaded models. Running tasks are never stopped by it. Throws `ERR_INVALID_CONFIG` for a bad
   * value (nothing changed).
   */
  setLimits(update: EngineLimitsUpdate): EngineLimits {
    if (update.memoryBytes !== undefined) this.#memory.setLimit(update.memoryBytes)
    if (this.#limits.apply(update)) this.#registry.configureAll()
    this.#tasks.poke()
    return this.limits
  }

  /** The memory budget: its limit, what is held, and by which backend. */
  memory(): MemoryUsage {
    return this.#memory.usage()
  }

  /** `healthy`, `degraded` (working, with a problem worth a look) or `unhealthy` (not working). */
  health(): EngineHealth {
    return health({
      registry: this.#registry,
      config: this.#config,
      concurrency: this.#limits.slots,
      running: this.#tasks.running,
      queued: this.#tasks.queued,
      abandoned: this.#tasks.abandoned,
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

  /** Room for one more task of `flow`: a flow holding less than its fair share always finds some. */
  #assertRoom(flow = ''): void {
    if (!this.#tasks.admits(flow)) {
      throw new QueueFullError(
        `the queue is full (${this.#tasks.queued} tasks waiting, at most ${this.#config.maxQueueLength}${
          this.#tasks.flows > 1 ? `, shared fairly by ${this.#tasks.flows} requesters` : ''
        }); retry later`,
      )
    }
  }

  /** The handle of a known task with this id, checking that the retry is of the same task type. */
  #existing(id: string, type: string, memoryOnly: boolean): TaskHandle | Promise<TaskHandle> | undefined {
    const conflict = (other: string): TaskIdConflictError =>
      new TaskIdConflictError(`task "${id}" exists with type "${other}", not "${type}"`)
    const state = this.#tasks.active.get(id)
    if (state !== undefined) {
      if (state.type !== type) throw conflict(state.type)
      return state.handle
    }
    const admitting = this.#admitting.get(id)
    if (admitting !== undefined) {
      if (admitting.type !== type) throw conflict(admitting.type)
      return admitting.handle
    }
    // A task kept in memory only was never stored, so the store need not be asked (a point read
    // costs more than the rest of admitting a small task). A broken store must not block new
    // work either: find() reports it through health() instead.
    const record = memoryOnly ? this.#results.inMemory(id) : this.#results.find(id)
    if (record === undefined) return undefined
    if (record.type !== type) throw conflict(record.type)
    // A cancelled run produced nothing to answer with: asked again (a requester that came back
    // after its stream closed and the run was cancelled for it), the id runs anew.
    if (record.status === 'CANCELLED') return undefined
    return new FinishedTaskHandle(record)
  }

  #enqueue(entry: BackendEntry, request: TaskRequest, id: string, input: unknown): TaskHandle {
    // Re-checked: an asynchronous validation may have let the engine stop or the queue fill.
    this.#assertRunning()
    this.#assertRoom(request.flow)
    if (entry.removed) throw new UnsupportedTaskTypeError(`backend "${entry.name}" was unregistered`)
    return this.#tasks.enqueue(entry, request, id, input)
  }

  async #stop(options: StopOptions): Promise<void> {
    const stopped = (): EngineStoppedError =>
      new EngineStoppedError('the engine stopped before the task finished')
    this.#tasks.cancelQueued(stopped)
    if (this.#tasks.running > 0) {
      await waitFor(this.#tasks.idle(), options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS, options.signal)
    }
    this.#tasks.cancelAll(stopped)
    // Bounded: every held slot comes back within the grace period (plus the worker backstop).
    if (this.#tasks.running > 0) await this.#tasks.idle()
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
