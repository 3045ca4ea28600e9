import type { OutStream } from '../io.js'
import { bytes, duration } from './format.js'

/** Where a download stands. */
export interface TransferState {
  /** What is being transferred (a file name). */
  readonly label: string
  /** Bytes of the file so far, those of an earlier interrupted download included. */
  readonly received: number
  /** The file's size, when known. */
  readonly total?: number
  /** Bytes that were already there when this transfer started (a resumed download). */
  readonly resumed: number
}

export interface ProgressBar {
  update(state: TransferState): void
  /** Ends the current line (a terminal's bar stays as its final state). */
  done(): void
}

export interface ProgressBarOptions {
  /** @default stream.isTTY */
  readonly tty?: boolean
  /** @default performance.now */
  readonly now?: () => number
}

/** Redraws of a terminal bar at most this often. */
const REDRAW_MS = 100
/** Without a terminal, a line at least every this many percent... */
const LINE_EVERY_PCT = 10
/** ...or, with no size known, every this long. */
const LINE_EVERY_MS = 10_000
/** A rate needs this much time before it is worth showing. */
const MIN_RATE_MS = 500
/** The bar's width on a wide terminal; it shrinks to leave room for the figures, down to... */
const BAR_WIDTH = 24
/** ...this, below which it is left out. */
const MIN_BAR_WIDTH = 6

/**
 * Download progress on stderr. On a terminal, one line redrawn in place with a bar, the percent,
 * the bytes, the rate and the time left (`model.gguf [████████░░░░] 52% 340.2 MB / 650.0 MB
 * 12.3 MB/s ETA 25.0 s`); piped or redirected, plain lines every 10 % (no control characters in
 * logs). The rate and the ETA count only this run's bytes, not those a resumed download had.
 */
export function progressBar(stream: OutStream, options: ProgressBarOptions = {}): ProgressBar {
  const tty = options.tty ?? stream.isTTY === true
  const now = options.now ?? (() => performance.now())
  let label: string | undefined
  let startedAt = 0
  let startBytes = 0
  let lastDraw = Number.NEGATIVE_INFINITY
  let lastPct = -1
  let drawn = false
  let last: TransferState | undefined
  /** The bar's width for the current file (see `draw`). */
  let barWidth: number | undefined

  /** Percent, bytes, rate and time left. */
  const figures = (s: TransferState, t: number): string => {
    const elapsed = t - startedAt
    const rate = elapsed >= MIN_RATE_MS ? ((s.received - startBytes) / elapsed) * 1000 : undefined
    const parts: string[] = []
    if (s.total !== undefined && s.total > 0) {
      const pct = Math.min(100, Math.floor((s.received / s.total) * 100))
      parts.push(`${pct}%`, `${bytes(s.received)} / ${bytes(s.total)}`)
    } else parts.push(bytes(s.received))
    if (rate !== undefined && rate > 0) {
      parts.push(`${bytes(Math.round(rate))}/s`)
      if (s.total !== undefined && s.received < s.total)
        parts.push(`ETA ${duration(((s.total - s.received) / rate) * 1000)}`)
    }
    return parts.join('  ')
  }
  const resumedNote = (s: TransferState): string =>
    s.resumed > 0 ? `  (resumed at ${bytes(s.resumed)})` : ''
  const describe = (s: TransferState, t: number): string => `${figures(s, t)}${resumedNote(s)}`

  const bar = (s: TransferState, width: number): string => {
    if (s.total === undefined || s.total <= 0 || width < MIN_BAR_WIDTH) return ''
    const filled = Math.round((Math.min(s.received, s.total) / s.total) * width)
    return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] `
  }

  const draw = (s: TransferState, t: number): void => {
    const columns = (stream.columns ?? 120) - 1
    // The bar's width is set once per file, from the widest figures it can show, so it does not
    // jitter; the figures come before the bar, and the bar before the resume note.
    if (barWidth === undefined) {
      const widest = `100%  ${bytes(s.total ?? 0)} / ${bytes(s.total ?? 0)}  999.9 MB/s  ETA 59m 59s`
      barWidth = Math.max(0, Math.min(BAR_WIDTH, columns - s.label.length - widest.length - 4))
    }
    let line = `${s.label} ${bar(s, barWidth)}${figures(s, t)}`
    if (line.length + resumedNote(s).length <= columns) line += resumedNote(s)
    stream.write(`\r\u001b[2K${line.length > columns ? line.slice(0, columns) : line}`)
    drawn = true
    lastDraw = t
  }

  const finishLine = (): void => {
    if (tty && drawn) stream.write('\n')
    drawn = false
  }

  return {
    update(s) {
      const t = now()
      if (s.label !== label) {
        if (tty && last !== undefined) draw(last, t)
        finishLine()
        label = s.label
        barWidth = undefined
        startedAt = t
        startBytes = s.received
        lastPct = -1
        lastDraw = Number.NEGATIVE_INFINITY
      }
      last = s
      const complete = s.total !== undefined && s.received >= s.total
      if (tty) {
        if (complete || t - lastDraw >= REDRAW_MS) draw(s, t)
        return
      }
      const pct = s.total === undefined || s.total <= 0 ? undefined : Math.floor((s.received / s.total) * 100)
      const due =
        pct === undefined
          ? t - lastDraw >= LINE_EVERY_MS
          : lastPct < 0 || complete || Math.floor(pct / LINE_EVERY_PCT) > Math.floor(lastPct / LINE_EVERY_PCT)
      if (!due || (complete && lastPct === 100)) return
      stream.write(`${s.label}: ${describe(s, t)}\n`)
      lastDraw = t
      if (pct !== undefined) lastPct = pct
    },
    done() {
      if (tty && last !== undefined) draw(last, now())
      finishLine()
    },
  }
}
