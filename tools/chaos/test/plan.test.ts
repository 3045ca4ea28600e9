import { describe, expect, it } from 'vitest'
import { FAULT_KINDS, planFaults } from '../src/plan.js'

const base = {
  durationMs: 40_000,
  kinds: FAULT_KINDS,
  requester: 'requester',
  providers: ['provider-1', 'provider-2', 'provider-3'],
  gapMs: [1_000, 3_000] as const,
  holdMs: [1_000, 3_000] as const,
}

describe('the fault schedule', () => {
  it('is the same for the same seed, and another for another seed', () => {
    expect(planFaults({ ...base, seed: 7 })).toEqual(planFaults({ ...base, seed: 7 }))
    expect(planFaults({ ...base, seed: 7 })).not.toEqual(planFaults({ ...base, seed: 8 }))
  })

  it('injects every kind at least once, first, then draws kinds at random until the duration is used', () => {
    const plan = planFaults({ ...base, seed: 3 })
    expect(new Set(plan.slice(0, FAULT_KINDS.length).map((f) => f.kind))).toEqual(new Set(FAULT_KINDS))
    expect(plan.length).toBeGreaterThan(FAULT_KINDS.length)
    const used = plan.reduce((sum, f) => sum + f.gapMs + f.holdMs, 0)
    expect(used).toBeLessThanOrEqual(base.durationMs)
    expect(plan.map((f) => f.n)).toEqual(plan.map((_, i) => i + 1))
  })

  it('never kills or stops the last provider, the survivor whose memory is compared', () => {
    for (let seed = 0; seed < 50; seed++) {
      for (const f of planFaults({ ...base, seed, durationMs: 120_000 })) {
        if (f.kind === 'kill-provider' || f.kind === 'graceful-stop') expect(f.target).not.toBe('provider-3')
        if (f.kind === 'kill-requester') expect(f.target).toBe('requester')
        if (f.kind === 'kill-provider' || f.kind === 'fill-queue') expect(f.target).toMatch(/^provider-/)
      }
    }
  })

  it('refuses a duration too short for one fault of each kind, and too few providers', () => {
    expect(() => planFaults({ ...base, seed: 1, durationMs: 5_000 })).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_CHAOS_OPTION',
        message: expect.stringContaining('cannot hold one fault of each'),
      }),
    )
    expect(() => planFaults({ ...base, seed: 1, providers: ['provider-1'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_CHAOS_OPTION' }),
    )
  })
})
