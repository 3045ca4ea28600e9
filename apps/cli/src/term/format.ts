import type { Colours } from './colour.js'
import { stripAnsi } from './colour.js'

/** `1h 02m`, `3m 12s`, `4.2 s`, `180 ms`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.floor(ms / 1000)
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`
  return `${m}m ${String(s % 60).padStart(2, '0')}s`
}

/** How long ago a `Date.now()` timestamp was: `12 s ago`. */
export function ago(at: number | undefined, now = Date.now()): string {
  return at === undefined ? '-' : `${duration(Math.max(0, now - at))} ago`
}

/** A moment as local wall-clock time, with the date when it is not today: `14:05:09`, `2026-11-02 14:05`. */
export function clockTime(at: number, now = Date.now()): string {
  const d = new Date(at)
  const pad = (n: number): string => String(n).padStart(2, '0')
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  if (new Date(now).toDateString() === d.toDateString()) return time
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time.slice(0, 5)}`
}

/** A PeerId shortened for tables: `12D3KooW…x7Hq9a`. */
export function shortId(id: string): string {
  return id.length <= 20 ? id : `${id.slice(0, 8)}…${id.slice(-6)}`
}

/** `1.2 MB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`
  return `${(n / 1024 ** 3).toFixed(2)} GB`
}

/** A left-aligned table with a bold header; cells may hold colours. */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  c: Colours,
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => stripAnsi(r[i] ?? '').length)))
  const line = (cells: readonly string[], style: (s: string) => string = (s) => s): string =>
    cells
      .map((cell, i) => {
        const pad = i === cells.length - 1 ? '' : ' '.repeat(widths[i]! - stripAnsi(cell).length)
        return style(cell) + pad
      })
      .join('  ')
      .trimEnd()
  return [line(headers, c.bold), ...rows.map((r) => line(r))].join('\n')
}

/** `key: value` lines with aligned values. */
export function fields(rows: ReadonlyArray<readonly [string, string]>, c: Colours): string {
  const width = Math.max(...rows.map(([k]) => k.length)) + 1
  return rows.map(([k, v]) => `${c.dim(`${k}:`.padEnd(width))} ${v}`).join('\n')
}

/** A task status in its colour. */
export function statusColour(status: string, c: Colours): string {
  switch (status) {
    case 'COMPLETED':
    case 'ACTIVE':
    case 'healthy':
    case 'connected':
      return c.green(status)
    case 'FAILED':
    case 'TIMEOUT':
    case 'unhealthy':
    case 'failed':
    case 'banned':
    case 'STOPPED':
      return c.red(status)
    case 'CANCELLED':
    case 'degraded':
    case 'SHUTTING_DOWN':
      return c.yellow(status)
    default:
      return c.cyan(status)
  }
}

/** `a`, `a and b`, `a, b and c`. */
export function listing(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
