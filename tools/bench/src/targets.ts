import { summarize } from './stats.js'
import type { CaseResult, ComparisonResult, Target, TargetResult } from './types.js'

/**
 * Judges a case's targets on its results: a value target on the median of the metric's samples, a
 * ratio target on the median of its ratios to the comparison's baseline. The verdict comes from
 * the median alone (or, with `judged: 'every round'`, from every round meeting it); `roundsMet`
 * and the summary's spread say how firmly.
 */
export function judgeTargets(
  targets: readonly Target[],
  result: CaseResult,
  comparison?: ComparisonResult,
): TargetResult[] {
  return targets.map((t) => {
    const of = t.of ?? 'value'
    const head: TargetResult = { case: result.name, metric: t.metric, of, unit: '', verdict: 'not measured' }
    if (t.atLeast !== undefined) head.atLeast = t.atLeast
    if (t.atMost !== undefined) head.atMost = t.atMost
    if (t.source !== undefined) head.source = t.source
    if (t.judged === 'every round') head.judged = 'every round'
    if (of === 'ratio' && comparison !== undefined) head.baseline = comparison.baseline
    if (result.error !== undefined) {
      return { ...head, reason: `the case failed: ${result.error.message}` }
    }
    if (of === 'ratio') {
      const ratio = comparison?.ratios.find((r) => r.case === result.name && r.metric === t.metric)
      if (ratio === undefined) {
        return {
          ...head,
          unit: '×',
          reason: `no ratio of ${t.metric} to the baseline (a case failed, or a round lacked the metric or measured 0 in the baseline)`,
        }
      }
      return judge(head, t, ratio.samples, '×')
    }
    const metric = result.metrics.find((m) => m.name === t.metric)
    if (metric === undefined || metric.samples.length === 0) {
      return { ...head, reason: `the case reported no ${t.metric}` }
    }
    return judge(head, t, metric.samples, metric.unit)
  })
}

/** Whether `value` meets the target's bounds. */
export function meets(t: Pick<Target, 'atLeast' | 'atMost'>, value: number): boolean {
  return (t.atLeast === undefined || value >= t.atLeast) && (t.atMost === undefined || value <= t.atMost)
}

function judge(head: TargetResult, t: Target, samples: readonly number[], unit: string): TargetResult {
  const summary = summarize(samples)
  const roundsMet = samples.filter((x) => meets(t, x)).length
  const met = t.judged === 'every round' ? roundsMet === samples.length : meets(t, summary.median)
  return { ...head, unit, verdict: met ? 'met' : 'not met', summary, roundsMet }
}
