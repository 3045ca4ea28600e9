import {
  type BackendSettings,
  type MemoryAccount,
  type MemoryReservation,
  ModelCorruptError,
  nativeCall,
} from '@p2p-ai/engine'
import {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_LOADED_BYTES,
  DEFAULT_MAX_LOADED_MODELS,
  MAP_WEIGHTS_MIN_BYTES,
  MAPPED_SESSION_MEMORY_FACTOR,
  SESSION_MEMORY_FACTOR,
} from '../constants.js'
import { InvalidOnnxOptionsError } from '../errors.js'
import type { OnnxModel } from '../models/format.js'
import { writeMappedCopy } from './external-data.js'
import { type InferenceSession, loadOrt } from './ort.js'

/** ONNX Runtime session options the backend exposes. Plain data. */
export interface OnnxSessionInit {
  /**
   * Threads one operator may use. ONNX Runtime's default (0) is one per physical core; on a
   * machine shared with other work, 1 or 2 keeps inference from starving the rest.
   * @default 0 (ONNX Runtime decides)
   */
  readonly intraOpNumThreads?: number
  /** Threads running independent operators in parallel (only with `executionMode: 'parallel'`). @default 0 */
  readonly interOpNumThreads?: number
  /** @default 'all' */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  /** @default 'sequential' */
  readonly executionMode?: 'sequential' | 'parallel'
  /**
   * ONNX Runtime's CPU memory arena: faster repeated runs, but it keeps its peak allocation.
   * @default true
   */
  readonly enableCpuMemArena?: boolean
  /**
   * Let ONNX Runtime keep a second, prepacked copy of MatMul weights for faster kernels. Off, a
   * loaded session takes less memory (see docs/benchmarks/inference.md) and runs may be slower;
   * loading peaks near 1.5× the model file either way.
   * @default true
   */
  readonly prepackWeights?: boolean
  /**
   * Load models of 16 MiB and more from a copy whose weights sit in an external data file, which
   * ONNX Runtime memory-maps instead of copying out of the parsed graph: loading peaks near 0.5×
   * the model size instead of ~1.5×, and a loaded session takes ~0.75× instead of ~1.35× (see
   * docs/benchmarks/inference.md). The copy goes to a private temporary directory and is deleted
   * as soon as the session is created (or when it is released, where the OS forbids that).
   * @default true
   */
  readonly mapWeights?: boolean
}

/** When loaded sessions are released. All limits are soft while a session is in use. */
export interface SessionCacheInit {
  /** Sessions kept loaded; the least recently used idle one is released first. @default 4 */
  readonly maxModels?: number
  /** Sum of loaded model file sizes, in bytes. A single larger model still loads. @default 2 GiB */
  readonly maxBytes?: number
  /** Release a session unused for this long, in milliseconds; 0 never does. @default 600000 */
  readonly idleTimeoutMs?: number
  readonly session?: OnnxSessionInit
}

/** A session borrowed from the cache; `release()` exactly once when the run is over. */
export interface SessionLease {
  readonly session: InferenceSession
  release(): void
}

/** What the cache holds right now. */
export interface LoadedModel {
  readonly name: string
  readonly sizeBytes: number
  /** Runs holding the session at the moment. */
  readonly inUse: number
  readonly lastUsedAt: number
  /** Whether the session was created from a copy with memory-mapped weights (`mapWeights`). */
  readonly mappedWeights: boolean
  /** ONNX Runtime's intra-op threads of the session (0: its default, one per core). */
  readonly threads: number
  /** What the session holds of the engine's memory budget (0 without one). */
  readonly reservedBytes: number
}

export interface SessionCache {
  acquire(model: OnnxModel, signal?: AbortSignal): Promise<SessionLease>
  loaded(): LoadedModel[]
  /**
   * Loads sessions within the engine's memory budget from now on: each reserves its estimated
   * size first, and idle sessions are released when the budget asks for room.
   */
  useMemory(memory: MemoryAccount): void
  /**
   * New thread counts: sessions created from now on use them; idle sessions created with others
   * are released (and created again on next use), those in use once their runs finish.
   */
  configure(settings: BackendSettings): void
  /** Releases every idle session (resolving once they are released) and the rest as soon as their runs finish. */
  clear(): Promise<void>
}

interface Loaded {
  readonly session: InferenceSession
  readonly mapped: boolean
  /** Deletes the mapped copy the session was created from, if it is still on disk. */
  readonly cleanup?: () => Promise<void>
  readonly reservation: MemoryReservation | undefined
}

