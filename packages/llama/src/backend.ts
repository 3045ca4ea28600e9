import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Backend,
  type BackendRunOptions,
  type BackendTask,
  defaultMemoryLimitBytes,
  hashCache,
  type MemoryAccount,
  ModelNotFoundError,
  memoryBudget,
  modelRegistry,
  UnsupportedTaskTypeError,
} from '@p2p-ai/engine'
import {
  DEFAULT_BACKEND_NAME,
  DEFAULT_BATCH_SIZE,
  DEFAULT_CONCURRENCY,
  DEFAULT_CONTEXT_SIZE,
  DEFAULT_IDLE_UNLOAD_MS,
  defaultThreads,
  GENERATE_TASK_TYPE,
  GGUF_FORMAT,
  MAX_CONCURRENCY,
} from './constants.js'
import { InvalidLlamaOptionsError } from './errors.js'
import { generate } from './generate.js'
import {
  type GgufModelEntry,
  ggufModelName,
  type LlamaModelInfo,
  modelInfo,
  type ResolvedGgufModel,
  resolveModel,
  unchanged,
  validateModelEntry,
} from './models.js'
import { type LoadedModelStatus, ModelPool } from './pool.js'
import { type LlamaRuntime, llamaRuntime } from './runtime.js'
import { type GenerateInput, generateTaskType } from './task.js'

/** Construction options of the `llama` backend. */
export interface LlamaBackendInit {
  /** Registry name of the backend. @default 'llama' */
  readonly name?: string
  /** GGUF models to serve; more can be added with `addModel`. */
  readonly models?: readonly GgufModelEntry[]
  /**
   * Directory of models: every sub-directory with a `p2p-ai-model.json` of format `gguf` (what
   * `pullGgufModel` writes) is registered by `load()` and `scanModels()`, with the sha256 the
   * manifest records, and so is every `.gguf` file dropped straight into it, named after its file
   * (`TinyLlama-1.1B-Chat.Q4_K_M.gguf` serves as `tinyllama-1.1b-chat.q4_k_m`). A model of the same
   * name given in `models` or to `addModel` wins.
   */
  readonly modelsDir?: string
  /**
   * A file remembering the sha256 of model files by file identity, so a multi-gigabyte GGUF file is
   * hashed once and not at every start (a node keeps `model-hashes.json` in its data directory,
   * shared with the ONNX plug-in). @default memory only
   */
  readonly hashCacheFile?: string
  /** Model a task uses when its input names none. @default the only registered model, if there is one */
  readonly defaultModel?: string
  /** Generations at once (each a sequence of its model's context). @default 1 */
  readonly concurrency?: number
  /**
   * Threads llama.cpp computes with; the engine's CPU limit (`engine.setLimits({ cores })`) lowers
   * it. @default every core but one (at least 1)
   */
  readonly threads?: number
  /** Tokens of context per running task (prompt and reply), at most the model's trained length. @default 4096 */
  readonly contextSize?: number
  /** Tokens evaluated per batch while reading a prompt. @default 512 */
  readonly batchSize?: number
  /** Unload a model no task has used for this long; 0 keeps models loaded. @default 600000 (10 min) */
  readonly idleUnloadMs?: number
}

/** The `llama` backend, with its models. */
export interface LlamaBackend extends Backend {
  /** The models this backend serves, as announced (only those whose file was found and read). */
  models(): readonly LlamaModelInfo[]
  /**
   * Registers a model (or replaces one of that name) and reads its file: hash, GGUF header. Resolves
   * with what will be announced; rejects with the model's coded error, leaving it registered.
   */
  addModel(entry: GgufModelEntry, options?: { signal?: AbortSignal }): Promise<LlamaModelInfo>
  /** Stops serving a model and unloads it once its running tasks finish; false if unknown. */
  removeModel(name: string): Promise<boolean>
  /** Models in memory now. */
  loadedModels(): readonly LoadedModelStatus[]
  /**
   * Registers the models of `modelsDir` and reads every model's file (hash, GGUF header) without
   * starting llama.cpp, so `models()` lists them before the first task; `load()` does the same. A
   * model whose file is missing or damaged is left out, and reports its coded error when a task
   * asks for it.
   */
  scanModels(options?: { signal?: AbortSignal }): Promise<void>
}

function positiveInt(key: string, value: number | undefined, max = Number.MAX_SAFE_INTEGER): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1 && value <= max)) {
    throw new InvalidLlamaOptionsError(`${key} must be an integer within 1..${max}, got ${value}`)
  }
}

