/**
 * Remembers which (sender, nonce) pairs were accepted, in bounded memory, without ever letting
 * a replay through.
 *
 * Entries live in insertion order. An entry may leave the cache for two reasons: its timestamp
 * fell out of the skew window (a replay would be stale anyway), or the cache is full and the
 * oldest entry is evicted. Either way the cache raises a watermark to that entry's timestamp and
 * refuses every later message stamped at or below it. Invariant: every accepted message is
 * either still in the cache or at or below the watermark, so a replay is always refused. Under
 * a flood the watermark climbs towards the present and only messages whose clocks lag behind
 * it are refused (as stale): safety never degrades, availability does, gracefully.
 */
import { DEFAULT_REPLAY_CACHE_MAX_ENTRIES } from './constants.js'
import { InvalidOptionError } from './errors.js'

export interface ReplayCacheInit {
  /**
   * Most (sender, nonce) pairs kept. Each costs about 200 bytes.
   *
   * @default 100_000
   */
  maxEntries?: number
}

/**
 * - `fresh`: first sighting, now recorded.
 * - `replayed`: this key was already accepted.
 * - `forgotten`: `ts` is at or below the watermark; the cache can no longer tell, so refuse.
 */
export type ReplayVerdict = 'fresh' | 'replayed' | 'forgotten'

export interface ReplayCache {
  /**
   * Checks and records `key` (the sender's PeerId and the nonce) for a message stamped `ts`.
   * Entries stamped before `now - windowMs` are dropped on the way.
   */
  check(key: string, ts: number, now: number, windowMs: number): ReplayVerdict
  /** Entries currently remembered. */
  readonly size: number
  /** Messages stamped at or below this (ms since epoch) are refused; `-Infinity` at first. */
  readonly watermark: number
}

/**
 * Creates a replay cache. Share one per node (or per verifier) across all connections: a replay
 * may arrive on a different connection than the original.
 *
 * @throws {InvalidOptionError} if `maxEntries` is not a positive integer.
 */
export function replayCache(init: ReplayCacheInit = {}): ReplayCache {
  const maxEntries = init.maxEntries ?? DEFAULT_REPLAY_CACHE_MAX_ENTRIES
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new InvalidOptionError(`maxEntries must be a positive integer, got ${String(maxEntries)}`)
  }
  return new BoundedReplayCache(maxEntries)
}

class BoundedReplayCache implements ReplayCache {
  readonly #maxEntries: number
  readonly #seen = new Map<string, number>()
  #watermark = Number.NEGATIVE_INFINITY

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  get size(): number {
    return this.#seen.size
  }

  get watermark(): number {
    return this.#watermark
  }

  check(key: string, ts: number, now: number, windowMs: number): ReplayVerdict {
    if (this.#seen.has(key)) {
      return 'replayed'
    }
    if (ts <= this.#watermark) {
      return 'forgotten'
    }
    // Insertion order approximates timestamp order, so expired entries gather at the front;
    // stopping at the first live one keeps each call O(1) amortised.
    const oldestLive = now - windowMs
    for (const [oldKey, oldTs] of this.#seen) {
      if (oldTs >= oldestLive) {
        break
      }
      this.#forget(oldKey, oldTs)
    }
    if (this.#seen.size >= this.#maxEntries) {
      const oldest = this.#seen.entries().next().value
      if (oldest !== undefined) {
        this.#forget(oldest[0], oldest[1])
      }
    }
    this.#seen.set(key, ts)
    return 'fresh'
  }

  #forget(key: string, ts: number): void {
    this.#seen.delete(key)
    if (ts > this.#watermark) {
      this.#watermark = ts
    }
  }
}
