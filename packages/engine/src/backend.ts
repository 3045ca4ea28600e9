import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { MemoryAccount } from './memory/budget.js'

/**
 * A kind of work the engine can run, e.g. `embed` or `chunk`.
 *
 * The input schema is any Standard Schema (zod 4, valibot, arktype, ...). The engine validates
 * every submission against it before the task is queued, so a backend only ever sees valid input.
 */
export interface TaskType<Input = unknown> {
  /** Stable name used on the wire, e.g. `embed`. Lower case, `[a-z0-9._-]+`. */
  readonly name: string
  /** One line for `--help` output and capability listings. */
  readonly description?: string
  /** Schema of the task's input. */
  readonly input: StandardSchemaV1<unknown, Input>
}

/** A model a backend can serve, as announced to peers. */
export interface ModelInfo {
  /** Registry name, e.g. `all-minilm-l6-v2`. */
  readonly name: string
  /** Lower-case hex sha256 of the model file (of `model.onnx` for a directory). */
  readonly sha256: string
  /** Size of the model file in bytes. */
  readonly sizeBytes: number
  /** Task types this model serves. */
  readonly taskTypes: readonly string[]
  /** Whether the model is currently loaded in memory. */
  readonly loaded: boolean
  /** While loaded: the memory it takes (weights and contexts), by its runtime's own estimate. */
  readonly memoryBytes?: number
  /**
   * For a generative model (a GGUF file), what it is, so peers can route by it: its architecture
   * (`llama`, `qwen2`, `phi3`...), how its weights are stored (`Q4_K_M`, `Q8_0`, `F16`...) and the
   * context length it was trained with, in tokens.
   */
  readonly family?: string
  readonly quantization?: string
  readonly contextLength?: number
  /**
   * Where the model's files are on this machine (never announced): what a content plug-in shares
   * with peers that lack the model. See {@link ModelFiles}.
   */
  readonly files?: ModelFiles
}

/**
 * The files that make a model: `paths` (relative, `/`-separated) inside the directory `dir`, or,
 * without `paths`, every regular file in it but the pull manifest. A single-file model is its
 * file's directory and name.
 */
export interface ModelFiles {
  readonly dir: string
  readonly paths?: readonly string[]
}

/**
 * A task's own state as of some point of its work, reported by its backend (`TaskProgress`'s
 * `checkpoint`) so that a later run can start from there instead of from the beginning: after the
 * provider died, another one resumes (docs/protocol.md §2.8). Opaque to everyone but the task type.
 */
export interface TaskCheckpoint {
  /**
   * A JSON value. Between nodes it travels inline up to `MAX_CHECKPOINT_BYTES` (1 MiB) of canonical
   * JSON, and by CID above that where both nodes have content (protocol minor 7).
   */
  readonly state: unknown
  /** 0..1: how much of the work the state covers. */
  readonly fraction: number
}

/** One task as a backend receives it: input already validated against its task type's schema. */
export interface BackendTask<Input = unknown> {
  readonly id: string
  readonly type: string
  readonly input: Input
  /**
   * The checkpoint an earlier run of this task reported: a backend that checkpoints starts from
   * its `state`; one that does not ignores it (and starts from the beginning, which is correct).
   */
  readonly resume?: TaskCheckpoint
}

/** Progress a backend may report while it runs. */
export interface TaskProgress {
  /** 0..1 */
  readonly fraction: number
  readonly message?: string
  /**
   * Output produced since the previous report, for tasks that stream text (`generate`'s tokens).
   * The engine throttles reports but never drops a delta: deltas reported within one throttle
   * window reach listeners as one report, concatenated in order, and a pending delta is delivered
   * before the task's final status. The concatenation of every delta a task's handle reported is
   * the text its backend streamed. Deltas travel on the handle's `progress` events only; a
   * `TaskRecord`'s `progress` keeps `fraction` and `message`.
   */
  readonly delta?: string
  /**
   * The task's state as of `fraction`, for a later run to resume from (see `TaskCheckpoint`): a JSON
   * value. Only the latest matters: within a throttle window the engine forwards the newest
   * checkpoint reported, never an older one after it. Like deltas, checkpoints travel on the
   * handle's `progress` events only.
   */
  readonly checkpoint?: unknown
}

