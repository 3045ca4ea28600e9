/**
 * What a task streams, kept for `handle.stream()`: the deltas of its attempts, a `restart` where a
 * failover dropped what an attempt had streamed, and, once the task completes, the check of the
 * streamed text against the signed result (docs/protocol.md §2.6). Every iteration reads the log
 * from the start, so one that begins late misses nothing; when the task ends the log shrinks to
 * the final text (iterations under way keep reading the full log they started on).
 */
import { streamedTextOf, type TaskErrorCode } from '@p2p-ai/protocol'
import type { TaskStreamEvent, TaskStreamOptions } from '../types.js'

export class TaskStreamLog {
  #events: TaskStreamEvent[] = []
  /** Text streamed since the last restart: what the current attempt has said so far. */
  #attempt = ''
  #ended = false
  #error: Error | undefined
  readonly #wakers = new Set<() => void>()

  /** Text the current attempt streamed so far. */
  get streamed(): string {
    return this.#attempt
  }

  delta(text: string): void {
    if (this.#ended || text === '') return
    this.#attempt += text
    this.#push({ type: 'delta', text })
  }

  /** An attempt failed and the task goes on elsewhere: what it streamed is to be discarded. */
  restart(reason: { readonly code: TaskErrorCode; readonly message: string }, peer: string): void {
    if (this.#ended) return
    this.#push({ type: 'restart', reason, peer, discarded: this.#attempt.length })
    this.#attempt = ''
  }

  /**
   * The task completed with `output`: its text is the answer. Streamed nothing: the whole text
   * goes out as one delta; streamed something else: a `mismatch`. Returns false on a mismatch.
   */
  complete(output: unknown): boolean {
    if (this.#ended) return true
    const text = streamedTextOf(output)
    let matched = true
    if (text !== undefined && this.#attempt !== text) {
      if (this.#attempt === '') this.#push({ type: 'delta', text })
      else {
        matched = false
        this.#push({ type: 'mismatch', streamed: this.#attempt, text })
      }
    }
    this.#end(undefined, text === undefined || text === '' ? [] : [{ type: 'delta', text }])
    return matched
  }

  /** The task failed (or was cancelled): iterations reject with `error`. */
  fail(error: Error): void {
    if (!this.#ended) this.#end(error, [])
  }

  iterate(options: TaskStreamOptions = {}): AsyncIterableIterator<TaskStreamEvent> {
    const { signal } = options
    const log = this.#events
    let index = 0
    let returned = false
    const iterator: AsyncIterableIterator<TaskStreamEvent> = {
      next: async () => {
        for (;;) {
          if (returned) return { done: true, value: undefined }
          if (index < log.length) return { done: false, value: log[index++] as TaskStreamEvent }
          if (this.#ended) {
            returned = true
            if (this.#error !== undefined) throw this.#error
            return { done: true, value: undefined }
          }
          signal?.throwIfAborted()
          await this.#wait(signal)
        }
      },
      return: async () => {
        returned = true
        return { done: true, value: undefined }
      },
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }

  #push(event: TaskStreamEvent): void {
    this.#events.push(event)
    this.#wake()
  }

  #end(error: Error | undefined, compact: TaskStreamEvent[]): void {
    this.#ended = true
    this.#error = error
    this.#events = compact
    this.#attempt = ''
    this.#wake()
  }

  #wake(): void {
    for (const wake of this.#wakers) wake()
    this.#wakers.clear()
  }

  /** Until the next event, the end, or `signal`. */
  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#wakers.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      this.#wakers.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }
}