interface Slot {
  readonly key: string
  readonly model: OnnxModel
  /** Intra-op threads it was created with. */
  readonly threads: number
  readonly loading: Promise<Loaded>
  loaded?: Loaded
  users: number
  lastUsedAt: number
  timer?: NodeJS.Timeout
  evicted: boolean
}

function checkCount(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) {
    throw new InvalidOnnxOptionsError(`${name} must be an integer >= ${min}, got ${value}`)
  }
}

/** Validates session options and cache limits; fails fast at construction. */
export function validateSessionCacheInit(init: SessionCacheInit): void {
  checkCount('maxModels', init.maxModels, 1)
  checkCount('maxBytes', init.maxBytes, 1)
  checkCount('idleTimeoutMs', init.idleTimeoutMs, 0)
  checkCount('session.intraOpNumThreads', init.session?.intraOpNumThreads, 0)
  checkCount('session.interOpNumThreads', init.session?.interOpNumThreads, 0)
  const level = init.session?.graphOptimizationLevel
  if (level !== undefined && !['disabled', 'basic', 'extended', 'all'].includes(level)) {
    throw new InvalidOnnxOptionsError(`session.graphOptimizationLevel ${JSON.stringify(level)} is not valid`)
  }
  for (const key of ['prepackWeights', 'mapWeights', 'enableCpuMemArena'] as const) {
    const value = init.session?.[key]
    if (value !== undefined && typeof value !== 'boolean') {
      throw new InvalidOnnxOptionsError(`session.${key} must be a boolean`)
    }
  }
  const mode = init.session?.executionMode
  if (mode !== undefined && mode !== 'sequential' && mode !== 'parallel') {
    throw new InvalidOnnxOptionsError(`session.executionMode ${JSON.stringify(mode)} is not valid`)
  }
}

/**
 * Loads ONNX Runtime sessions on demand and keeps them in LRU order, bounded by count and bytes,
 * releasing idle ones after a timeout. Concurrent requests for one model share one load; a
 * session in use is never released under a run.
 */