/** Per-run options the engine passes to a backend. */
export interface BackendRunOptions {
  /** Aborted on cancellation, timeout or engine shutdown. A backend stops as soon as it can. */
  readonly signal: AbortSignal
  /** Report progress; cheap to call, the engine throttles what it forwards (never dropping a `delta`). */
  readonly onProgress?: (progress: TaskProgress) => void
}

/** What the engine gives a backend to load with. */
export interface BackendLoadOptions {
  readonly signal?: AbortSignal
  /**
   * The engine's memory budget, shared by every backend: reserve before loading a model, release
   * after unloading it, and free idle models when asked (`onPressure`). Absent when a backend is
   * used without an engine.
   */
  readonly memory?: MemoryAccount
}

/**
 * How much of the machine a backend may use, set by the engine (`engine.setLimits`) before the
 * first task and again whenever the limits change. Plain data, so it reaches worker threads.
 */
export interface BackendSettings {
  /**
   * Threads one task of this backend may compute with (ONNX Runtime's intra-op threads, llama.cpp's
   * threads). `undefined`: the backend's own default.
   */
  readonly threads?: number
}

/**
 * A pluggable inference backend. `mock` and `onnx` ship with the engine; adding one takes a few lines:
 *
 * ```ts
 * const upper: Backend = {
 *   name: 'upper',
 *   taskTypes: [{ name: 'upper', input: z.object({ text: z.string() }) }],
 *   async load () {},
 *   async run (task) { return { text: (task.input as { text: string }).text.toUpperCase() } },
 *   async unload () {},
 * }
 * engine.backends.register(upper)
 * ```
 *
 * Backends that do heavy work in JavaScript should be hostable in a worker thread: export a
 * factory from a module whose init is structured-cloneable, so the engine can construct the
 * backend inside its worker pool (see the engine README).
 */
export interface Backend {
  /** Unique name in the registry, e.g. `onnx`. */
  readonly name: string
  /** The task types this backend can run. */
  readonly taskTypes: readonly TaskType[]
  /** Prepare to run (open sessions, warm caches). Called once before the first run; idempotent. */
  load(options?: BackendLoadOptions): Promise<void>
  /** Run one task. Resolves with a JSON-serialisable output; rejects with a coded error. */
  run(task: BackendTask, options: BackendRunOptions): Promise<unknown>
  /** Release everything `load` and `run` acquired. The backend may be loaded again later. */
  unload(): Promise<void>
  /** Models this backend can serve, for capability announcements. */
  models?(): readonly ModelInfo[]
  /**
   * Applies new settings (thread counts) from now on: to tasks that start later, and to models
   * loaded later or, where the runtime allows, to those loaded already. Called before `load` and
   * whenever the engine's limits change; in a worker thread for a worker-hosted backend.
   */
  configure?(settings: BackendSettings): void
  /**
   * Most tasks of this backend the engine runs at once (each in its own worker when hosted).
   * Default: the engine's concurrency. Use 1 for a backend that already uses every core itself.
   */
  readonly concurrency?: number
  /**
   * How to build this backend inside a worker thread. When set, the engine treats this object as a
   * description (name, task types, models) and runs the tasks on instances built in its worker
   * pool by `import(module)[export](init)`; `load`/`run`/`unload` of this object are not called.
   * Register with `{ placement: 'main' }` to run in-process instead.
   */
  readonly worker?: WorkerHosting
}

/**
 * A recipe for building a backend in a worker thread. A backend that calls into native addons
 * there wraps each call in `nativeCall`, so the thread is never terminated in the middle of one.
 */
export interface WorkerHosting {
  /**
   * Module to import in the worker: a `file:` URL (usually `import.meta.url` of the module that
   * defines the factory) or a bare specifier resolvable from this package.
   */
  readonly module: string
  /** Name of the exported factory, called as `factory(init)`; may return a promise. */
  readonly export: string
  /** Passed to the factory; must be structured-cloneable (no functions, no schemas). */
  readonly init?: unknown
  /** V8 heap limits of each worker, so a runaway task fails its worker instead of the process. */
  readonly resourceLimits?: {
    readonly maxOldGenerationSizeMb?: number
    readonly maxYoungGenerationSizeMb?: number
    readonly stackSizeMb?: number
  }
}
