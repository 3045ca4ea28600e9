import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../src/errors.js'
import { replayCache } from '../src/replay-cache.js'

const WINDOW = 1_000

describe('replayCache', () => {
  it('accepts a key once and refuses it after', () => {
    const cache = replayCache()
    expect(cache.check('a', 100, 100, WINDOW)).toBe('fresh')
    expect(cache.check('a', 100, 150, WINDOW)).toBe('replayed')
    expect(cache.check('b', 100, 150, WINDOW)).toBe('fresh')
    expect(cache.size).toBe(2)
    expect(cache.watermark).toBe(Number.NEGATIVE_INFINITY)
  })

  it('drops entries that left the window and raises the watermark to them', () => {
    const cache = replayCache()
    cache.check('old', 1_000, 1_000, WINDOW)
    cache.check('newer', 1_800, 1_800, WINDOW)
    // At 2,500 'old' (ts 1,000) is outside the window: gone, and the watermark covers it.
    expect(cache.check('now', 2_500, 2_500, WINDOW)).toBe('fresh')
    expect(cache.size).toBe(2)
    expect(cache.watermark).toBe(1_000)
    expect(cache.check('old', 1_000, 2_500, WINDOW)).toBe('forgotten')
    expect(cache.check('newer', 1_800, 2_500, WINDOW)).toBe('replayed')
  })

  it('stays within maxEntries and still refuses replays of evicted entries', () => {
    const cache = replayCache({ maxEntries: 3 })
    for (let i = 0; i < 10; i++) {
      expect(cache.check(`k${i}`, 100 + i, 200, WINDOW)).toBe('fresh')
      expect(cache.size).toBeLessThanOrEqual(3)
    }
    expect(cache.watermark).toBe(106)
    for (let i = 0; i < 10; i++) {
      expect(cache.check(`k${i}`, 100 + i, 200, WINDOW)).not.toBe('fresh')
    }
  })

  it('never lets a replay through, whatever the order, clocks and capacity (property)', () => {
    // Each event is either a new message (fresh key, sender clock anywhere near now) or an exact
    // replay (same key, same timestamp) of an earlier message.
    const event = fc.oneof(
      fc.record({ replay: fc.constant(false), skew: fc.integer({ min: -WINDOW, max: WINDOW }) }),
      fc.record({ replay: fc.constant(true), pick: fc.nat() }),
    )
    fc.assert(
      fc.property(
        fc.array(event, { maxLength: 300 }),
        fc.integer({ min: 1, max: 8 }),
        (events, maxEntries) => {
          const cache = replayCache({ maxEntries })
          const sent: Array<{ key: string; ts: number }> = []
          const accepted = new Set<string>()
          let now = 10_000
          for (const [index, item] of events.entries()) {
            now += 25
            if (item.replay && sent.length > 0) {
              const original = sent[item.pick % sent.length] as { key: string; ts: number }
              const verdict = cache.check(original.key, original.ts, now, WINDOW)
              if (accepted.has(original.key)) {
                expect(verdict).not.toBe('fresh')
              }
            } else if (!item.replay) {
              const message = { key: `k${index}`, ts: now + item.skew }
              sent.push(message)
              if (cache.check(message.key, message.ts, now, WINDOW) === 'fresh') {
                accepted.add(message.key)
              }
            }
            expect(cache.size).toBeLessThanOrEqual(maxEntries)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('validates maxEntries', () => {
    for (const maxEntries of [0, -5, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => replayCache({ maxEntries })).toThrow(InvalidOptionError)
    }
  })
})
