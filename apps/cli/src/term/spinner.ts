import type { OutStream } from '../io.js'

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const INTERVAL_MS = 80

export interface Spinner {
  /** Changes the text next to the spinner. */
  update(text: string): void
  /** Removes the spinner line; prints `final` in its place if given. */
  stop(final?: string): void
}

/**
 * A spinner on stderr while something is waited for. Only on a terminal: piped or redirected
 * output gets nothing (no control characters in logs), and the caller prints its result as usual.
 */
export function spinner(stream: OutStream, text: string, enabled = stream.isTTY === true): Spinner {
  if (!enabled) {
    return {
      update() {},
      stop(final) {
        if (final !== undefined) stream.write(`${final}\n`)
      },
    }
  }
  let current = text
  let frame = 0
  const draw = (): void => {
    stream.write(`\r\u001b[2K${FRAMES[frame++ % FRAMES.length]} ${current}`)
  }
  stream.write('\u001b[?25l')
  draw()
  const timer = setInterval(draw, INTERVAL_MS)
  timer.unref()
  let stopped = false
  return {
    update(next) {
      current = next
    },
    stop(final) {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      stream.write('\r\u001b[2K\u001b[?25h')
      if (final !== undefined) stream.write(`${final}\n`)
    },
  }
}
