/**
 * The task failure rate over a sliding window: finished and failed tasks counted in time slots,
 * so recording a task is two additions and the window costs the same memory at any task rate.
 * The window slides by one slot (a thirtieth of it) at a time.
 */

const SLOTS = 30

/** Tasks finished and failed within the window. */
export interface WindowCounts {
  readonly finished: number
  readonly failed: number
}

export class FailureWindow {
  #windowMs: number
  readonly #now: () => number
  readonly #finished = new Float64Array(SLOTS)
  readonly #failed = new Float64Array(SLOTS)
  /** The slot number (time / slot width) each slot holds, or -1 when empty. */
  readonly #slotOf = new Float64Array(SLOTS).fill(-1)

  constructor(windowMs: number, now: () => number = Date.now) {
    this.#windowMs = windowMs
    this.#now = now
  }

  /** A new window length: what was counted is forgotten, since its slots had the old width. */
  resize(windowMs: number): void {
    if (windowMs === this.#windowMs) return
    this.#windowMs = windowMs
    this.#finished.fill(0)
    this.#failed.fill(0)
    this.#slotOf.fill(-1)
  }

  /** One task finished now; `failed` when it failed or timed out. */
  record(failed: boolean): void {
    const slot = Math.floor(this.#now() / (this.#windowMs / SLOTS))
    const i = slot % SLOTS
    if (this.#slotOf[i] !== slot) {
      this.#slotOf[i] = slot
      this.#finished[i] = 0
      this.#failed[i] = 0
    }
    this.#finished[i]!++
    if (failed) this.#failed[i]!++
  }

  counts(): WindowCounts {
    const current = Math.floor(this.#now() / (this.#windowMs / SLOTS))
    let finished = 0
    let failed = 0
    for (let i = 0; i < SLOTS; i++) {
      const slot = this.#slotOf[i]!
      if (slot >= 0 && current - slot < SLOTS) {
        finished += this.#finished[i]!
        failed += this.#failed[i]!
      }
    }
    return { finished, failed }
  }
}
