/**
 * The narration: numbered steps, what happens and why it matters, one line per event. Colour only
 * on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb.
 */

export interface Paint {
  bold(s: string): string
  dim(s: string): string
  green(s: string): string
  red(s: string): string
  yellow(s: string): string
  cyan(s: string): string
}

const code =
  (open: number, close: number) =>
  (s: string): string =>
    `\x1b[${open}m${s}\x1b[${close}m`

const COLOUR: Paint = {
  bold: code(1, 22),
  dim: code(2, 22),
  green: code(32, 39),
  red: code(31, 39),
  yellow: code(33, 39),
  cyan: code(36, 39),
}
const plain = (s: string): string => s
const PLAIN: Paint = { bold: plain, dim: plain, green: plain, red: plain, yellow: plain, cyan: plain }

/** Whether to colour a stream: a terminal, and neither NO_COLOR (non-empty) nor TERM=dumb. */
export function colourFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.TERM === 'dumb') return false
  return stream.isTTY === true
}

export interface Narrator {
  readonly paint: Paint
  /** The demo's title and what it is about to do. */
  banner(title: string, lines: readonly string[]): void
  /** A numbered step, with a few lines on what happens and why it matters. */
  step(title: string, why: readonly string[]): void
  ok(text: string): void
  fail(text: string): void
  /** Something worth a look that is not a failure. */
  event(mark: string, text: string): void
  note(text: string): void
  blank(): void
}

const INDENT = '   '

/** A narrator writing to `write` (a line at a time, newline included). */
export function narrator(write: (line: string) => void, colour: boolean): Narrator {
  const p = colour ? COLOUR : PLAIN
  let steps = 0
  const line = (s = ''): void => write(`${s}\n`)
  return {
    paint: p,
    banner(title, lines) {
      line(p.bold(title))
      line(p.bold('='.repeat(title.length)))
      for (const l of lines) line(l)
    },
    step(title, why) {
      line()
      line(p.bold(p.cyan(`${++steps}. ${title}`)))
      for (const l of why) line(p.dim(`${INDENT}${l}`))
    },
    ok: (text) => line(`${INDENT}${p.green('✔')} ${text}`),
    fail: (text) => line(`${INDENT}${p.red('✖')} ${text}`),
    event: (mark, text) => line(`${INDENT}${mark} ${text}`),
    note: (text) => line(`${INDENT}${p.dim(text)}`),
    blank: () => line(),
  }
}

/** A narrator that says nothing (`--json`). */
export function silentNarrator(): Narrator {
  const none = (): void => {}
  return {
    paint: PLAIN,
    banner: none,
    step: none,
    ok: none,
    fail: none,
    event: none,
    note: none,
    blank: none,
  }
}

/** `850 ms`, `1.24 s`, `12.5 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`
  return `${(ms / 1000).toFixed(1)} s`
}

/** The start of a PeerId, enough to tell peers apart: `12D3KooWPjce…`. */
export function shortId(peerId: string): string {
  return `${peerId.slice(0, 12)}…`
}

/** `a`, `a and b`, `a, b and c`. */
export function listing(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`
}
