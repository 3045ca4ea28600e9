import { describe, expect, it } from 'vitest'
import { FailureWindow } from '../src/alerts/failure-window.js'
import { type AlertChange, AlertMonitor, type AlertState } from '../src/alerts/monitor.js'
import { ALERT_NAMES, type AlertReadings, type AlertsConfig } from '../src/alerts/rules.js'
import { resolveNodeConfig } from '../src/config/load.js'

const DEFAULTS: AlertsConfig = resolveNodeConfig({}, { env: { HOME: '/home/t' } }).alerts
const CALM: AlertReadings = {
  peers: 5,
  memoryPercent: 40,
  taskFailurePercent: 0,
  eventLoopLagMs: 5,
  queuePercent: 0,
}

/** A monitor on a fake clock, evaluated by hand, with readings the test sets. */
function harness(config: Partial<AlertsConfig> = {}) {
  let now = 1_000_000
  let readings: AlertReadings = CALM
  const changes: Array<[AlertChange, AlertState]> = []
  const monitor = new AlertMonitor({
    config: { ...DEFAULTS, ...config },
    read: () => readings,
    now: () => now,
    onChange: (state, change) => changes.push([change, state]),
  })
  return {
    monitor,
    changes,
    /** Sets readings, moves the clock and evaluates once. */
    at(ms: number, next: Partial<AlertReadings>) {
      now = 1_000_000 + ms
      readings = { ...CALM, ...next }
      monitor.evaluate()
    },
  }
}

describe('alerts', () => {
  it('lists every alert of the table, none active on a calm node', () => {
    const h = harness()
    h.at(0, {})
    expect(h.monitor.list().map((a) => a.name)).toEqual(ALERT_NAMES)
    expect(h.monitor.active()).toEqual([])
    expect(h.monitor.list().find((a) => a.name === 'peers_low')).toMatchObject({
      active: false,
      value: 5,
      threshold: 2,
      message: '5 peers connected',
    })
  })

  it('raises an alert only once its condition held for alerts.forMs, with the numbers in its message', () => {
    const h = harness({ forMs: 30_000 })
    h.at(0, { peers: 1 })
    h.at(20_000, { peers: 1 })
    expect(h.changes).toEqual([])
    h.at(30_000, { peers: 0 })
    expect(h.changes).toHaveLength(1)
    const [change, state] = h.changes[0]!
    expect(change).toBe('raised')
    expect(state).toMatchObject({
      name: 'peers_low',
      active: true,
      value: 0,
      threshold: 2,
      since: 1_030_000,
      message: '0 peers connected, fewer than 2',
    })
    expect(state.hint).toContain('bootstrap')
  })

  it('starts the wait again when the condition lapses for one evaluation: a blip raises nothing', () => {
    const h = harness({ forMs: 30_000 })
    h.at(0, { memoryPercent: 90 })
    h.at(25_000, { memoryPercent: 60 })
    h.at(30_000, { memoryPercent: 90 })
    h.at(50_000, { memoryPercent: 90 })
    expect(h.changes).toEqual([])
    h.at(60_000, { memoryPercent: 90 })
    expect(h.changes.map(([c, s]) => `${c} ${s.name}`)).toEqual(['raised memory_high'])
  })

  it('does not flap on a value hovering at the threshold: it clears only below the hysteresis band', () => {
    // Memory at 85 % raises; with a 10 % band it clears only at 76.5 % or below.
    const h = harness({ forMs: 0, memoryPercent: 85, hysteresisPercent: 10 })
    const hovering = [86, 84, 86, 80, 85.5, 77, 88, 84]
    for (const [i, v] of hovering.entries()) h.at(i * 5_000, { memoryPercent: v })
    expect(h.changes.map(([c]) => c)).toEqual(['raised'])
    h.at(60_000, { memoryPercent: 76.5 })
    expect(h.changes.map(([c]) => c)).toEqual(['raised', 'cleared'])
    expect(h.changes[1]![1]).toMatchObject({
      active: false,
      message: "76.5 % of the machine's memory in use",
    })
    expect(h.changes[1]![1].since).toBeUndefined()
  })

  it('clears only after the clearing condition held for alerts.forMs too', () => {
    const h = harness({ forMs: 10_000 })
    h.at(0, { eventLoopLagMs: 900 })
    h.at(10_000, { eventLoopLagMs: 900 })
    h.at(15_000, { eventLoopLagMs: 10 })
    h.at(20_000, { eventLoopLagMs: 600 })
    h.at(25_000, { eventLoopLagMs: 10 })
    h.at(30_000, { eventLoopLagMs: 10 })
    expect(h.changes.map(([c]) => c)).toEqual(['raised'])
    h.at(35_000, { eventLoopLagMs: 10 })
    expect(h.changes.map(([c, s]) => `${c} ${s.name}`)).toEqual([
      'raised event_loop_lag_high',
      'cleared event_loop_lag_high',
    ])
  })

  it('keeps the state of the failure-rate alert while too few tasks give no verdict', () => {
    const h = harness({ forMs: 0 })
    h.at(0, { taskFailurePercent: 50 })
    expect(h.monitor.active().map((a) => a.name)).toEqual(['task_failure_rate_high'])
    h.at(5_000, { taskFailurePercent: undefined })
    h.at(10_000, { taskFailurePercent: undefined })
    expect(h.monitor.active()).toHaveLength(1)
    expect(h.monitor.active()[0]!.message).toBe('above 10 % when last measured')
    h.at(15_000, { taskFailurePercent: 2 })
    expect(h.monitor.active()).toEqual([])
  })

  it('applies new thresholds at the next evaluation, and clears everything when turned off', () => {
    const h = harness({ forMs: 0 })
    h.at(0, { peers: 1, queuePercent: 95 })
    expect(h.monitor.active().map((a) => a.name)).toEqual(['peers_low', 'queue_full'])
    // peersMin 0 switches peers_low off: it clears at once.
    h.monitor.configure({ ...DEFAULTS, forMs: 0, peersMin: 0 })
    h.at(5_000, { peers: 1, queuePercent: 95 })
    expect(h.monitor.active().map((a) => a.name)).toEqual(['queue_full'])
    expect(h.monitor.list().find((a) => a.name === 'peers_low')?.message).toBe('off')
    h.monitor.configure({ ...DEFAULTS, enabled: false })
    expect(h.monitor.active()).toEqual([])
    h.at(10_000, { peers: 0, queuePercent: 99 })
    expect(h.monitor.active()).toEqual([])
    expect(h.changes.map(([c, s]) => `${c} ${s.name}`)).toEqual([
      'raised peers_low',
      'raised queue_full',
      'cleared peers_low',
      'cleared queue_full',
    ])
    h.monitor.stop()
  })
})

describe('the failure window', () => {
  it('counts the tasks of the last window only, sliding a thirtieth of it at a time', () => {
    let now = 0
    const window = new FailureWindow(30_000, () => now)
    for (let i = 0; i < 10; i++) window.record(i < 3)
    expect(window.counts()).toEqual({ finished: 10, failed: 3 })
    now = 20_000
    window.record(true)
    expect(window.counts()).toEqual({ finished: 11, failed: 4 })
    // The first ten fall out of the window; the one at 20 s stays.
    now = 30_500
    expect(window.counts()).toEqual({ finished: 1, failed: 1 })
    now = 50_500
    expect(window.counts()).toEqual({ finished: 0, failed: 0 })
    window.record(false)
    window.resize(60_000)
    expect(window.counts()).toEqual({ finished: 0, failed: 0 })
  })
})
