/**
 * A seeded pseudo-random generator (mulberry32): the same seed gives the same fault schedule and
 * the same workload, so a failing run can be replayed. Not for anything secret.
 */
export class Random {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** An integer in the range [min, max] of a pair. */
  within(range: readonly [number, number]): number {
    return this.int(range[0], range[1])
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[Math.floor(this.next() * items.length)] as T
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffled<T>(items: readonly T[]): T[] {
    const out = [...items]
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1))
      ;[out[i], out[j]] = [out[j] as T, out[i] as T]
    }
    return out
  }
}

const WORDS = [
  'peer',
  'task',
  'node',
  'result',
  'signed',
  'swarm',
  'route',
  'model',
  'embed',
  'chunk',
  'relay',
  'store',
  'crash',
  'resume',
  'verify',
  'queue',
  'frame',
  'stream',
  'link',
  'seed',
]

/** A short sentence of `n` words: the text of a mock task. */
export function words(random: Random, n: number): string {
  return Array.from({ length: n }, () => random.pick(WORDS)).join(' ')
}
