/**
 * The short seeded chaos run of `npm test`: a requester and three providers (`p2p-ai-agents node
 * start` processes), each on its own test host, with clients looping submit + wait on the
 * requester's control API, while one fault of every kind is injected (SIGKILL of a provider and of
 * the requester, SIGSTOP, a cut link, a graceful stop, a full queue). Every invariant must hold. The
 * long soak is `pnpm bench chaos` (docs/benchmarks/chaos.md).
 */
import { describe, expect, it } from 'vitest'
import { FAULT_KINDS } from '../src/plan.js'
import { formatReport } from '../src/report.js'
import { runChaos } from '../src/run.js'

describe('a chaos run on test hosts (needs root and iproute2; CI runs as root)', () => {
  it('loses no acknowledged task or result, leaves nothing stuck, corrupt or running, under one fault of each kind', async () => {
    const report = await runChaos({
      seed: 22,
      testnet: true,
      clients: 8,
      warmupMs: 1_000,
      gapMs: [200, 500],
      holdMs: [500, 800],
      // One fault of each kind, no more: the long soak is the benchmark's.
      durationMs: FAULT_KINDS.length * 1_300,
      maxFaults: FAULT_KINDS.length,
      settleMs: 30_000,
    })
    const text = formatReport(report)
    expect(report.violations, text).toEqual([])
    expect(report.ok).toBe(true)
    for (const kind of FAULT_KINDS)
      expect(report.faultCounts[kind], `${kind} injected`).toBeGreaterThanOrEqual(1)
    expect(report.tasks.acknowledged).toBeGreaterThan(50)
    expect(report.tasks.completed).toBeGreaterThan(0)
    expect({ lost: report.lost, missing: report.missing, stuck: report.stuck }).toEqual({
      lost: 0,
      missing: 0,
      stuck: 0,
    })
    // Two stores per node, each checked by SQLite.
    expect(report.stores).toHaveLength(8)
    expect(report.memory.length).toBeGreaterThanOrEqual(1)
  }, 150_000)
})
