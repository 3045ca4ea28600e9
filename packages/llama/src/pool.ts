import { freemem } from 'node:os'
import {
  EngineStoppedError,
  type MemoryAccount,
  type MemoryReservation,
  ModelCorruptError,
  ModelTooLargeError,
  raceSignal,
} from '@p2p-ai/engine'
import type { ChatWrapper, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp'
import { PREFILL_MIN_SLICE, PREFILL_SLICE_WORK } from './constants.js'
import type { ResolvedGgufModel } from './models.js'
import type { LlamaRuntime } from './runtime.js'

/** How the pool loads models and shares memory among them. */
export interface PoolOptions {
  /** Sequences of each model's context: the backend's concurrency. */
  readonly sequences: number
  readonly contextSize: number
  readonly batchSize: number
  /** Threads a context computes with, read when a model is loaded (the engine may lower it later). */
  readonly threads: () => number
  /** The engine's memory budget, shared with its other backends. */
  readonly memory: MemoryAccount
  /** 0 keeps idle models loaded. */
  readonly idleUnloadMs: number
}

/** A model in memory, with one context whose sequences the running tasks share. */
export interface LoadedModel {
  readonly name: string
  readonly sha256: string
  readonly model: LlamaModel
  readonly context: LlamaContext
  /** llama.cpp's estimate of the memory the model and its context take. */
  readonly bytes: number
  /** Those bytes in the engine's memory budget. */
  readonly reservation: MemoryReservation
  /** Threads its context was created with. */
  readonly threads: number
  /** Tokens of a prompt read at once between checks for cancellation (see PREFILL_SLICE_WORK). */
  readonly prefillSlice: number
  /** Tasks holding (or waiting for) one of its sequences. */
  active: number
  /** `performance.now()` of the last release, for least-recently-used eviction. */
  lastUsed: number
  idleTimer: NodeJS.Timeout | undefined
  readonly sequenceWaiters: Array<() => void>
  /**
   * The chat wrapper node-llama-cpp resolved from the model's chat template, on first use. Resolving
   * renders the template against every wrapper it knows, synchronously (about 0.25 s): once per load.
   */
  chatWrapper: ChatWrapper | undefined
}

/** A running task's hold on a model: one context sequence, given back by `release()`. */
export interface Lease {
  readonly loaded: LoadedModel
  readonly sequence: LlamaContextSequence
  /** Time this task spent loading the model (or waiting for another task's load of it). */
  readonly loadMs: number
  release(): Promise<void>
}

/** A snapshot of a loaded model, for health and tests. */
export interface LoadedModelStatus {
  readonly name: string
  readonly bytes: number
  readonly activeTasks: number
  readonly contextSize: number
  /** Threads its context computes with at most. */
  readonly threads: number
}

/**
 * Models in memory: each is loaded once and shared by every task that uses it (one context, a
 * sequence per running task), within the engine's memory budget, which this pool shares with the
 * engine's other backends. A model that cannot fit even alone is refused with
 * `ERR_MODEL_TOO_LARGE`; to load one that fits, the budget has idle models unloaded, least
 * recently used first (this pool's through `relieve`), and if models in use hold the memory the
 * load waits until they are released. A model nobody used for `idleUnloadMs` is unloaded.
 */
export class ModelPool {
  readonly #runtime: LlamaRuntime
  readonly #options: PoolOptions
  readonly #loaded = new Map<string, LoadedModel>()
  /** Models replaced or removed while tasks still used them: disposed after their last task. */
  readonly #retiring = new Set<LoadedModel>()
  /** Loads in flight by model name. */
  readonly #loading = new Map<string, Promise<LoadedModel>>()
  #closed = false

  constructor(runtime: LlamaRuntime, options: PoolOptions) {
    this.#runtime = runtime
    this.#options = options
    options.memory.onPressure((bytes) => this.#relieve(bytes))
  }

  isLoaded(name: string): boolean {
    return this.#loaded.has(name)
  }

  status(): LoadedModelStatus[] {
    return [...this.#loaded.values()].map((m) => ({
      name: m.name,
      bytes: m.bytes,
      activeTasks: m.active,
      contextSize: m.context.contextSize,
      threads: m.threads,
    }))
  }

  /**
   * Models whose context computes with fewer threads than a model loaded now would get: retired
   * (idle ones now, busy ones after their tasks), so the next task loads them with more.
   */
  refreshThreads(): void {
    const threads = this.#options.threads()
    for (const m of [...this.#loaded.values()]) if (m.threads < threads) this.#retire(m)
  }

  /** Unloads idle models, the one being replaced and then the least recently used first, until `bytes` are freed. */
  async #relieve(bytes: number): Promise<number> {
    let freed = 0
    const idle = [...this.#loaded.values()]
      .filter((m) => m.active === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed)
    for (const m of idle) {
      if (freed >= bytes) break
      freed += m.bytes
      await this.#unload(m)
    }
    return freed
  }

  /**
   * A sequence of `model`'s context for one task, loading the model first if needed. Aborting
   * `signal` gives up the wait (a load other tasks share goes on).
   */
  async acquire(model: ResolvedGgufModel, signal?: AbortSignal): Promise<Lease> {
    const started = performance.now()
    let loaded = this.#loaded.get(model.name)
    if (loaded === undefined || loaded.sha256 !== model.sha256) {
      loaded = await raceSignal(this.#load(model), signal)
    }
    const loadMs = performance.now() - started
    loaded.active++
    clearTimeout(loaded.idleTimer)
    loaded.idleTimer = undefined
    try {
      while (loaded.context.sequencesLeft === 0) {
        const target = loaded
        await raceSignal(new Promise<void>((resolve) => target.sequenceWaiters.push(resolve)), signal)
      }
    } catch (err) {
      this.#released(loaded)
      throw err
    }
    const sequence = loaded.context.getSequence()
    const held = loaded
    let released = false
    return {
      loaded: held,
      sequence,
      loadMs,
      release: async () => {
        if (released) return
        released = true
        await sequence.dispose()
        this.#released(held)
      },
    }
  }

  #released(loaded: LoadedModel): void {
    loaded.active--
    loaded.lastUsed = performance.now()
    // Every waiter checks again: one may have given up, and must not swallow the wake-up.
    for (const wake of loaded.sequenceWaiters.splice(0)) wake()
    if (loaded.active > 0) return
    if (this.#retiring.delete(loaded)) {
      void dispose(loaded)
      return
    }
    if (this.#options.idleUnloadMs > 0) {
      loaded.idleTimer = setTimeout(() => {
        if (loaded.active === 0) void this.#unload(loaded)
      }, this.#options.idleUnloadMs)
      loaded.idleTimer.unref()
    }
  }

  /** Loads `model`, or joins the load of it already in flight. */
  #load(model: ResolvedGgufModel): Promise<LoadedModel> {
    const inFlight = this.#loading.get(model.name)
    if (inFlight !== undefined) return inFlight
    const promise = this.#loadNow(model).finally(() => {
      this.#loading.delete(model.name)
    })
    this.#loading.set(model.name, promise)
    return promise
  }

  async #loadNow(model: ResolvedGgufModel): Promise<LoadedModel> {
    const { llama, lib } = this.#runtime
    const options = this.#options
    const contextSize = Math.max(
      16,
      Math.min(
        model.entry.contextSize ?? options.contextSize,
        model.description.contextLength || Number.MAX_SAFE_INTEGER,
      ),
    )
    const batchSize = Math.min(options.batchSize, contextSize)
    const insights = await lib.GgufInsights.from(model.fileInfo, llama)
    const weights = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 })
    const kv = await insights.estimateContextResourceRequirementsV2({
      contextSize,
      modelGpuLayers: 0,
      batchSize,
      sequences: options.sequences,
    })
    const bytes = weights.cpuRam + kv.cpuRam
    // The model being replaced (same name, another file) goes first: it is about to be dropped.
    const stale = this.#loaded.get(model.name)
    if (stale !== undefined && stale.active === 0) await this.#unload(stale)
    const reservation = await options.memory.reserve(bytes, {
      what: `model ${model.name} with a context of ${contextSize} tokens × ${options.sequences} sequence(s)`,
    })
    try {
      return await this.#create(model, contextSize, batchSize, bytes, reservation)
    } catch (err) {
      reservation.release()
      throw err
    }
  }

  async #create(
    model: ResolvedGgufModel,
    contextSize: number,
    batchSize: number,
    bytes: number,
    reservation: MemoryReservation,
  ): Promise<LoadedModel> {
    const { llama, lib } = this.#runtime
    const options = this.#options
    const threads = options.threads()
    this.#runtime.clearLog()
    let llamaModel: LlamaModel
    try {
      llamaModel = await llama.loadModel({ modelPath: model.file, gpuLayers: 0 })
    } catch (err) {
      throw loadError(model, err, await this.#runtime.failureLog(), bytes, lib)
    }
    let context: LlamaContext
    try {
      context = await llamaModel.createContext({
        contextSize,
        batchSize,
        sequences: options.sequences,
        threads,
      })
    } catch (err) {
      await llamaModel.dispose()
      throw loadError(model, err, await this.#runtime.failureLog(), bytes, lib)
    }
    const stale = this.#loaded.get(model.name)
    if (stale !== undefined) this.#retire(stale)
    const loaded: LoadedModel = {
      name: model.name,
      sha256: model.sha256,
      model: llamaModel,
      context,
      bytes,
      reservation,
      threads: context.idealThreads,
      prefillSlice: Math.max(
        Math.min(PREFILL_MIN_SLICE, batchSize),
        Math.min(batchSize, Math.floor(PREFILL_SLICE_WORK / Math.max(1, model.description.parameters))),
      ),
      active: 0,
      lastUsed: performance.now(),
      idleTimer: undefined,
      sequenceWaiters: [],
      chatWrapper: undefined,
    }
    if (this.#closed) {
      await dispose(loaded)
      throw new EngineStoppedError(`model ${model.name} was not kept: the backend is unloading`)
    }
    this.#loaded.set(model.name, loaded)
    return loaded
  }

  async #unload(loaded: LoadedModel): Promise<void> {
    if (this.#loaded.get(loaded.name) !== loaded) return
    this.#loaded.delete(loaded.name)
    clearTimeout(loaded.idleTimer)
    await dispose(loaded)
  }

  /**
   * Takes a model out of service: new tasks load it afresh; it is disposed now if idle, else after
   * its last running task.
   */
  #retire(loaded: LoadedModel): void {
    if (this.#loaded.get(loaded.name) !== loaded) return
    if (loaded.active === 0) {
      void this.#unload(loaded)
      return
    }
    this.#loaded.delete(loaded.name)
    clearTimeout(loaded.idleTimer)
    this.#retiring.add(loaded)
  }

  /** Stops serving `name` (removed or replaced): unloaded now if idle, else after its running tasks. */
  evict(name: string): void {
    const loaded = this.#loaded.get(name)
    if (loaded !== undefined) this.#retire(loaded)
  }

  /** Unloads every model; loads in flight are disposed as they finish. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.allSettled([...this.#loading.values()])
    await Promise.all([...this.#loaded.values()].map((m) => this.#unload(m)))
    const retiring = [...this.#retiring]
    this.#retiring.clear()
    await Promise.all(retiring.map(dispose))
  }
}

/**
 * Frees a model's context and weights, and gives their memory back to the budget. Never rejects:
 * it runs from timers, with no caller to tell.
 */
async function dispose(loaded: LoadedModel): Promise<void> {
  await loaded.context.dispose().catch(() => {})
  await loaded.model.dispose().catch(() => {})
  loaded.reservation.release()
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** A coded error for a failed load, with llama.cpp's own explanation when it logged one. */
function loadError(
  model: ResolvedGgufModel,
  err: unknown,
  logged: readonly string[],
  bytes: number,
  lib: LlamaRuntime['lib'],
): Error {
  const why = logged.length > 0 ? logged.join('; ') : (err as Error).message
  if (err instanceof lib.InsufficientMemoryError) {
    return new ModelTooLargeError(
      `model ${model.name} needs about ${mib(bytes)} and this machine has not that much memory free: ${why}; ` +
        'free memory, lower contextSize or use a smaller quantization',
      bytes,
      freemem(),
    )
  }
  return new ModelCorruptError(`llama.cpp could not load model ${model.name} (${model.file}): ${why}`, {
    cause: err,
  })
}
