import { describe, expect, it } from 'vitest'
import { historyTiers, LATENCY_BUCKETS_MS } from '../src/constants.js'
import { HistoryStore, type Sample } from '../src/history/store.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const DAY = 24 * 60 * MINUTE

function sample(at: number, latencyBucket: number | undefined, extra: Partial<Sample> = {}): Sample {
  const latency = Array.from({ length: LATENCY_BUCKETS_MS.length + 1 }, (_, i) =>
    i === latencyBucket ? 1 : 0,
  )
  return {
    at,
    completed: latencyBucket === undefined ? 0 : 1,
    failed: 0,
    failovers: 0,
    served: 0,
    peers: 4,
    running: 1,
    queued: 0,
    alerts: 0,
    latency,
    ...extra,
  }
}

describe('the metrics history', () => {
  it('keeps 30 days in three tiers: 5 s points for a day, 1 min for a week, 10 min beyond', () => {
    expect(historyTiers(5 * SECOND, 30 * DAY)).toEqual([
      { stepMs: 5 * SECOND, keepMs: DAY },
      { stepMs: MINUTE, keepMs: 7 * DAY },
      { stepMs: 10 * MINUTE, keepMs: 30 * DAY },
    ])
  })

  it('adds samples up when it downsamples: counts summed, gauges averaged, percentiles from merged buckets', () => {
    const store = new HistoryStore({
      file: ':memory:',
      tiers: historyTiers(5 * SECOND, 30 * DAY),
      keepMs: 30 * DAY,
    })
    const t0 = 1_700_000_000_000 - (1_700_000_000_000 % (10 * MINUTE))
    // Twelve samples of one minute: eleven fast tasks (bucket ≤ 10 ms) and one slow (≤ 5 s).
    for (let i = 0; i < 12; i++)
      store.add(sample(t0 + i * 5 * SECOND, i === 11 ? 9 : 1, { peers: i < 6 ? 2 : 4 }))
    const now = t0 + MINUTE
    const fine = store.query(now - MINUTE, now, now)
    expect(fine.stepMs).toBe(5 * SECOND)
    expect(fine.points).toHaveLength(12)
    // A day and a half later the 5 s points are gone: the 1-minute tier, one point for the minute.
    const later = now + 1.5 * DAY
    const coarse = store.query(t0 - MINUTE, t0 + DAY, later)
    expect(coarse.stepMs).toBe(MINUTE)
    const [point] = coarse.points
    expect(point).toMatchObject({ at: t0, completed: 12, peers: 3, running: 1 })
    expect(point!.p50Ms).toBeLessThanOrEqual(10)
    expect(point!.p99Ms).toBeGreaterThan(2_500)
    store.close()
  })

  it('forgets points a tier no longer keeps, and alerts older than the history', () => {
    const store = new HistoryStore({
      file: ':memory:',
      tiers: historyTiers(5 * SECOND, 2 * DAY),
      keepMs: 2 * DAY,
    })
    const t0 = 1_700_000_000_000
    store.add(sample(t0, 1))
    store.addAlert({
      at: t0,
      name: 'low_peers',
      state: 'raised',
      message: 'few peers',
      value: 1,
      threshold: 2,
    })
    store.prune(t0 + 3 * DAY)
    const h = store.query(t0 - MINUTE, t0 + MINUTE, t0 + 3 * DAY)
    expect(h.points).toEqual([])
    expect(h.alerts).toEqual([])
    store.close()
  })
})
