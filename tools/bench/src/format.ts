import type { SuiteResult } from './runner.js'

/** Formats a number for a table: grouped integers for large values, 3 significant digits for small. */
export function formatNumber(x: number): string {
  const abs = Math.abs(x)
  if (abs >= 100) return Math.round(x).toLocaleString('en-US')
  if (abs >= 10) return x.toFixed(1)
  if (abs >= 1) return x.toFixed(2)
  if (abs === 0) return '0'
  return x.toPrecision(3)
}

/** A plain-text table of a suite's results: one row per metric, median first, then the spread. */
export function formatSuite(result: SuiteResult): string {
  const header = ['case', 'metric', 'median', 'unit', 'min', 'max', '±MAD', 'rounds']
  const rows: string[][] = []
  for (const c of result.cases) {
    if (c.error !== undefined) {
      rows.push([c.name, 'ERROR', `${c.error.code ?? c.error.name}: ${c.error.message}`])
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
        `${(s.madRel * 100).toFixed(1)}%`,
        String(s.n),
      ])
    }
  }
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.filter((r) => r.length > 3).map((r) => r[i]?.length ?? 0)),
  )
  // Names and units read left-aligned, numbers right-aligned.
  const leftAligned = new Set([0, 1, 3])
  const line = (cells: string[]): string =>
    cells.length <= 3
      ? `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]}  ${cells[2]}`
      : cells
          .map((cell, i) => (leftAligned.has(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
          .join('  ')
          .trimEnd()
  const out = [`${result.name} — ${result.description}`, line(header), ...rows.map(line)]
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
        `| ${c.name} | ${m.name} | ${formatNumber(s.median)}${unit} | ${formatNumber(s.min)} – ${formatNumber(s.max)} | ${(s.madRel * 100).toFixed(1)}% | ${s.n} |`,
      )
    }
  }
  if (result.error !== undefined)
    out.push('', `Suite error: ${result.error.code ?? result.error.name}: ${result.error.message}`)
  return out.join('\n')
}