function validate(init: LlamaBackendInit): void {
  if (init.name !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(init.name)) {
    throw new InvalidLlamaOptionsError(`name ${JSON.stringify(init.name)} must match [a-z0-9][a-z0-9._-]*`)
  }
  for (const [key, value] of [
    ['modelsDir', init.modelsDir],
    ['hashCacheFile', init.hashCacheFile],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new InvalidLlamaOptionsError(`${key} must be a non-empty path`)
    }
  }
  positiveInt('concurrency', init.concurrency, MAX_CONCURRENCY)
  positiveInt('threads', init.threads, 1024)
  positiveInt('contextSize', init.contextSize)
  positiveInt('batchSize', init.batchSize)
  if (init.contextSize !== undefined && init.contextSize < 16) {
    throw new InvalidLlamaOptionsError(`contextSize must be at least 16 tokens, got ${init.contextSize}`)
  }
  if (
    init.idleUnloadMs !== undefined &&
    !(Number.isSafeInteger(init.idleUnloadMs) && init.idleUnloadMs >= 0)
  ) {
    throw new InvalidLlamaOptionsError(
      `idleUnloadMs must be a non-negative integer, got ${init.idleUnloadMs}`,
    )
  }
}

/**
 * The `llama` backend: the `generate` task on GGUF language models with llama.cpp, through
 * node-llama-cpp's prebuilt CPU binaries.
 *
 * It runs on the engine's main thread, on purpose: node-llama-cpp evaluates in llama.cpp's own
 * native threads and awaits them, so the event loop stays free while a model thinks; and a model
 * loaded once is shared by every task, which worker threads (each its own copy) would defeat.
 *
 * ```ts
 * engine.backends.register(llamaBackend({ models: [{ name: 'tinyllama', path: './tinyllama.Q4_K_M.gguf' }] }))
 * const { text } = await engine.run({ type: 'generate', input: { prompt: 'Once upon a time' } })
 * ```
 */
