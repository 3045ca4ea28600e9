/**
 * When the watchdog restarts a node that crashed, and when it gives up: exponential backoff over
 * the crashes of a sliding window, and a limit on how many the window may hold. A node that ran
 * for a whole window without crashing starts again from the first delay.
 */

/** The `supervisor.*` settings. */
export interface RestartSettings {
  /** First wait after a crash. */
  readonly restartDelayMs: number
  /** Longest wait. */
  readonly maxRestartDelayMs: number
  /** Crashes within `crashWindowMs` after which the watchdog gives up. */
  readonly maxCrashes: number
  readonly crashWindowMs: number
}

/** What to do about a crash. */
export type RestartDecision =
  | { readonly action: 'restart'; readonly delayMs: number; readonly crashes: number }
  | { readonly action: 'give-up'; readonly crashes: number; readonly reason: string }

export class RestartPolicy {
  readonly #settings: RestartSettings
  /** When the crashes of the window happened. */
  #crashes: number[] = []

  constructor(settings: RestartSettings) {
    this.#settings = settings
  }

  /** The node crashed at `now`. */
  crashed(now: number): RestartDecision {
    const { restartDelayMs, maxRestartDelayMs, maxCrashes, crashWindowMs } = this.#settings
    this.#crashes = [...this.#crashes.filter((at) => now - at < crashWindowMs), now]
    const crashes = this.#crashes.length
    if (crashes >= maxCrashes) {
      return {
        action: 'give-up',
        crashes,
        reason: `the node crashed ${crashes} time${crashes === 1 ? '' : 's'} within ${seconds(crashWindowMs)}`,
      }
    }
    const delayMs = Math.min(maxRestartDelayMs, restartDelayMs * 2 ** (crashes - 1))
    return { action: 'restart', delayMs, crashes }
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}
