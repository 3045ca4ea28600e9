/** Summary of one metric over the measured rounds of a case. */
export interface Summary {
  /** Number of samples (rounds) summarised. */
  n: number
  median: number
  mean: number
  min: number
  max: number
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single sample. */
  stddev: number
  /** Median absolute deviation from the median, in the metric's unit. */
  mad: number
  /**
   * `mad / |median|`: the spread as a fraction of the typical value, robust to one outlier round.
   * 0 when the median is 0.
   */
  madRel: number
}

/** Median of `values` (mean of the middle two for an even count). Throws on an empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list')
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Summarises samples: median and spread. Throws on an empty list or a non-finite sample. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('cannot summarise zero samples')
  for (const x of samples) {
    if (!Number.isFinite(x)) throw new RangeError(`cannot summarise a non-finite sample (${x})`)
  }
  const n = samples.length
  const med = median(samples)
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  let sum = 0
  for (const x of samples) {
    if (x < min) min = x
    if (x > max) max = x
    sum += x
  }
  const mean = sum / n
  let squares = 0
  for (const x of samples) squares += (x - mean) ** 2
  const stddev = n > 1 ? Math.sqrt(squares / (n - 1)) : 0
  const mad = median(samples.map((x) => Math.abs(x - med)))
  return { n, median: med, mean, min, max, stddev, mad, madRel: med === 0 ? 0 : mad / Math.abs(med) }
}