export function llamaBackend(init: LlamaBackendInit = {}): LlamaBackend {
  validate(init)
  const entries = new Map<string, GgufModelEntry>()
  for (const entry of init.models ?? []) {
    const valid = validateModelEntry(entry)
    entries.set(valid.name, valid)
  }
  if (init.defaultModel !== undefined && !entries.has(init.defaultModel)) {
    throw new InvalidLlamaOptionsError(
      `defaultModel ${JSON.stringify(init.defaultModel)} is not among the models`,
    )
  }
  const hashes = init.hashCacheFile === undefined ? undefined : hashCache({ file: init.hashCacheFile })
  const concurrency = init.concurrency ?? DEFAULT_CONCURRENCY
  const configuredThreads = init.threads ?? defaultThreads()
  /** Threads per task the engine allows (undefined: no limit). */
  let allowed: number | undefined
  const threads = (): number => Math.min(configuredThreads, allowed ?? configuredThreads)
  /** The engine's memory budget, given at load; a budget of its own for a backend used alone. */
  let memory: MemoryAccount | undefined
  /** Names of the entries that came from `modelsDir`, which a later scan may replace. */
  const scanned = new Set<string>()
  /** Models whose file was found and read, by name: what `models()` announces. */
  const known = new Map<string, ResolvedGgufModel>()
  /** The model pool once started, for the synchronous `models()` and `loadedModels()`. */
  let pool: ModelPool | undefined
  let starting: Promise<{ runtime: LlamaRuntime; pool: ModelPool }> | undefined

  function start(): Promise<{ runtime: LlamaRuntime; pool: ModelPool }> {
    starting ??= (async () => {
      const rt = await llamaRuntime()
      applyThreads(rt)
      const models = new ModelPool(rt, {
        sequences: concurrency,
        contextSize: init.contextSize ?? DEFAULT_CONTEXT_SIZE,
        batchSize: init.batchSize ?? DEFAULT_BATCH_SIZE,
        threads,
        memory: memory ?? memoryBudget(defaultMemoryLimitBytes()).account(init.name ?? DEFAULT_BACKEND_NAME),
        idleUnloadMs: init.idleUnloadMs ?? DEFAULT_IDLE_UNLOAD_MS,
      })
      pool = models
      return { runtime: rt, pool: models }
    })()
    // A failed start is retried by the next load().
    starting.catch(() => {
      starting = undefined
    })
    return starting
  }

  /**
   * The engine's thread limit for llama.cpp as a whole: running contexts compute with no more
   * threads than this from their next batch on (node-llama-cpp splits them); 0 is no limit.
   */
  function applyThreads(rt: LlamaRuntime): void {
    rt.llama.maxThreads = allowed === undefined ? 0 : allowed * concurrency
  }

  async function resolveKnown(entry: GgufModelEntry, signal?: AbortSignal): Promise<ResolvedGgufModel> {
    try {
      const resolved = await resolveModel(entry, signal, hashes)
      if (entries.get(entry.name) === entry) known.set(entry.name, resolved)
      return resolved
    } catch (err) {
      if (entries.get(entry.name) === entry) known.delete(entry.name)
      throw err
    }
  }

  /** The bytes a loaded model takes; undefined while it is not loaded. */
  function memoryOf(name: string): number | undefined {
    return pool?.status().find((m) => m.name === name)?.bytes
  }

  function modelFor(input: GenerateInput): GgufModelEntry {
    const name = input.model ?? init.defaultModel ?? (entries.size === 1 ? [...entries.keys()][0] : undefined)
    const registered = [...entries.keys()].join(', ') || 'none'
    if (name === undefined) {
      throw new ModelNotFoundError(`name a model in the input's \`model\`: this backend serves ${registered}`)
    }
    const entry = entries.get(name)
    if (entry === undefined) {
      throw new ModelNotFoundError(
        `no model named ${JSON.stringify(name)} is registered (registered: ${registered})`,
      )
    }
    return entry
  }

  /**
   * The models of `modelsDir`: pulled ones (sub-directories with a manifest of format `gguf`), then
   * `.gguf` files dropped into it, each named after its file.
   */
  async function modelsIn(dir: string): Promise<GgufModelEntry[]> {
    const pulled = modelRegistry({ format: { id: GGUF_FORMAT, extensions: ['.gguf'], modelFiles: [] } })
    await pulled.scan(dir)
    const found = pulled.list().map((e) => ({
      name: e.name,
      path: join(e.path, e.model!),
      ...(e.sha256 === undefined ? {} : { sha256: e.sha256 }),
    }))
    const files = await readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const f of files
      .filter((f) => f.isFile() && /\.gguf$/i.test(f.name))
      .sort((a, b) => a.name.localeCompare(b.name))) {
      const name = ggufModelName(f.name)
      if (!found.some((m) => m.name === name)) found.push({ name, path: join(dir, f.name) })
    }
    return found
  }

  /** Registers the models of `modelsDir`; a model registered otherwise (init, addModel) wins. */
  async function scanDir(dir: string): Promise<void> {
    for (const e of await modelsIn(dir)) {
      if (entries.has(e.name) && !scanned.has(e.name)) continue
      const entry = validateModelEntry(e)
      const previous = entries.get(e.name)
      if (previous?.path === entry.path && previous.sha256 === entry.sha256) continue
      entries.set(e.name, entry)
      scanned.add(e.name)
      known.delete(e.name)
      if (previous !== undefined) pool?.evict(e.name)
    }
  }

  const backend: LlamaBackend = {
    name: init.name ?? DEFAULT_BACKEND_NAME,
    taskTypes: [generateTaskType],
    concurrency,

    async load(options = {}) {
      memory ??= options.memory
      await start()
      await backend.scanModels(options)
    },

    async scanModels(options = {}) {
      if (init.modelsDir !== undefined) await scanDir(init.modelsDir)
      // Hash and read every model now so capability announcements carry them; a model whose file
      // is missing or damaged is left out, and reports its coded error when a task asks for it.
      for (const entry of entries.values()) {
        options.signal?.throwIfAborted()
        await resolveKnown(entry, options.signal).catch(() => {})
      }
    },

    async run(task: BackendTask, options: BackendRunOptions): Promise<unknown> {
      const startedAt = performance.now()
      if (task.type !== GENERATE_TASK_TYPE) {
        throw new UnsupportedTaskTypeError(`the llama backend does not run task type "${task.type}"`)
      }
      options.signal.throwIfAborted()
      const input = task.input as GenerateInput
      const entry = modelFor(input)
      const { runtime: rt, pool: models } = await start()
      // The file as read last time while it is unchanged: its hash and header are not read again.
      const seen = known.get(entry.name)
      const model =
        seen?.entry === entry && (await unchanged(seen)) ? seen : await resolveKnown(entry, options.signal)
      if (!models.isLoaded(model.name))
        options.onProgress?.({ fraction: 0, message: `loading model ${model.name}` })
      const lease = await models.acquire(model, options.signal)
      try {
        return await generate(rt.lib, lease, input, { ...options, startedAt })
      } finally {
        await lease.release()
      }
    },

    async unload() {
      const stopping = starting
      starting = undefined
      if (stopping === undefined) return
      const started = await stopping.catch(() => undefined)
      if (started === undefined) return
      if (pool === started.pool) pool = undefined
      await started.pool.close()
    },

    models() {
      return [...known.values()]
        .filter((m) => entries.get(m.name) === m.entry)
        .map((m) => modelInfo(m, memoryOf(m.name)))
    },

    async addModel(entry, options = {}) {
      const valid = validateModelEntry(entry)
      const previous = entries.get(valid.name)
      entries.set(valid.name, valid)
      scanned.delete(valid.name)
      known.delete(valid.name)
      if (previous !== undefined && previous.path !== valid.path) pool?.evict(valid.name)
      return modelInfo(await resolveKnown(valid, options.signal), memoryOf(valid.name))
    },

    async removeModel(name) {
      if (!entries.delete(name)) return false
      scanned.delete(name)
      known.delete(name)
      pool?.evict(name)
      return true
    },

    loadedModels: () => pool?.status() ?? [],

    configure(settings) {
      allowed = settings.threads
      void starting?.then(
        ({ runtime }) => {
          applyThreads(runtime)
          // Contexts made under a lower limit get their threads when next loaded.
          pool?.refreshThreads()
        },
        () => {},
      )
    },
  }
  return backend
}
