import type { Summary } from './stats.js'
import type { ComparisonResult, SuiteResult, TargetResult } from './types.js'

/** Formats a number for a table: grouped integers for large values, 3 significant digits for small. */
export function formatNumber(x: number): string {
  const abs = Math.abs(x)
  if (abs >= 100) return Math.round(x).toLocaleString('en-US')
  if (abs >= 10) return x.toFixed(1)
  if (abs >= 1) return x.toFixed(2)
  if (abs === 0) return '0'
  return x.toPrecision(3)
}

/** A ratio (`case ÷ baseline`) for a table: `0.432×`. */
export function formatRatio(x: number): string {
  return `${formatNumber(x)}×`
}

/** A target as a person writes it: `tasksPerSec ≥ 0.6× libp2p echo ×128`, `p50Ms ≤ 600 µs`. */
export function describeTarget(t: TargetResult): string {
  const bound = (n: number): string => n.toLocaleString('en-US', { maximumFractionDigits: 6 })
  const unit = t.of === 'ratio' ? `× ${t.baseline ?? 'the baseline'}` : t.unit === '' ? '' : ` ${t.unit}`
  const each = t.judged === 'every round' ? ' in every round' : ''
  if (t.atLeast !== undefined && t.atMost !== undefined) {
    return `${bound(t.atLeast)} ≤ ${t.metric} ≤ ${bound(t.atMost)}${unit}${each}`
  }
  return t.atLeast !== undefined
    ? `${t.metric} ≥ ${bound(t.atLeast)}${unit}${each}`
    : `${t.metric} ≤ ${bound(t.atMost!)}${unit}${each}`
}

const madPct = (s: Summary): string => `${(s.madRel * 100).toFixed(1)}%`

/** A plain-text table of a suite's results: one row per metric, median first, then the spread. */
export function formatSuite(result: SuiteResult): string {
  const rows: string[][] = []
  const errors: string[] = []
  for (const c of result.cases) {
    if (c.error !== undefined) {
      errors.push(`${c.name}  ERROR  ${c.error.code ?? c.error.name}: ${c.error.message}`)
      continue
    }
    for (const m of c.metrics) {
      const s = m.summary
      rows.push([
        c.name,
        m.name,
        formatNumber(s.median),
        m.unit,
        formatNumber(s.min),
        formatNumber(s.max),
        madPct(s),
        String(s.n),
      ])
    }
  }
  const out = [
    `${result.name} — ${result.description}`,
    textTable(['case', 'metric', 'median', 'unit', 'min', 'max', '±MAD', 'rounds'], rows, [0, 1, 3]),
    ...errors,
  ]
  for (const cmp of result.comparisons) {
    out.push('', `comparison ${cmp.name}: ${comparisonNote(cmp)}`)
    out.push(
      textTable(
        [
          'case',
          'metric',
          'median',
          'unit',
          'min',
          'max',
          '±MAD',
          '÷ baseline',
          'min',
          'max',
          '±MAD',
          'per round',
        ],
        comparisonRows(result, cmp).map((r) => [
          r.case,
          r.metric,
          ...r.own,
          ...(r.ratio === undefined ? ['1×', '', '', '', 'baseline'] : r.ratio),
        ]),
        [0, 1, 3, 11],
      ),
    )
  }
  if (result.targets.length > 0) {
    out.push('', 'targets (judged on the median over rounds; a ratio is case ÷ baseline in the same round)')
    out.push(
      textTable(
        ['case', 'target', 'median', 'min', 'max', '±MAD', 'rounds met', 'verdict', 'source'],
        result.targets.map((t) => [
          t.case,
          describeTarget(t),
          ...targetFigures(t),
          t.verdict === 'not met' ? 'NOT MET' : t.verdict,
          t.verdict === 'not measured' ? `${t.source ?? ''} (${t.reason})`.trim() : (t.source ?? ''),
        ]),
        [0, 1, 7, 8],
      ),
    )
  }
  if (result.error !== undefined) {
    out.push(`suite error: ${result.error.code ?? result.error.name}: ${result.error.message}`)
  }
  out.push(`(${(result.durationMs / 1000).toFixed(1)} s)`)
  return out.join('\n')
}

