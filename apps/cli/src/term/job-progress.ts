import type { JobJson } from '../control/types.js'
import type { OutStream } from '../io.js'
import { duration } from './format.js'

/** Redraws of a terminal line at most this often. */
const REDRAW_MS = 100
/** Without a terminal, a line at least every this many percent... */
const LINE_EVERY_PCT = 10
/** ...or, before the input's size is known, every this long. */
const LINE_EVERY_MS = 10_000
const BAR_WIDTH = 20

export interface JobProgress {
  update(job: JobJson): void
  /** Ends the line (a terminal's line stays as its final state). */
  done(): void
}

/** `1,234` */
const count = (n: number): string => n.toLocaleString('en-US')

/**
 * How far a job is: `[████████░░░░] 52%  5,200 / 10,000 items  1,234 items/s  ETA 4.1 s  2 failed`.
 * The rate and the time left are the node's, over its last ten seconds.
 */
export function jobFigures(job: JobJson, bar = true): string {
  const { items, progress } = job
  const processed = items.done + items.failed
  const parts: string[] = []
  const fraction = job.status === 'COMPLETED' ? 1 : progress?.fraction
  if (fraction !== undefined) {
    const filled = Math.round(fraction * BAR_WIDTH)
    const pct = `${Math.floor(fraction * 100)}%`
    parts.push(bar ? `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${pct}` : pct)
  }
  parts.push(
    items.total === undefined
      ? `${count(processed)} items`
      : `${count(processed)} / ${count(items.total)} items`,
  )
  if (progress !== undefined && progress.itemsPerSec > 0) {
    parts.push(`${count(Math.round(progress.itemsPerSec * 10) / 10)} items/s`)
    if (progress.etaMs !== undefined) parts.push(`ETA ${duration(progress.etaMs)}`)
  }
  if (items.failed > 0) parts.push(`${count(items.failed)} failed`)
  if (job.waitingSince !== undefined) parts.push('waiting for a peer that runs it')
  return parts.join('  ')
}

/**
 * A job's progress on stderr: on a terminal one line redrawn in place; piped or redirected, a
 * plain line every 10 % (no control characters in logs).
 */
export function jobProgress(
  stream: OutStream,
  options: { tty?: boolean; now?: () => number } = {},
): JobProgress {
  const tty = options.tty ?? stream.isTTY === true
  const now = options.now ?? (() => performance.now())
  let last: JobJson | undefined
  let lastDraw = Number.NEGATIVE_INFINITY
  let lastPct = -1
  let drawn = false
  const label = (job: JobJson): string => `job ${job.id}`
  const draw = (job: JobJson): void => {
    const columns = (stream.columns ?? 120) - 1
    const line = `${label(job)} ${jobFigures(job)}`
    stream.write(`\r\u001b[2K${line.length > columns ? line.slice(0, columns) : line}`)
    drawn = true
  }
  return {
    update(job) {
      last = job
      const t = now()
      if (tty) {
        if (t - lastDraw >= REDRAW_MS) {
          draw(job)
          lastDraw = t
        }
        return
      }
      const fraction = job.status === 'COMPLETED' ? 1 : job.progress?.fraction
      const pct = fraction === undefined ? undefined : Math.floor(fraction * 100)
      const due =
        pct === undefined
          ? t - lastDraw >= LINE_EVERY_MS
          : lastPct < 0 || Math.floor(pct / LINE_EVERY_PCT) > Math.floor(lastPct / LINE_EVERY_PCT)
      if (!due) return
      stream.write(`${label(job)}: ${jobFigures(job, false)}\n`)
      lastDraw = t
      if (pct !== undefined) lastPct = pct
    },
    done() {
      if (tty && last !== undefined) draw(last)
      if (tty && drawn) stream.write('\n')
      drawn = false
    },
  }
}
