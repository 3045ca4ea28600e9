import type { BackendSettings } from '../backend.js'
import { InvalidConfigError } from '../errors.js'

/**
 * How much of the machine the engine's tasks may use, changeable while it runs
 * (`engine.setLimits`). A contributor's node sets them from its CPU and memory limits.
 */
export interface EngineLimits {
  /**
   * Tasks started at once at most, at most the engine's `concurrency` (a larger value counts as
   * that); what `capabilities()` and `load()` report as the concurrency.
   */
  readonly slots: number
  /**
   * CPU cores the running tasks may use together, spread over the backends as thread counts: a
   * backend that runs `n` tasks at once gets `cores / n` threads per task (at least 1).
   * `undefined`: each backend uses its own default.
   */
  readonly cores: number | undefined
  /**
   * While true, no queued task starts; running ones go on. For a duty cycle that keeps the
   * average CPU within a limit, or while memory is short. Not announced: it comes and goes.
   */
  readonly hold: boolean
  /** Bytes the loaded models of all backends may take together (`Infinity`: no limit). */
  readonly memoryBytes: number
}

/** A change of limits: the fields given change, the others keep their value. */
export interface EngineLimitsUpdate {
  readonly slots?: number
  /** `undefined` gives the choice back to the backends. */
  readonly cores?: number | undefined
  readonly hold?: boolean
  readonly memoryBytes?: number
}

/** The limits in force, and what follows from them. */
export class Limits {
  readonly #concurrency: number
  slots: number
  cores: number | undefined
  hold = false

  constructor(concurrency: number) {
    this.#concurrency = concurrency
    this.slots = concurrency
    this.cores = undefined
  }

  /** Tasks that may hold a slot right now. */
  get startable(): number {
    return this.hold ? 0 : this.slots
  }

  /**
   * Applies `update` (validated first, nothing changed on a bad one). Returns whether the thread
   * counts may have changed.
   */
  apply(update: EngineLimitsUpdate): boolean {
    const slots = update.slots ?? this.slots
    if (!Number.isSafeInteger(slots) || slots < 1) {
      throw new InvalidConfigError(`slots must be a positive integer, got ${String(update.slots)}`)
    }
    const cores = 'cores' in update ? update.cores : this.cores
    if (cores !== undefined && !(Number.isFinite(cores) && cores > 0)) {
      throw new InvalidConfigError(`cores must be a positive number, got ${String(cores)}`)
    }
    if (update.hold !== undefined && typeof update.hold !== 'boolean') {
      throw new InvalidConfigError(`hold must be a boolean, got ${String(update.hold)}`)
    }
    const threadsChanged = Math.min(slots, this.#concurrency) !== this.slots || cores !== this.cores
    this.slots = Math.min(slots, this.#concurrency)
    this.cores = cores
    if (update.hold !== undefined) this.hold = update.hold
    return threadsChanged
  }

  /** The settings of a backend that runs at most `capacity` tasks at once. */
  settingsFor(capacity: number): BackendSettings {
    if (this.cores === undefined) return {}
    return { threads: Math.max(1, Math.floor(this.cores / Math.max(1, Math.min(this.slots, capacity)))) }
  }
}
