import type { TaskEngine } from '@p2p-ai/engine'
import type { TaskCounters } from '../control/types.js'

/** Counts what the node's engine ran since start, for `node status` and `node monitor`. */
export class TaskCounter {
  #submitted = 0
  #completed = 0
  #failed = 0
  #timedOut = 0
  #cancelled = 0
  readonly #engine: TaskEngine
  readonly #controller = new AbortController()

  constructor(engine: TaskEngine) {
    this.#engine = engine
    const signal = this.#controller.signal
    engine.addEventListener('task:queued', () => this.#submitted++, { signal })
    engine.addEventListener('task:completed', () => this.#completed++, { signal })
    engine.addEventListener('task:failed', () => this.#failed++, { signal })
    engine.addEventListener('task:timeout', () => this.#timedOut++, { signal })
    engine.addEventListener('task:cancelled', () => this.#cancelled++, { signal })
  }

  snapshot(): TaskCounters {
    const caps = this.#engine.capabilities()
    return {
      submitted: this.#submitted,
      completed: this.#completed,
      failed: this.#failed,
      timedOut: this.#timedOut,
      cancelled: this.#cancelled,
      running: caps.running,
      queued: caps.queued,
    }
  }

  dispose(): void {
    this.#controller.abort()
  }
}