export function sessionCache(init: SessionCacheInit = {}): SessionCache {
  validateSessionCacheInit(init)
  const maxModels = init.maxModels ?? DEFAULT_MAX_LOADED_MODELS
  const maxBytes = init.maxBytes ?? DEFAULT_MAX_LOADED_BYTES
  const idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  // Map iteration order is insertion order: re-inserting on use keeps it least-recently-used first.
  const slots = new Map<string, Slot>()
  let memory: MemoryAccount | undefined
  /** Threads the engine allows one task (undefined: no limit). */
  let allowed: number | undefined

  /** Intra-op threads of a session created now: the configured count within the engine's limit. */
  const threads = (): number => {
    const configured = init.session?.intraOpNumThreads ?? 0
    if (allowed === undefined) return configured
    return configured === 0 ? allowed : Math.min(configured, allowed)
  }

  /** Releases sessions as they become idle; `clear()` waits for these. */
  const releasing = new Set<Promise<void>>()

  const dispose = (slot: Slot): void => {
    clearTimeout(slot.timer)
    // A failed load has nothing to release; a released session's errors have nowhere to go.
    const released = slot.loading
      .then(async (l) => {
        try {
          await nativeCall(() => l.session.release())
          await l.cleanup?.()
        } finally {
          l.reservation?.release()
        }
      })
      .catch(() => {})
      .finally(() => releasing.delete(released))
    releasing.add(released)
  }

  const evict = (slot: Slot): void => {
    if (slots.get(slot.key) === slot) slots.delete(slot.key)
    slot.evicted = true
    if (slot.users === 0) dispose(slot)
  }

  const enforceLimits = (): void => {
    let bytes = 0
    for (const s of slots.values()) bytes += s.model.sizeBytes
    let count = slots.size
    for (const s of [...slots.values()]) {
      if (count <= maxModels && bytes <= maxBytes) break
      if (s.users > 0) continue
      evict(s)
      count--
      bytes -= s.model.sizeBytes
    }
  }

  const create = async (model: OnnxModel, intraOp: number, signal?: AbortSignal): Promise<Loaded> => {
    const o = init.session ?? {}
    const mapped = o.mapWeights !== false && model.sizeBytes >= MAP_WEIGHTS_MIN_BYTES
    const factor = mapped ? MAPPED_SESSION_MEMORY_FACTOR : SESSION_MEMORY_FACTOR
    const reservation = await memory?.reserve(Math.ceil(model.sizeBytes * factor), {
      what: `model ${model.name}`,
      ...(signal === undefined ? {} : { signal }),
    })
    let copy: Awaited<ReturnType<typeof writeMappedCopy>> | undefined
    try {
      const ort = await loadOrt()
      // Within a thread limit, operators run one after another: parallel ones would multiply it.
      const interOp = allowed === undefined ? o.interOpNumThreads : 1
      const options: Parameters<typeof ort.InferenceSession.create>[1] = {
        graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
        executionMode: allowed === undefined ? (o.executionMode ?? 'sequential') : 'sequential',
        enableCpuMemArena: o.enableCpuMemArena ?? true,
        // ORT would also print every failure to stderr; they reach the caller as coded errors instead.
        logSeverityLevel: 4,
        ...(intraOp === 0 ? {} : { intraOpNumThreads: intraOp }),
        ...(interOp === undefined ? {} : { interOpNumThreads: interOp }),
        ...(o.prepackWeights === false ? { extra: { session: { disable_prepacking: '1' } } } : {}),
      }
      copy = mapped ? await writeMappedCopy(model.modelFile) : undefined
      const file = copy?.file ?? model.modelFile
      let session: InferenceSession
      try {
        session = await nativeCall(() => ort.InferenceSession.create(file, options))
      } catch (err) {
        throw new ModelCorruptError(
          `model ${model.name}: ONNX Runtime cannot load ${model.modelFile}: ${(err as Error).message}`,
          { cause: err },
        )
      }
      if (copy === undefined) return { session, mapped: false, reservation }
      try {
        // The weights are mapped now; on POSIX the files can go at once, leaving nothing behind.
        await copy.remove()
        return { session, mapped: true, reservation }
      } catch {
        return { session, mapped: true, cleanup: copy.remove, reservation }
      }
    } catch (err) {
      await copy?.remove().catch(() => {})
      reservation?.release()
      throw err
    }
  }

  /** Releases idle sessions, least recently used first, until `bytes` of the budget are free. */
  const relieve = async (bytes: number): Promise<number> => {
    let freed = 0
    const waits: Promise<void>[] = []
    for (const s of [...slots.values()]) {
      if (freed >= bytes) break
      if (s.users > 0 || s.loaded?.reservation === undefined) continue
      freed += s.loaded.reservation.bytes
      evict(s)
    }
    waits.push(...releasing)
    await Promise.all(waits)
    return freed
  }

  const lease = (slot: Slot, session: InferenceSession): SessionLease => {
    let released = false
    return {
      session,
      release() {
        if (released) return
        released = true
        slot.users--
        slot.lastUsedAt = Date.now()
        if (slot.users > 0) return
        if (slot.evicted) {
          dispose(slot)
          return
        }
        if (idleTimeoutMs > 0) {
          slot.timer = setTimeout(() => evict(slot), idleTimeoutMs)
          slot.timer.unref()
        }
        enforceLimits()
      },
    }
  }

  return {
    async acquire(model, signal) {
      const intraOp = threads()
      const key = `${model.modelFile}\0${model.sha256}\0${intraOp}`
      let slot = slots.get(key)
      if (slot === undefined) {
        slot = {
          key,
          model,
          threads: intraOp,
          loading: create(model, intraOp, signal),
          users: 0,
          lastUsedAt: Date.now(),
          evicted: false,
        }
        slots.set(key, slot)
      } else {
        slots.delete(key)
        slots.set(key, slot)
      }
      clearTimeout(slot.timer)
      slot.users++
      enforceLimits()
      let loaded: Loaded
      try {
        loaded = await slot.loading
      } catch (err) {
        slot.users--
        if (slots.get(key) === slot) slots.delete(key)
        throw err
      }
      slot.loaded = loaded
      return lease(slot, loaded.session)
    },

    loaded() {
      return [...slots.values()]
        .filter((s) => s.loaded !== undefined)
        .map((s) => ({
          name: s.model.name,
          sizeBytes: s.model.sizeBytes,
          inUse: s.users,
          lastUsedAt: s.lastUsedAt,
          mappedWeights: s.loaded?.mapped === true,
          threads: s.threads,
          reservedBytes: s.loaded?.reservation?.bytes ?? 0,
        }))
    },

    useMemory(account) {
      memory = account
      account.onPressure(relieve)
    },

    configure(settings) {
      allowed = settings.threads
      const now = threads()
      for (const s of [...slots.values()]) if (s.threads !== now) evict(s)
    },

    async clear() {
      const all = [...slots.values()]
      for (const s of all) evict(s)
      await Promise.allSettled(all.map((s) => s.loading))
      // Idle sessions are released by now; those still in use, when their runs finish.
      await Promise.all([...releasing])
    },
  }
}
