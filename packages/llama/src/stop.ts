/**
 * Cuts generated text at the first stop sequence to appear (the first to complete), as OpenAI's
 * `stop` does: the text ends just before it. Text is released for streaming only once it cannot be the start of a stop sequence,
 * so a streamed delta never has to be taken back.
 *
 * The matching is on the text, not on tokens: a stop sequence may begin or end inside a token,
 * and may span several. (node-llama-cpp's own stop triggers match each token's text without the
 * leading space SentencePiece vocabularies give it, so ` fox` never matched there.)
 */
export class StopSequences {
  readonly #stops: readonly string[]
  #text = ''
  /** Length of the prefix of `#text` released so far. */
  #released = 0
  #stopped = false

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0)
  }

  /** Whether a stop sequence appeared; the text then ends before it. */
  get stopped(): boolean {
    return this.#stopped
  }

  /** The text so far: all of it once `flush()` was called or a stop sequence appeared. */
  get text(): string {
    return this.#text
  }

  /** Adds generated text; returns what can be streamed now (possibly nothing). */
  push(chunk: string): string {
    if (this.#stopped || chunk === '') return ''
    this.#text += chunk
    // An occurrence cannot start before #released: that text was released because no stop
    // sequence could start in it.
    // The stop that completes first wins, as it would end a generation: in `\né` with stops `é` and
    // `\né\n`, `é` ends the text before `\né\n` could, however the text arrived in chunks.
    let cut = -1
    let cutEnd = Number.POSITIVE_INFINITY
    for (const stop of this.#stops) {
      const at = this.#text.indexOf(stop, this.#released)
      if (at < 0) continue
      const end = at + stop.length
      if (end < cutEnd || (end === cutEnd && at < cut)) {
        cut = at
        cutEnd = end
      }
    }
    if (cut >= 0) {
      this.#stopped = true
      this.#text = this.#text.slice(0, cut)
      return this.#release(cut)
    }
    return this.#release(this.#text.length - this.#heldBack())
  }

  /** The generation ended: text held back because it might have begun a stop sequence is text after all. */
  flush(): string {
    return this.#release(this.#text.length)
  }

  /** Length of the longest end of the text that is a proper prefix of a stop sequence. */
  #heldBack(): number {
    let longest = 0
    const text = this.#text
    for (const stop of this.#stops) {
      for (let n = Math.min(stop.length - 1, text.length - this.#released); n > longest; n--) {
        if (text.endsWith(stop.slice(0, n))) {
          longest = n
          break
        }
      }
    }
    return longest
  }

  #release(end: number): string {
    if (end <= this.#released) return ''
    const out = this.#text.slice(this.#released, end)
    this.#released = end
    return out
  }
}
