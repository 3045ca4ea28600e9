import type { Backend } from '../backend.js'
import {
  DEFAULT_CANCEL_GRACE_MS,
  DEFAULT_CONCURRENCY,
  DEFAULT_HISTORY_LIMIT,
  DEFAULT_HISTORY_MAX_BYTES,
  DEFAULT_MAX_QUEUE_LENGTH,
  DEFAULT_MAX_TASK_TIMEOUT_MS,
  DEFAULT_TASK_TIMEOUT_MS,
  defaultMemoryLimitBytes,
  MAX_CONCURRENCY,
} from '../constants.js'
import { InvalidConfigError } from '../errors.js'
import type { ResultStore } from '../store/store.js'

/** Construction options of `taskEngine`. All optional. */
export interface TaskEngineInit {
  /**
   * Tasks running at once, across all backends. Each worker-hosted backend gets a pool of at most
   * this many threads.
   *
   * @default 4
   */
  readonly concurrency?: number
  /**
   * Tasks waiting to start; a submission beyond this fails with `ERR_QUEUE_FULL`.
   *
   * @default 1000
   */
  readonly maxQueueLength?: number
  /**
   * Default execution time limit of a task, in milliseconds; a request may ask for another.
   *
   * @default 30_000
   */
  readonly timeoutMs?: number
  /**
   * Largest `timeoutMs` a request may ask for, in milliseconds.
   *
   * @default 600_000
   */
  readonly maxTimeoutMs?: number
  /**
   * How long a cancelled or timed-out task's backend may take to stop before its slot is taken
   * back (its worker terminated), in milliseconds. Keeps cancellation cleanup under 2 s.
   *
   * @default 1000
   */
  readonly cancelGraceMs?: number
  /** Backends registered at construction, with their default placement. @default [] */
  readonly backends?: readonly Backend[]
  /**
   * Register the built-in `text` backend (task type `chunk`), unless a backend given here already
   * serves `chunk` or is named `text`.
   *
   * @default true
   */
  readonly builtins?: boolean
  /**
   * Run backends that can be hosted in worker threads (`backend.worker`) there. `false` runs every
   * backend in-process, which is only sensible for tests and tiny tasks.
   *
   * @default true
   */
  readonly workers?: boolean
  /**
   * Where finished task records go. The engine takes ownership: `stop()` closes it. Without a
   * store, the last `historyLimit` finished records are kept in memory only.
   */
  readonly store?: ResultStore
  /**
   * Finished records kept in memory when there is no store (or when writing to it fails).
   *
   * @default 1000
   */
  readonly historyLimit?: number
  /**
   * Most bytes of output (estimated) kept in that in-memory history; the oldest records go first.
   *
   * @default 67_108_864 (64 MiB)
   */
  readonly historyMaxBytes?: number
  /**
   * Bytes the models loaded by all backends (with their contexts) may take together, by the
   * backends' estimates: a model that does not fit even alone is refused with
   * `ERR_MODEL_TOO_LARGE`, and idle models are unloaded to make room for another. `Infinity` for
   * no limit. Changeable later with `setLimits({ memoryBytes })`.
   *
   * @default half the machine's RAM
   */
  readonly memoryLimitBytes?: number
  /** Clock for task timestamps, for tests. @default Date.now */
  readonly now?: () => number
}

/** The init with defaults applied and every value checked. */
export interface Config {
  readonly concurrency: number
  readonly maxQueueLength: number
  readonly timeoutMs: number
  readonly maxTimeoutMs: number
  readonly cancelGraceMs: number
  readonly builtins: boolean
  readonly workers: boolean
  readonly historyLimit: number
  readonly historyMaxBytes: number
  readonly memoryLimitBytes: number
  readonly now: () => number
}

export function configure(init: TaskEngineInit): Config {
  const config: Config = {
    concurrency: init.concurrency ?? DEFAULT_CONCURRENCY,
    maxQueueLength: init.maxQueueLength ?? DEFAULT_MAX_QUEUE_LENGTH,
    timeoutMs: init.timeoutMs ?? DEFAULT_TASK_TIMEOUT_MS,
    maxTimeoutMs: init.maxTimeoutMs ?? Math.max(DEFAULT_MAX_TASK_TIMEOUT_MS, init.timeoutMs ?? 0),
    cancelGraceMs: init.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS,
    builtins: init.builtins ?? true,
    workers: init.workers ?? true,
    historyLimit: init.historyLimit ?? DEFAULT_HISTORY_LIMIT,
    historyMaxBytes: init.historyMaxBytes ?? DEFAULT_HISTORY_MAX_BYTES,
    memoryLimitBytes: init.memoryLimitBytes ?? defaultMemoryLimitBytes(),
    now: init.now ?? Date.now,
  }
  integer('concurrency', config.concurrency, 1, MAX_CONCURRENCY)
  integer('maxQueueLength', config.maxQueueLength, 1, Number.MAX_SAFE_INTEGER)
  integer('maxTimeoutMs', config.maxTimeoutMs, 1, 2 ** 31 - 1)
  integer('timeoutMs', config.timeoutMs, 1, config.maxTimeoutMs)
  integer('cancelGraceMs', config.cancelGraceMs, 0, 60_000)
  integer('historyLimit', config.historyLimit, 0, Number.MAX_SAFE_INTEGER)
  integer('historyMaxBytes', config.historyMaxBytes, 0, Number.MAX_SAFE_INTEGER)
  if (
    config.memoryLimitBytes !== Number.POSITIVE_INFINITY &&
    !(Number.isSafeInteger(config.memoryLimitBytes) && config.memoryLimitBytes >= 1)
  ) {
    throw new InvalidConfigError(
      `memoryLimitBytes must be a positive integer or Infinity, got ${String(config.memoryLimitBytes)}`,
    )
  }
  if (typeof config.now !== 'function') throw new InvalidConfigError('now must be a function')
  if (init.backends !== undefined && !Array.isArray(init.backends)) {
    throw new InvalidConfigError('backends must be an array')
  }
  return config
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`)
  }
}