/** A Markdown table of a suite's results, for `docs/benchmarks/<area>.md`. */
export function formatSuiteMarkdown(result: SuiteResult): string {
  const out = [
    `### ${result.name}`,
    '',
    result.description,
    '',
    '| case | metric | median | min – max | ±MAD | rounds |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ]
  for (const c of result.cases) {
    if (c.error !== undefined) {
      out.push(`| ${c.name} | error | ${c.error.code ?? c.error.name}: ${c.error.message} | | | |`)
      continue
    }
    for (const m of c.metrics) {
      const s = m.summary
      const unit = m.unit === '' ? '' : ` ${m.unit}`
      out.push(
        `| ${c.name} | ${m.name} | ${formatNumber(s.median)}${unit} | ${formatNumber(s.min)} – ${formatNumber(s.max)} | ${madPct(s)} | ${s.n} |`,
      )
    }
  }
  for (const cmp of result.comparisons) {
    out.push(
      '',
      `#### Comparison: ${cmp.name}`,
      '',
      `${cmp.description === undefined ? '' : `${cmp.description}. `}${capitalize(comparisonNote(cmp))}.`,
      '',
      '| case | metric | median | min – max | ±MAD | ÷ baseline | min – max | ±MAD | per round |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    )
    for (const r of comparisonRows(result, cmp)) {
      const [median, unit, min, max, mad] = r.own
      const own = `${median}${unit === '' ? '' : ` ${unit}`} | ${min} – ${max} | ${mad}`
      const ratio =
        r.ratio === undefined
          ? '1× | | | baseline'
          : `**${r.ratio[0]}** | ${r.ratio[1]} – ${r.ratio[2]} | ${r.ratio[3]} | ${r.ratio[4]}`
      out.push(`| ${r.case} | ${r.metric} | ${own} | ${ratio} |`)
    }
  }
  if (result.targets.length > 0) {
    out.push(
      '',
      '#### Targets',
      '',
      'Judged on the median over rounds; a ratio is the case ÷ the baseline in the same round.',
      '',
      '| case | target | median | min – max | ±MAD | rounds met | verdict |',
      '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    )
    for (const t of result.targets) {
      const [median, min, max, mad, met] = targetFigures(t)
      const source = t.source === undefined ? '' : ` (${t.source})`
      const verdict =
        t.verdict === 'met' ? '✔ met' : t.verdict === 'not met' ? '✘ not met' : `not measured: ${t.reason}`
      out.push(
        `| ${t.case} | ${describeTarget(t)}${source} | ${median} | ${min} – ${max} | ${mad} | ${met} | ${verdict} |`,
      )
    }
  }
  if (result.error !== undefined)
    out.push('', `Suite error: ${result.error.code ?? result.error.name}: ${result.error.message}`)
  return out.join('\n')
}

function comparisonNote(cmp: ComparisonResult): string {
  return `${cmp.rounds} rounds interleaved${cmp.rotate ? ' (order rotated each round)' : ''}; ÷ baseline is each round's value ÷ ${cmp.baseline}'s in the same round`
}

interface ComparisonRow {
  case: string
  metric: string
  /** median, unit, min, max, ±MAD of the case's own metric. */
  own: [string, string, string, string, string]
  /** median, min, max, ±MAD of the ratio, and the per-round ratios; absent for the baseline. */
  ratio?: [string, string, string, string, string]
}

/** Per metric with ratios: the baseline's row, then each case's, with its own figures next to its ratio. */
function comparisonRows(result: SuiteResult, cmp: ComparisonResult): ComparisonRow[] {
  const caseOf = (name: string) => result.cases.find((c) => c.name === name)
  const own = (name: string, metric: string): ComparisonRow['own'] => {
    const m = caseOf(name)?.metrics.find((x) => x.name === metric)
    if (m === undefined) return ['', '', '', '', '']
    const s = m.summary
    return [formatNumber(s.median), m.unit, formatNumber(s.min), formatNumber(s.max), madPct(s)]
  }
  const rows: ComparisonRow[] = []
  const metrics = [...new Set(cmp.ratios.map((r) => r.metric))]
  for (const metric of metrics) {
    rows.push({ case: cmp.baseline, metric, own: own(cmp.baseline, metric) })
    for (const r of cmp.ratios.filter((x) => x.metric === metric)) {
      const s = r.summary
      rows.push({
        case: r.case,
        metric,
        own: own(r.case, metric),
        ratio: [
          formatRatio(s.median),
          formatRatio(s.min),
          formatRatio(s.max),
          madPct(s),
          r.samples.map(formatNumber).join(' '),
        ],
      })
    }
  }
  return rows
}

/** median, min, max, ±MAD and rounds met of a target's judged values (blank when not measured). */
function targetFigures(t: TargetResult): [string, string, string, string, string] {
  const s = t.summary
  if (s === undefined) return ['', '', '', '', '']
  const f =
    t.of === 'ratio' ? formatRatio : (x: number) => `${formatNumber(x)}${t.unit === '' ? '' : ` ${t.unit}`}`
  return [f(s.median), f(s.min), f(s.max), madPct(s), `${t.roundsMet}/${s.n}`]
}

/** Columns padded to their widest cell; `left` columns left-aligned, the others (numbers) right. */
function textTable(header: string[], rows: string[][], left: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)))
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) => (left.includes(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function capitalize(s: string): string {
  return s.length === 0 ? s : `${s[0]!.toUpperCase()}${s.slice(1)}`
}
