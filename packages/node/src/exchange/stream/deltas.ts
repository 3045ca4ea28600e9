/**
 * Streamed output on the provider's side of a task stream (docs/protocol.md §2.6): the text a task
 * produces goes out as `task.progress` deltas, never dropped. Text produced while the stream's
 * previous write has not left yet joins the progress message already queued, so a conversation
 * puts at most one progress message in each write: under load the frames stay few and no text is
 * lost.
 */
import { Buffer } from 'node:buffer'
import { encodeControl, MAX_DELTA_LENGTH } from '@p2p-ai/protocol'
import type { TaskChannel } from './channel.js'

/** The deltas of one conversation, waiting for the channel's next write. */
export class DeltaOutbox {
  readonly #channel: TaskChannel
  readonly #id: string
  #text = ''
  #fraction = 0
  #queued = false
  /** Whether the first text was queued (it is sent at once). */
  #started = false

  constructor(channel: TaskChannel, id: string) {
    this.#channel = channel
    this.#id = id
  }

  /** Text the task produced since the last call, and how far it is (0..1). */
  push(delta: string, fraction: number): void {
    if (delta === '') return
    this.#text += delta
    this.#fraction = Math.min(1, Math.max(0, fraction))
    if (this.#queued) return
    this.#queued = this.#channel.sendLater(this.#build)
    if (this.#queued && !this.#started) {
      // The first text is the time to first token: it leaves now, not after the model's next step
      // (which runs before the turn's writes). Later text is batched as usual.
      this.#started = true
      this.#channel.flushNow()
    }
  }

  readonly #build = (): Uint8Array => {
    this.#queued = false
    const pieces = splitText(this.#text, MAX_DELTA_LENGTH)
    this.#text = ''
    const frames = pieces.map((delta) =>
      encodeControl('task.progress', { id: this.#id, progress: this.#fraction, delta }, { trusted: true }),
    )
    return frames.length === 1 ? (frames[0] as Uint8Array) : Buffer.concat(frames)
  }
}

/**
 * `text` in pieces of at most `max` UTF-16 code units, never splitting a surrogate pair (each
 * piece stays valid Unicode, which JSON and the receiver's schema need).
 */
export function splitText(text: string, max: number): string[] {
  if (text.length <= max) return [text]
  const pieces: string[] = []
  let at = 0
  while (at < text.length) {
    let end = Math.min(at + max, text.length)
    const last = text.charCodeAt(end - 1)
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--
    pieces.push(text.slice(at, end))
    at = end
  }
  return pieces
}
