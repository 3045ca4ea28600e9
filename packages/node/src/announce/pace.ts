/**
 * How many announcements a peer may send this node: a token bucket per peer
 * (`ANNOUNCE_RATE_PER_SECOND`, `ANNOUNCE_BURST`), taken before the announcement's signature is
 * verified. Far above what a sender that follows the protocol sends; only a flood meets it.
 */
import { ANNOUNCE_BURST, ANNOUNCE_RATE_PER_SECOND } from './constants.js'

export interface AnnouncePaceInit {
  /** @default ANNOUNCE_RATE_PER_SECOND (2) */
  perSecond?: number
  /** @default ANNOUNCE_BURST (20) */
  burst?: number
  /** @default performance.now */
  now?: () => number
}

/** Buckets left behind by this many peers before a sweep of the full ones. */
const SWEEP_ABOVE = 256

export class AnnouncePace {
  readonly #perSecond: number
  readonly #burst: number
  readonly #now: () => number
  readonly #buckets = new Map<string, { tokens: number; at: number }>()
  #sweepAt = SWEEP_ABOVE

  constructor(init: AnnouncePaceInit = {}) {
    this.#perSecond = init.perSecond ?? ANNOUNCE_RATE_PER_SECOND
    this.#burst = init.burst ?? ANNOUNCE_BURST
    this.#now = init.now ?? (() => performance.now())
  }

  /** An announcement arrived from `peer`: whether it may be read (spends one token). */
  take(peer: string): boolean {
    const now = this.#now()
    let bucket = this.#buckets.get(peer)
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#sweepAt) this.#sweep(now)
      bucket = { tokens: this.#burst, at: now }
      this.#buckets.set(peer, bucket)
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond)
    bucket.at = now
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  /** Forgets peers whose bucket refilled: a new one starts full anyway. */
  #sweep(now: number): void {
    for (const [peer, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond >= this.#burst) {
        this.#buckets.delete(peer)
      }
    }
    this.#sweepAt = Math.max(SWEEP_ABOVE, 2 * this.#buckets.size)
  }
}
