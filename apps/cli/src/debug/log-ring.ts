/**
 * The node's most recent log lines, kept in memory for `debug snapshot`: bounded by count and by
 * bytes, the oldest going first.
 */
import { LOG_RING_BYTES, LOG_RING_LINES } from './constants.js'

export class LogRing {
  readonly #lines: string[] = []
  #bytes = 0
  #dropped = 0

  /** The log's hook (`LoggerInit.onLine`): keeps one line, as the logger wrote it. */
  readonly push = (line: string): void => {
    this.#lines.push(line)
    this.#bytes += line.length
    while (this.#lines.length > LOG_RING_LINES || (this.#bytes > LOG_RING_BYTES && this.#lines.length > 1)) {
      this.#bytes -= (this.#lines.shift() as string).length
      this.#dropped++
    }
  }

  /** The newest `count` lines, parsed (a line that is not JSON is kept as `{ msg }`), oldest first. */
  recent(count: number): { lines: Array<Record<string, unknown>>; dropped: number } {
    const lines = this.#lines.slice(Math.max(0, this.#lines.length - count)).map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>
      } catch {
        return { msg: line.trimEnd() }
      }
    })
    return { lines, dropped: this.#dropped + Math.max(0, this.#lines.length - count) }
  }
}
