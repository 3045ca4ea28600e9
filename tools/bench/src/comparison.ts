import { summarize } from './stats.js'
import type { CaseResult, RatioResult } from './types.js'

/**
 * The order a comparison's cases run in, in measured round `round` (0-based). Rotated, round r
 * starts with the case r places down the list: `a b c`, `b c a`, `c a b`, `a b c`... so each
 * case runs first as often as the others and drift within a round is not always billed to the
 * same case.
 */
export function roundOrder<T>(items: readonly T[], round: number, rotate: boolean): T[] {
  if (!rotate || items.length === 0) return [...items]
  const shift = round % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

/**
 * Each case's metrics divided by the baseline's, round by round (`case ÷ baseline`), for every
 * case but the baseline. A case gets no ratios when it or the baseline failed or ran fewer than
 * `rounds` rounds; a metric gets none when either lacks a sample for some round or the baseline
 * measured 0 in some round (no finite ratio).
 *
 * @param metrics - only these metrics (default: every metric of the case the baseline also has)
 */
export function ratiosToBaseline(
  baseline: CaseResult,
  cases: readonly CaseResult[],
  rounds: number,
  metrics?: readonly string[],
): RatioResult[] {
  if (baseline.error !== undefined || baseline.rounds !== rounds) return []
  const base = new Map(baseline.metrics.map((m) => [m.name, m]))
  const out: RatioResult[] = []
  for (const c of cases) {
    if (c.name === baseline.name || c.error !== undefined || c.rounds !== rounds) continue
    for (const m of c.metrics) {
      if (metrics !== undefined && !metrics.includes(m.name)) continue
      const b = base.get(m.name)
      if (b === undefined || b.samples.length !== rounds || m.samples.length !== rounds) continue
      if (b.samples.some((x) => x === 0)) continue
      const samples = m.samples.map((x, i) => x / b.samples[i]!)
      out.push({ case: c.name, metric: m.name, unit: m.unit, samples, summary: summarize(samples) })
    }
  }
  return out
}
