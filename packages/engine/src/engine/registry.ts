import type { Backend, BackendSettings, ModelInfo, TaskType } from '../backend.js'
import { BackendConflictError, BackendNotFoundError, InvalidBackendError } from '../errors.js'
import type { HolderAccount, MemoryBudget } from '../memory/budget.js'
import type { TaskErrorInfo } from '../types.js'
import { WorkerPool } from '../worker/pool.js'
import { waitFor } from './async.js'
import { taskErrorInfo } from './task-error.js'

/** Where a backend's tasks run. */
export type BackendPlacement = 'worker' | 'main'

export interface RegisterOptions {
  /**
   * `worker`: in the engine's worker pool (needs `backend.worker`); `main`: in-process.
   * Default: `worker` when the backend describes how to build it there and the engine has workers
   * enabled, else `main`.
   */
  readonly placement?: BackendPlacement
}

/** A registered backend as listed by `engine.backends.list()`. */
export interface BackendInfo {
  readonly name: string
  readonly taskTypes: readonly string[]
  readonly placement: BackendPlacement
  /** Most of its tasks at once. */
  readonly concurrency: number
  readonly running: number
  readonly queued: number
  /** Worker threads alive (0 for in-process backends). */
  readonly threads: number
  /** The last load failure, if the last load failed. */
  readonly loadError?: TaskErrorInfo
}

/** The backends of an engine. */
export interface BackendRegistry {
  /**
   * Adds a backend; its task types become submittable at once. Throws `InvalidBackendError` for a
   * malformed backend and `BackendConflictError` if its name or one of its task types is taken.
   */
  register(backend: Backend, options?: RegisterOptions): void
  /**
   * Removes a backend: new submissions of its task types fail with `ERR_UNSUPPORTED_TASK_TYPE`;
   * tasks already admitted still run. Resolves once those finished and the backend is unloaded.
   */
  unregister(name: string): Promise<void>
  /** Loads a backend now instead of before its first task (a hosted one: starts all its workers). */
  load(name: string, options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Tells the engine a backend changed what it serves (a model added at run time). A backend in
   * the worker pool gets new workers, built from its `worker.init` as it is now: idle workers end
   * at once, busy ones once their task is done (no task is cut short), and until a new worker has
   * loaded, models are announced from the backend object's own `models()`. An in-process backend
   * has changed itself: nothing to do. Throws `BackendNotFoundError` for an unknown name.
   */
  reload(name: string): void
  get(name: string): Backend | undefined
  list(): BackendInfo[]
}

/** Everything the engine keeps per backend. */
export interface BackendEntry {
  readonly name: string
  readonly backend: Backend
  readonly taskTypes: ReadonlyMap<string, TaskType>
  readonly pool: WorkerPool | undefined
  readonly capacity: number
  /** Its tasks waiting (they wait in the engine's scheduler, by flow). */
  queued: number
  /** How long its tasks hold a slot, in the clock's milliseconds (an EWMA; the scheduler's estimate). */
  runMsEstimate: number | undefined
  active: number
  loading: Promise<void> | undefined
  loaded: boolean
  loadError: TaskErrorInfo | undefined
  removed: boolean
  onIdle: (() => void) | undefined
  /** Its account with the memory budget while loaded in-process. */
  memory: HolderAccount | undefined
}

export interface RegistryConfig {
  readonly concurrency: number
  readonly workers: boolean
  readonly graceMs: number
  readonly progressIntervalMs: number
  /** The engine's memory budget, which every backend loads within. */
  readonly memory: MemoryBudget
  /** A backend's settings (thread counts) under the engine's limits, by its capacity. */
  readonly settings: (capacity: number) => BackendSettings
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/

/** Registered backends, indexed by name and by task type. */
export class Registry {
  /** Every entry with work or a registration, including removed ones still draining. */
  readonly entries: BackendEntry[] = []
  readonly #byName = new Map<string, BackendEntry>()
  readonly #byType = new Map<string, BackendEntry>()
  readonly #config: RegistryConfig

  constructor(config: RegistryConfig) {
    this.#config = config
  }

  forType(type: string): BackendEntry | undefined {
    return this.#byType.get(type)
  }

  byName(name: string): BackendEntry | undefined {
    return this.#byName.get(name)
  }

