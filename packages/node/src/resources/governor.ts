/**
 * When a contributor's node takes tasks from peers: BOINC's computing preferences. Pure: it is fed
 * snapshots and the time, and says why the node should pause (nothing: it runs).
 *
 * - `idleOnly`: the node pauses as soon as a snapshot shows other processes using at least
 *   `idleThreshold` of the machine, and runs again once they have stayed below it for
 *   `idleAfterMs`. Before the first snapshot it counts as not idle yet.
 * - `windows`: outside every window it pauses.
 * - `pauseOnBattery`: on battery it pauses (where the OS tells; elsewhere it never does).
 */
import type { PauseReason, ResourceSnapshot } from './types.js'
import { parseWindow, type TimeWindow, withinWindows } from './windows.js'

export interface GovernorSettings {
  readonly idleOnly: boolean
  /** 0 to 1 of the machine. */
  readonly idleThreshold: number
  readonly idleAfterMs: number
  /** `HH:MM-HH:MM`, already validated. */
  readonly windows: readonly string[]
  readonly pauseOnBattery: boolean
}

export class PauseGovernor {
  #settings: GovernorSettings
  #windows: readonly TimeWindow[]
  /** `at` of the first snapshot of the current idle spell. */
  #idleSince: number | undefined
  #last: ResourceSnapshot | undefined

  constructor(settings: GovernorSettings) {
    this.#settings = settings
    this.#windows = parseWindows(settings.windows)
  }

  configure(settings: GovernorSettings): void {
    this.#settings = settings
    this.#windows = parseWindows(settings.windows)
  }

  /** Takes a snapshot into account (for `idleOnly`, every snapshot counts). */
  observe(snapshot: ResourceSnapshot): void {
    this.#last = snapshot
    if (snapshot.cpu.others >= this.#settings.idleThreshold) this.#idleSince = undefined
    else this.#idleSince ??= snapshot.at - snapshot.periodMs
  }

  /** Why the node should pause at `now` (wall clock); empty when it may take tasks. */
  reasons(now: number): PauseReason[] {
    const s = this.#settings
    const reasons: PauseReason[] = []
    if (s.idleOnly && (this.#idleSince === undefined || now - this.#idleSince < s.idleAfterMs)) {
      reasons.push('in-use')
    }
    if (!withinWindows(this.#windows, new Date(now))) reasons.push('outside-window')
    if (s.pauseOnBattery && this.#last?.battery?.onBattery === true) reasons.push('on-battery')
    return reasons
  }
}

function parseWindows(texts: readonly string[]): TimeWindow[] {
  return texts.map(parseWindow).filter((w): w is TimeWindow => w !== undefined)
}
