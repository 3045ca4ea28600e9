/**
 * Latencies kept as bucket counts: they add up exactly when points are downsampled, and a
 * percentile is read back the way Prometheus' `histogram_quantile` does (linear within a bucket).
 */
import { LATENCY_BUCKETS_MS } from '../constants.js'

/** Bucket counts, one per `LATENCY_BUCKETS_MS` entry plus one for slower. */
export type Histogram = number[]

export function emptyHistogram(): Histogram {
  return new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0)
}

export function observe(histogram: Histogram, ms: number): void {
  let i = LATENCY_BUCKETS_MS.findIndex((upper) => ms <= upper)
  if (i === -1) i = LATENCY_BUCKETS_MS.length
  histogram[i] = (histogram[i] ?? 0) + 1
}

/**
 * The `q` quantile (0..1) of the observations, or `undefined` when there are none. Within a
 * bucket the observations are taken as spread evenly; in the last (unbounded) one, the answer is
 * its lower bound.
 */
export function quantile(histogram: readonly number[], q: number): number | undefined {
  const total = histogram.reduce((a, b) => a + b, 0)
  if (total === 0) return undefined
  const rank = q * total
  let below = 0
  for (let i = 0; i < histogram.length; i++) {
    const count = histogram[i] ?? 0
    if (count > 0 && below + count >= rank) {
      const lower = i === 0 ? 0 : (LATENCY_BUCKETS_MS[i - 1] ?? 0)
      const upper = LATENCY_BUCKETS_MS[i]
      if (upper === undefined) return lower
      return lower + ((upper - lower) * (rank - below)) / count
    }
    below += count
  }
  return LATENCY_BUCKETS_MS.at(-1)
}
