/**
 * The engine's memory budget: one ledger of what every backend has loaded (models, their
 * contexts), in-process and in worker threads alike, under one limit.
 *
 * A backend reserves an estimate before it loads something and gives it back when it unloads it.
 * A reservation that does not fit makes room first: the reserving backend, then every other one,
 * is asked to unload idle models (its `onPressure` handler, least recently used first); only when
 * nothing idle is left does it wait for models in use to be released. Something larger than the
 * whole budget is refused at once with `ModelTooLargeError` (`ERR_MODEL_TOO_LARGE`), so a provider
 * never thrashes on a model it cannot hold and the requester tries another provider.
 */
import { MEMORY_PRESSURE_TIMEOUT_MS, MEMORY_RETRY_MS } from '../constants.js'
import { InvalidConfigError, ModelTooLargeError } from '../errors.js'

/** A claim on the budget; `release()` gives it back (once; later calls do nothing). */
export interface MemoryReservation {
  readonly bytes: number
  release(): void
}

/** Per-call options of `reserve`. */
export interface ReserveOptions {
  /** What the bytes are for, in messages: `model all-minilm-l6-v2`. @default 'the model' */
  readonly what?: string
  /** Gives up waiting for room (rejects with the signal's reason). */
  readonly signal?: AbortSignal
}

/**
 * Asked to free idle memory worth `bytes` (more is fine, less when that is all that is idle):
 * unloads idle models, least recently used first, releasing their reservations, and resolves
 * with the bytes freed.
 */
export type PressureHandler = (bytes: number) => number | Promise<number>

/** What a backend sees of the engine's memory budget (`Backend.load`'s `memory`). */
export interface MemoryAccount {
  /**
   * Reserves `bytes` for something about to be loaded; resolves once they fit (see the module
   * comment). Rejects with `ModelTooLargeError` when `bytes` exceed the whole budget.
   */
  reserve(bytes: number, options?: ReserveOptions): Promise<MemoryReservation>
  /** How this backend frees idle memory when another load needs room. */
  onPressure(handler: PressureHandler): void
}

/** One backend's (or one worker thread's) share of the budget. */
export interface MemoryHolderUsage {
  readonly holder: string
  readonly bytes: number
  readonly reservations: number
}

/** The budget and what holds it. */
export interface MemoryUsage {
  /** `Infinity` when unlimited. */
  readonly limitBytes: number
  readonly usedBytes: number
  readonly holders: readonly MemoryHolderUsage[]
}

interface Holder {
  readonly name: string
  handler: PressureHandler | undefined
  readonly reservations: Set<Reservation>
}

interface Reservation extends MemoryReservation {
  released: boolean
}

/** A holder's account; `close()` releases whatever it still holds (its worker is gone). */
export interface HolderAccount extends MemoryAccount {
  close(): void
}

