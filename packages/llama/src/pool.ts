import { EngineStoppedError, ModelCorruptError, raceSignal } from '@p2p-ai/engine'
import type { ChatWrapper, LlamaContext, LlamaContextSequence, LlamaModel } from 'node-llama-cpp'
import { PREFILL_MIN_SLICE, PREFILL_SLICE_WORK } from './constants.js'
import { ModelTooLargeError } from './errors.js'
import type { ResolvedGgufModel } from './models.js'
import type { LlamaRuntime } from './runtime.js'

/** How the pool loads models and shares memory among them. */
export interface PoolOptions {
  /** Sequences of each model's context: the backend's concurrency. */
  readonly sequences: number
  readonly contextSize: number
  readonly batchSize: number
  readonly threads: number
  readonly memoryBudgetBytes: number
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
}

/**
 * Models in memory: each is loaded once and shared by every task that uses it (one context, a
 * sequence per running task), within a memory budget. A model that cannot fit even alone is
 * refused with `ERR_MODEL_TOO_LARGE`; to load one that fits, idle models are unloaded least
 * recently used first, and if busy models hold the memory the load waits until they are released.
 * A model nobody used for `idleUnloadMs` is unloaded.
 */
export class ModelPool {
  readonly #runtime: LlamaRuntime
  readonly #options: PoolOptions
  readonly #loaded = new Map<string, LoadedModel>()
  /** Models replaced or removed while tasks still used them: disposed after their last task. */
  readonly #retiring = new Set<LoadedModel>()
  /** Loads in flight by model name, with the bytes they reserved. */
  readonly #loading = new Map<string, { promise: Promise<LoadedModel>; bytes: number }>()
  /** Loads waiting for memory to be released. */
  readonly #memoryWaiters: Array<() => void> = []
  #closed = false

  constructor(runtime: LlamaRuntime, options: PoolOptions) {
    this.#runtime = runtime
    this.#options = options
  }

  /** Bytes the loaded and loading models take by llama.cpp's estimates. */
  get usedBytes(): number {
    let used = 0
    for (const m of this.#loaded.values()) used += m.bytes
    for (const m of this.#retiring) used += m.bytes
    for (const l of this.#loading.values()) used += l.bytes
    return used
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
    }))
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
      void dispose(loaded).then(() => this.#wakeMemoryWaiters())
      return
    }
    this.#wakeMemoryWaiters()
    if (this.#options.idleUnloadMs > 0) {
      loaded.idleTimer = setTimeout(() => {
        if (loaded.active === 0) void this.#unload(loaded)
      }, this.#options.idleUnloadMs)
      loaded.idleTimer.unref()
    }
  }

  #wakeMemoryWaiters(): void {
    for (const wake of this.#memoryWaiters.splice(0)) wake()
  }

  /** Loads `model`, or joins the load of it already in flight. */
  #load(model: ResolvedGgufModel): Promise<LoadedModel> {
    const inFlight = this.#loading.get(model.name)
    if (inFlight !== undefined) return inFlight.promise
    const reservation = { bytes: 0 }
    const promise = this.#loadNow(model, reservation).finally(() => {
      this.#loading.delete(model.name)
      this.#wakeMemoryWaiters()
    })
    this.#loading.set(model.name, {
      promise,
      get bytes() {
        return reservation.bytes
      },
    })
    return promise
  }

  async #loadNow(model: ResolvedGgufModel, reservation: { bytes: number }): Promise<LoadedModel> {
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
    const budget = options.memoryBudgetBytes
    if (bytes > budget) {
      throw new ModelTooLargeError(
        `model ${model.name} needs about ${mib(bytes)} with a context of ${contextSize} tokens × ${options.sequences} ` +
          `sequence(s), more than the memory budget of ${mib(budget)}: raise memoryBudgetBytes, lower contextSize ` +
          'or concurrency, or use a smaller quantization of the model',
        bytes,
        budget,
      )
    }
    // Make room: unload idle models, least recently used first; wait for busy ones to be released.
    const stale = this.#loaded.get(model.name)
    while (this.usedBytes + bytes > budget) {
      const idle = [...this.#loaded.values()]
        .filter((m) => m.active === 0)
        .sort((a, b) => (a === stale ? -1 : b === stale ? 1 : a.lastUsed - b.lastUsed))[0]
      if (idle !== undefined) {
        await this.#unload(idle)
        continue
      }
      await new Promise<void>((resolve) => this.#memoryWaiters.push(resolve))
      if (this.#closed)
        throw new EngineStoppedError(`model ${model.name} was not loaded: the backend is unloading`)
    }
    reservation.bytes = bytes
    this.#runtime.clearLog()
    let llamaModel: LlamaModel
    try {
      llamaModel = await llama.loadModel({ modelPath: model.file, gpuLayers: 0 })
    } catch (err) {
      throw loadError(model, err, await this.#runtime.failureLog(), bytes, budget, lib)
    }
    let context: LlamaContext
    try {
      context = await llamaModel.createContext({
        contextSize,
        batchSize,
        sequences: options.sequences,
        threads: options.threads,
      })
    } catch (err) {
      await llamaModel.dispose()
      throw loadError(model, err, await this.#runtime.failureLog(), bytes, budget, lib)
    }
    if (stale !== undefined) this.#retire(stale)
    const loaded: LoadedModel = {
      name: model.name,
      sha256: model.sha256,
      model: llamaModel,
      context,
      bytes,
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
    this.#wakeMemoryWaiters()
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
    this.#wakeMemoryWaiters()
    await Promise.allSettled([...this.#loading.values()].map((l) => l.promise))
    await Promise.all([...this.#loaded.values()].map((m) => this.#unload(m)))
    const retiring = [...this.#retiring]
    this.#retiring.clear()
    await Promise.all(retiring.map(dispose))
  }
}

/** Frees a model's context and weights. Never rejects: it runs from timers, with no caller to tell. */
async function dispose(loaded: LoadedModel): Promise<void> {
  await loaded.context.dispose().catch(() => {})
  await loaded.model.dispose().catch(() => {})
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
  budget: number,
  lib: LlamaRuntime['lib'],
): Error {
  const why = logged.length > 0 ? logged.join('; ') : (err as Error).message
  if (err instanceof lib.InsufficientMemoryError) {
    return new ModelTooLargeError(
      `model ${model.name} needs about ${mib(bytes)} and this machine has not that much memory free: ${why}; ` +
        'free memory, lower contextSize or use a smaller quantization',
      bytes,
      budget,
    )
  }
  return new ModelCorruptError(`llama.cpp could not load model ${model.name} (${model.file}): ${why}`, {
    cause: err,
  })
}
