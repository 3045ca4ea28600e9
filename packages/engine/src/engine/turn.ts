import { SETTLE_SYNC_BUDGET_MS } from '../constants.js'

/**
 * How long the engine has been working in the current turn of the event loop. A backend that
 * finishes synchronously (an in-process mock, a small chunk) would chain completion → the caller's
 * next submit → the next run in microtasks forever, starving timers and I/O (the node's heartbeats
 * among them); the engine checks this budget and defers further work to the next turn once it is
 * spent.
 */
export class TurnBudget {
  #start: number | undefined
  readonly #end = (): void => {
    this.#start = undefined
  }

  /** Notes that work happens now; the first mark of a turn starts its clock. */
  mark(now = performance.now()): void {
    if (this.#start !== undefined) return
    this.#start = now
    // Runs after the current turn's microtasks: the next mark starts a new turn.
    setImmediate(this.#end)
  }

  /** Whether this turn has used its budget (marking the turn if it had not started). */
  spent(): boolean {
    const now = performance.now()
    this.mark(now)
    return now - this.#start! >= SETTLE_SYNC_BUDGET_MS
  }
}
