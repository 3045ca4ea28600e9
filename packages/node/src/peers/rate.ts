/**
 * How many messages each peer may send: a token bucket per peer, `burst` tokens refilled at
 * `perSecond`. The provider's admission (requests and cancels) and the announce protocol each keep
 * one. Peers whose bucket refilled are forgotten now and then: a new one starts full anyway.
 */

export interface PeerRateInit {
  perSecond: number
  burst: number
  /** @default performance.now */
  now?: () => number
}

interface Bucket {
  tokens: number
  /** When `tokens` was last refilled. */
  at: number
}

/** Buckets left behind by this many peers before a sweep of the full ones. */
const SWEEP_ABOVE = 256

export class PeerRate {
  #perSecond: number
  #burst: number
  readonly #now: () => number
  readonly #buckets = new Map<string, Bucket>()
  #sweepAt = SWEEP_ABOVE

  constructor(init: PeerRateInit) {
    this.#perSecond = init.perSecond
    this.#burst = init.burst
    this.#now = init.now ?? (() => performance.now())
  }

  /** New rate and burst (a config reload); buckets keep their tokens, up to the new burst. */
  configure(perSecond: number, burst: number): void {
    this.#perSecond = perSecond
    this.#burst = burst
  }

  /**
   * One message from `peer`: 0 when it may go on (a token is spent), else the milliseconds until
   * the peer has a token again (nothing is spent).
   */
  take(peer: string): number {
    const now = this.#now()
    let bucket = this.#buckets.get(peer)
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#sweepAt) this.#sweep(now)
      bucket = { tokens: this.#burst, at: now }
      this.#buckets.set(peer, bucket)
    }
    bucket.tokens = this.#refilled(bucket, now)
    bucket.at = now
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return ((1 - bucket.tokens) / this.#perSecond) * 1000
  }

  #refilled(bucket: Bucket, now: number): number {
    return Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond)
  }

  #sweep(now: number): void {
    for (const [peer, bucket] of this.#buckets) {
      if (this.#refilled(bucket, now) >= this.#burst) this.#buckets.delete(peer)
    }
    this.#sweepAt = Math.max(SWEEP_ABOVE, 2 * this.#buckets.size)
  }
}
