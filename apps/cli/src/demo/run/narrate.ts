/**
 * The narration of `demo run`: numbered steps, what happens and why it matters, one line per
 * event. Colour as everywhere in the CLI: only on a terminal, never with NO_COLOR.
 */
import { type Colours, colours } from '../../term/colour.js'

export interface Narrator {
  readonly paint: Colours
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
export function narrator(write: (line: string) => void, paint: Colours): Narrator {
  const p = paint
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
    paint: colours(false),
    banner: none,
    step: none,
    ok: none,
    fail: none,
    event: none,
    note: none,
    blank: none,
  }
}
