/**
 * Raises and clears the alerts of rules.ts, without flapping. Two things keep an alert steady:
 *
 * - a **band**: an alert raised at its threshold clears only once the reading is back inside by
 *   `alerts.hysteresisPercent` of the threshold (memory raised above 85 % clears below 76.5 %);
 * - a **hold time**: a condition must hold at every evaluation for `alerts.forMs` before the alert
 *   is raised, and the clearing condition as long before it clears; one evaluation the other way
 *   starts the wait again.
 *
 * The monitor reads its clock and its readings through functions, so tests drive it with a fake
 * clock and call `evaluate()` themselves; a node calls it every `alerts.intervalMs`.
 */
import {
  ALERT_RULES,
  type AlertName,
  type AlertReadings,
  type AlertRule,
  type AlertsConfig,
} from './rules.js'

/** One alert as `node.alerts()` and `node status` report it. */
export interface AlertState {
  readonly name: AlertName
  readonly active: boolean
  /** The latest reading; undefined before the first evaluation or without a verdict (too few tasks). */
  readonly value: number | undefined
  /** The threshold in force (0 for a `below` rule that is off). */
  readonly threshold: number
  /** `Date.now()` when it was raised, while active. */
  readonly since?: number
  /** The latest reading in words and, while active, what is wrong with it: `1 peer connected, fewer than 2`. */
  readonly message: string
  /** What to do about it. */
  readonly hint: string
}

/** Whether an alert was raised or cleared. */
export type AlertChange = 'raised' | 'cleared'

export interface AlertMonitorInit {
  config: AlertsConfig
  read(): AlertReadings
  /** Called once per raise and per clear. */
  onChange(state: AlertState, change: AlertChange): void
  /** @default Date.now */
  now?: () => number
}

interface Track {
  readonly rule: AlertRule
  active: boolean
  value: number | undefined
  since: number | undefined
  /** Since when the condition that would change `active` has held at every evaluation. */
  pendingSince: number | undefined
}

export class AlertMonitor {
  #config: AlertsConfig
  readonly #read: () => AlertReadings
  readonly #onChange: AlertMonitorInit['onChange']
  readonly #now: () => number
  readonly #tracks: Track[]
  #timer: NodeJS.Timeout | undefined

  constructor(init: AlertMonitorInit) {
    this.#config = init.config
    this.#read = init.read
    this.#onChange = init.onChange
    this.#now = init.now ?? Date.now
    this.#tracks = ALERT_RULES.map((rule) => ({
      rule,
      active: false,
      value: undefined,
      since: undefined,
      pendingSince: undefined,
    }))
  }

  /** Evaluates every `alerts.intervalMs` (the timer does not keep the process alive). */
  start(): void {
    this.stop()
    if (!this.#config.enabled) return
    this.#timer = setInterval(() => this.evaluate(), this.#config.intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * New thresholds and timings, from the next evaluation on; a running timer restarts at the new
   * interval (or stops, when alerts are turned off). Turning alerts off clears every active one.
   */
  configure(config: AlertsConfig): void {
    const running = this.#timer !== undefined
    this.#config = config
    if (!config.enabled) {
      for (const track of this.#tracks) {
        track.pendingSince = undefined
        if (track.active) this.#change(track, false)
      }
    }
    if (running) this.start()
  }

  /** One evaluation: reads, then raises and clears what held long enough. */
  evaluate(): void {
    if (!this.#config.enabled) return
    const readings = this.#read()
    const now = this.#now()
    for (const track of this.#tracks) this.#step(track, readings[track.rule.reading], now)
  }

  /** Every alert, active or not, in the table's order. */
  list(): AlertState[] {
    return this.#tracks.map((t) => this.#state(t))
  }

  /** The alerts raised now. */
  active(): AlertState[] {
    return this.#tracks.filter((t) => t.active).map((t) => this.#state(t))
  }

  #step(track: Track, value: number | undefined, now: number): void {
    track.value = value
    const threshold = track.rule.threshold(this.#config)
    const off = track.rule.direction === 'below' && threshold <= 0
    // No verdict (too few tasks to judge a rate): the alert keeps its state, the wait starts over.
    if (value === undefined && !off) {
      track.pendingSince = undefined
      return
    }
    const wantsChange = off
      ? track.active
      : track.active
        ? this.#clears(track.rule, value!, threshold)
        : this.#raises(track.rule, value!, threshold)
    if (!wantsChange) {
      track.pendingSince = undefined
      return
    }
    track.pendingSince ??= now
    // Switched off: cleared at once.
    if (off || now - track.pendingSince >= this.#config.forMs) this.#change(track, !track.active, now)
  }

  #raises(rule: AlertRule, value: number, threshold: number): boolean {
    return rule.direction === 'above' ? value > threshold : value < threshold
  }

  #clears(rule: AlertRule, value: number, threshold: number): boolean {
    const band = rule.band === 'proportional' ? (threshold * this.#config.hysteresisPercent) / 100 : 0
    return rule.direction === 'above' ? value <= threshold - band : value >= threshold + band
  }

  #change(track: Track, active: boolean, now = this.#now()): void {
    track.active = active
    track.pendingSince = undefined
    track.since = active ? now : undefined
    this.#onChange(this.#state(track), active ? 'raised' : 'cleared')
  }

  #state(track: Track): AlertState {
    const { rule, value } = track
    const threshold = rule.threshold(this.#config)
    return {
      name: rule.name,
      active: track.active,
      value,
      threshold,
      ...(track.since === undefined ? {} : { since: track.since }),
      message: messageOf(rule, track.active, value, threshold),
      hint: rule.hint,
    }
  }
}

function messageOf(rule: AlertRule, active: boolean, value: number | undefined, threshold: number): string {
  if (rule.direction === 'below' && threshold <= 0) return 'off'
  if (value === undefined) return active ? `${rule.limit(threshold)} when last measured` : 'no reading'
  return active ? `${rule.measure(value)}, ${rule.limit(threshold)}` : rule.measure(value)
}