  /** Registered task types (of backends not removed), with their backend. */
  taskTypes(): Array<{ type: TaskType; backend: string }> {
    // One row per type: a backend serving several types appears once for each of them.
    return [...this.#byType].map(([name, e]) => ({ type: e.taskTypes.get(name)!, backend: e.name }))
  }

  add(backend: Backend, options: RegisterOptions = {}): BackendEntry {
    const taskTypes = validate(backend)
    if (this.#byName.has(backend.name)) {
      throw new BackendConflictError(`a backend named "${backend.name}" is already registered`)
    }
    for (const type of taskTypes.keys()) {
      const other = this.#byType.get(type)
      if (other !== undefined) {
        throw new BackendConflictError(`task type "${type}" is already served by backend "${other.name}"`)
      }
    }
    const placement =
      options.placement ?? (backend.worker !== undefined && this.#config.workers ? 'worker' : 'main')
    if (placement !== 'worker' && placement !== 'main') {
      throw new InvalidBackendError(`placement must be 'worker' or 'main', got ${String(placement)}`)
    }
    if (placement === 'worker' && backend.worker === undefined) {
      throw new InvalidBackendError(
        `backend "${backend.name}" has no \`worker\` recipe, so it can only run in-process`,
      )
    }
    if (placement === 'main' && (typeof backend.run !== 'function' || typeof backend.load !== 'function')) {
      throw new InvalidBackendError(
        `backend "${backend.name}" needs load, run and unload functions to run in-process`,
      )
    }
    const capacity = Math.min(this.#config.concurrency, backend.concurrency ?? this.#config.concurrency)
    const entry: BackendEntry = {
      name: backend.name,
      backend,
      taskTypes,
      pool:
        placement === 'worker' && backend.worker !== undefined
          ? new WorkerPool({
              name: backend.name,
              hosting: backend.worker,
              size: capacity,
              graceMs: this.#config.graceMs,
              progressIntervalMs: this.#config.progressIntervalMs,
              memory: this.#config.memory,
              settings: this.#config.settings(capacity),
            })
          : undefined,
      capacity,
      queued: 0,
      runMsEstimate: undefined,
      active: 0,
      loading: undefined,
      loaded: false,
      loadError: undefined,
      removed: false,
      onIdle: undefined,
      memory: undefined,
    }
    this.#byName.set(entry.name, entry)
    for (const type of taskTypes.keys()) this.#byType.set(type, entry)
    this.entries.push(entry)
    return entry
  }

  /** Stops routing new tasks to the backend; the caller drains and unloads it. */
  remove(name: string): BackendEntry {
    const entry = this.#byName.get(name)
    if (entry === undefined) throw new BackendNotFoundError(`no backend named "${name}" is registered`)
    entry.removed = true
    this.#byName.delete(name)
    for (const type of entry.taskTypes.keys()) this.#byType.delete(type)
    return entry
  }

  /** Forgets a removed entry once it has no work left. */
  drop(entry: BackendEntry): void {
    const i = this.entries.indexOf(entry)
    if (i >= 0) this.entries.splice(i, 1)
  }

  /** Loads an in-process backend once; concurrent callers share the load, a failure is retried. */
  load(entry: BackendEntry, signal: AbortSignal): Promise<void> {
    entry.loading ??= this.#loadInProcess(entry, signal).then(
      () => {
        entry.loaded = true
        entry.loadError = undefined
      },
      (err: unknown) => {
        entry.loading = undefined
        entry.loadError = taskErrorInfo(err)
        throw err
      },
    )
    return entry.loading
  }

  #loadInProcess(entry: BackendEntry, signal: AbortSignal): Promise<void> {
    try {
      entry.backend.configure?.(this.#config.settings(entry.capacity))
    } catch (err) {
      return Promise.reject(err)
    }
    entry.memory ??= this.#config.memory.account(entry.name)
    return entry.backend.load({ signal, memory: entry.memory })
  }

  /** The engine's limits changed: every backend gets its settings again. */
  configureAll(): void {
    for (const entry of this.entries) {
      const settings = this.#config.settings(entry.capacity)
      if (entry.pool !== undefined) entry.pool.configure(settings)
      else {
        try {
          entry.backend.configure?.(settings)
        } catch {
          // A backend that cannot take new settings keeps its old ones.
        }
      }
    }
  }

  /** `backends.load(name)`: loads in-process, or starts every worker of a hosted backend. */
  async loadByName(name: string, signal: AbortSignal): Promise<void> {
    const entry = this.#byName.get(name)
    if (entry === undefined) throw new BackendNotFoundError(`no backend named "${name}" is registered`)
    if (entry.pool !== undefined) await entry.pool.warm()
    else await this.load(entry, signal)
  }

  /** `backends.reload(name)`: a hosted backend's workers are replaced (see `BackendRegistry.reload`). */
  reload(name: string): void {
    const entry = this.#byName.get(name)
    if (entry === undefined) throw new BackendNotFoundError(`no backend named "${name}" is registered`)
    entry.pool?.renew()
  }

  /** `backends.unregister(name)`: stop routing, wait for admitted tasks, then unload. */
  async unregister(name: string): Promise<void> {
    const entry = this.remove(name)
    if (entry.active > 0 || entry.queued > 0) {
      // The engine calls onIdle when the last of its tasks has finished.
      await new Promise<void>((resolve) => {
        entry.onIdle = resolve
      })
    }
    this.drop(entry)
    await this.unload(entry)
  }

  /** Unloads a backend (ends its workers); best effort, bounded by the grace period in-process. */
  async unload(entry: BackendEntry): Promise<void> {
    try {
      if (entry.pool !== undefined) await entry.pool.close()
      else if (entry.loaded) await waitFor(entry.backend.unload(), this.#config.graceMs)
    } catch {
      // The engine is letting go of the backend either way.
    }
    // Whatever it did not give back itself is given back now.
    entry.memory?.close()
    entry.memory = undefined
    entry.loaded = false
    entry.loading = undefined
  }

  models(): ModelInfo[] {
    const models: ModelInfo[] = []
    for (const entry of this.#byName.values()) {
      try {
        models.push(...(entry.pool?.models() ?? entry.backend.models?.() ?? []))
      } catch {
        // A backend whose models() throws announces none rather than breaking capabilities().
      }
    }
    return models
  }

  info(entry: BackendEntry): BackendInfo {
    return {
      name: entry.name,
      taskTypes: [...entry.taskTypes.keys()],
      placement: entry.pool === undefined ? 'main' : 'worker',
      concurrency: entry.capacity,
      running: entry.active,
      queued: entry.queued,
      threads: entry.pool?.threads ?? 0,
      ...(entry.loadError === undefined ? {} : { loadError: entry.loadError }),
    }
  }

  registered(): BackendEntry[] {
    return [...this.#byName.values()]
  }
}

function validate(backend: Backend): Map<string, TaskType> {
  if (backend == null || typeof backend !== 'object')
    throw new InvalidBackendError('a backend must be an object')
  if (typeof backend.name !== 'string' || !NAME.test(backend.name)) {
    throw new InvalidBackendError(`backend name must match ${NAME}, got ${JSON.stringify(backend.name)}`)
  }
  if (!Array.isArray(backend.taskTypes) || backend.taskTypes.length === 0) {
    throw new InvalidBackendError(`backend "${backend.name}" must list at least one task type`)
  }
  if (
    backend.concurrency !== undefined &&
    (!Number.isSafeInteger(backend.concurrency) || backend.concurrency < 1)
  ) {
    throw new InvalidBackendError(`backend "${backend.name}" concurrency must be a positive integer`)
  }
  if (backend.worker !== undefined) {
    const { module, export: name } = backend.worker
    if (typeof module !== 'string' || module.length === 0 || typeof name !== 'string' || name.length === 0) {
      throw new InvalidBackendError(
        `backend "${backend.name}" worker recipe needs a module and an export name`,
      )
    }
  }
  const types = new Map<string, TaskType>()
  for (const type of backend.taskTypes) {
    if (typeof type?.name !== 'string' || !NAME.test(type.name)) {
      throw new InvalidBackendError(
        `backend "${backend.name}" has a task type whose name does not match ${NAME}: ${JSON.stringify(type?.name)}`,
      )
    }
    if (typeof type.input?.['~standard']?.validate !== 'function') {
      throw new InvalidBackendError(`task type "${type.name}" needs a Standard Schema as its input`)
    }
    if (types.has(type.name)) {
      throw new BackendConflictError(`backend "${backend.name}" lists task type "${type.name}" twice`)
    }
    types.set(type.name, type)
  }
  return types
}