const MIB = 1024 * 1024

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`
}

/** The engine's memory budget. */
export class MemoryBudget {
  #limit: number
  #used = 0
  readonly #holders = new Map<string, Holder>()
  readonly #waiters = new Set<() => void>()

  /** @param limitBytes `Infinity` for no limit. */
  constructor(limitBytes: number) {
    this.#limit = checkLimit(limitBytes)
  }

  get limitBytes(): number {
    return this.#limit
  }

  get usedBytes(): number {
    return this.#used
  }

  /**
   * Changes the limit. Lowered below what is held, idle models are unloaded until it fits (models
   * in use stay until released); raised, waiting loads go ahead.
   */
  setLimit(limitBytes: number): void {
    this.#limit = checkLimit(limitBytes)
    this.#wake()
    if (this.#used > this.#limit) void this.#relieve(undefined, this.#used - this.#limit)
  }

  usage(): MemoryUsage {
    return {
      limitBytes: this.#limit,
      usedBytes: this.#used,
      holders: [...this.#holders.values()]
        .map((h) => ({
          holder: h.name,
          bytes: [...h.reservations].reduce((sum, r) => sum + r.bytes, 0),
          reservations: h.reservations.size,
        }))
        .filter((h) => h.reservations > 0),
    }
  }

  /** The account of one holder (a backend, or one worker thread of it), created on first use. */
  account(name: string): HolderAccount {
    let holder = this.#holders.get(name)
    if (holder === undefined) {
      holder = { name, handler: undefined, reservations: new Set() }
      this.#holders.set(name, holder)
    }
    const h = holder
    return {
      reserve: (bytes, options = {}) => this.#reserve(h, bytes, options),
      onPressure: (handler) => {
        h.handler = handler
      },
      close: () => {
        for (const r of [...h.reservations]) r.release()
        if (this.#holders.get(name) === h) this.#holders.delete(name)
      },
    }
  }

  async #reserve(holder: Holder, bytes: number, options: ReserveOptions): Promise<MemoryReservation> {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new RangeError(`a memory reservation is a finite number of bytes ≥ 0, got ${bytes}`)
    }
    const what = options.what ?? 'the model'
    const { signal } = options
    for (;;) {
      signal?.throwIfAborted()
      if (bytes > this.#limit) {
        throw new ModelTooLargeError(
          `${what} needs about ${mib(bytes)}, more than the memory budget of ${mib(this.#limit)}: ` +
            'raise the memory limit, or use a smaller model',
          bytes,
          this.#limit,
        )
      }
      if (this.#used + bytes <= this.#limit) return this.#grant(holder, bytes)
      await this.#relieve(holder, this.#used + bytes - this.#limit)
      if (this.#used + bytes <= this.#limit) continue
      // Nothing idle is left: what holds the memory is in use. Wait for a release or a new limit;
      // and ask again now and then, since a model in use becomes idle without releasing anything.
      await this.#changed(signal, MEMORY_RETRY_MS)
    }
  }

  #grant(holder: Holder, bytes: number): MemoryReservation {
    this.#used += bytes
    const reservation: Reservation = {
      bytes,
      released: false,
      release: () => {
        if (reservation.released) return
        reservation.released = true
        holder.reservations.delete(reservation)
        this.#used -= bytes
        this.#wake()
      },
    }
    holder.reservations.add(reservation)
    return reservation
  }

  /** Asks holders to free idle memory worth `need`: `first` (the one that needs it), then the others. */
  async #relieve(first: Holder | undefined, need: number): Promise<void> {
    const order = [
      ...(first === undefined ? [] : [first]),
      ...[...this.#holders.values()].filter((h) => h !== first),
    ]
    const target = this.#used - need
    for (const holder of order) {
      const still = this.#used - target
      if (still <= 0) return
      if (holder.handler === undefined || holder.reservations.size === 0) continue
      try {
        await withTimeout(Promise.resolve(holder.handler(still)), MEMORY_PRESSURE_TIMEOUT_MS)
      } catch {
        // A holder that fails or does not answer in time frees nothing this round.
      }
    }
  }

  #changed(signal: AbortSignal | undefined, ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(wake)
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        done()
        reject(signal?.reason)
      }
      const wake = (): void => {
        done()
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#waiters.add(wake)
      if (signal?.aborted === true) onAbort()
      else signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  #wake(): void {
    const waiters = [...this.#waiters]
    this.#waiters.clear()
    for (const wake of waiters) wake()
  }
}

/** Creates a memory budget; `Infinity` (the default) for none. */
export function memoryBudget(limitBytes = Number.POSITIVE_INFINITY): MemoryBudget {
  return new MemoryBudget(limitBytes)
}

function checkLimit(bytes: number): number {
  if (bytes === Number.POSITIVE_INFINITY) return bytes
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new InvalidConfigError(
      `memoryLimitBytes must be a positive integer or Infinity, got ${String(bytes)}`,
    )
  }
  return bytes
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}
