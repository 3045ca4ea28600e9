import { describe, expect, it } from 'vitest'
import { type Candidate, cost, pickCandidate } from '../src/exchange/index.js'
import { CIRCUIT_FAILURE_THRESHOLD, CIRCUIT_OPEN_MS } from '../src/peers/constants.js'
import { ReputationBook } from '../src/peers/reputation.js'

function candidate(peer: string, extra: Partial<Candidate> = {}): Candidate {
  return { peer, concurrency: 4, load: 0, latencyMs: 1, score: 0.9, recentDispatches: 0, ...extra }
}

describe('pickCandidate', () => {
  it('skips a peer without a free slot while another has room', () => {
    const full = candidate('full', { concurrency: 1, load: 1, latencyMs: 0, score: 1 })
    const busy = candidate('busy', { concurrency: 8, load: 7, latencyMs: 40, score: 0.5 })
    for (let i = 0; i < 50; i++) expect(pickCandidate([full, busy])?.peer).toBe('busy')
  })

  it('queues on the least loaded peer when every peer is full', () => {
    const a = candidate('a', { concurrency: 2, load: 6 })
    const b = candidate('b', { concurrency: 2, load: 3 })
    expect(pickCandidate([a, b])?.peer).toBe('b')
  })

  it('prefers a close peer over a distant one, and a reliable one over a flaky one', () => {
    expect(
      pickCandidate([candidate('far', { latencyMs: 120 }), candidate('near', { latencyMs: 3 })])?.peer,
    ).toBe('near')
    expect(
      pickCandidate([candidate('flaky', { score: 0.3 }), candidate('solid', { score: 0.95 })])?.peer,
    ).toBe('solid')
  })

  it('treats small differences between equal peers as a tie and rotates through them', () => {
    // A latency average and a success count that differ a little must not capture all traffic.
    const peers = [
      candidate('a', { latencyMs: 0.4, score: 0.97 }),
      candidate('b', { latencyMs: 0.9, score: 0.95 }),
      candidate('c', { latencyMs: 2.5, score: 0.96 }),
    ]
    const counts = new Map<string, number>()
    const dispatched = new Map<string, number>()
    for (let i = 0; i < 300; i++) {
      const pick = pickCandidate(peers.map((p) => ({ ...p, recentDispatches: dispatched.get(p.peer) ?? 0 })))
      expect(pick).toBeDefined()
      counts.set(pick!.peer, (counts.get(pick!.peer) ?? 0) + 1)
      dispatched.set(pick!.peer, (dispatched.get(pick!.peer) ?? 0) + 1)
    }
    expect([...counts.values()]).toEqual([100, 100, 100])
  })

  it('costs grow with load, latency beyond 10 ms and a poor score', () => {
    const base = cost(candidate('x'))
    expect(cost(candidate('x', { load: 2 }))).toBeGreaterThan(base)
    expect(cost(candidate('x', { latencyMs: 9 }))).toBe(base)
    expect(cost(candidate('x', { latencyMs: 60 }))).toBeCloseTo(base * 2)
    expect(cost(candidate('x', { score: 0.45 }))).toBeCloseTo(base * 2)
  })

  it('returns undefined without candidates', () => {
    expect(pickCandidate([])).toBeUndefined()
  })
})

describe('ReputationBook', () => {
  function book() {
    let now = 1_000_000
    const reputation = new ReputationBook({ now: () => now })
    return { reputation, advance: (ms: number) => (now += ms), now: () => now }
  }

  it('starts neutral and learns a success rate and a latency average', () => {
    const { reputation } = book()
    expect(reputation.get('p')).toMatchObject({ successRate: 0.667, circuit: 'closed', misbehaviour: 0 })
    reputation.recordSuccess('p', 10)
    reputation.recordSuccess('p', 20)
    const r = reputation.get('p')
    expect(r.successes).toBe(2)
    expect(r.successRate).toBeCloseTo(4 / 5, 3)
    expect(r.latencyMs).toBeCloseTo(12, 3)
  })

  it('opens the circuit after consecutive failures, half-opens after the wait, and closes on a success', () => {
    const { reputation, advance } = book()
    for (let i = 0; i < CIRCUIT_FAILURE_THRESHOLD - 1; i++) reputation.recordFailure('p')
    expect(reputation.isAvailable('p')).toBe(true)
    reputation.recordFailure('p')
    expect(reputation.get('p').circuit).toBe('open')
    expect(reputation.isAvailable('p')).toBe(false)
    advance(CIRCUIT_OPEN_MS)
    expect(reputation.get('p').circuit).toBe('half-open')
    expect(reputation.isAvailable('p')).toBe(true)
    reputation.dispatched('p')
    // One trial at a time while half-open.
    expect(reputation.isAvailable('p')).toBe(false)
    reputation.recordSuccess('p')
    expect(reputation.get('p')).toMatchObject({ circuit: 'closed', consecutiveFailures: 0 })
  })

  it('reopens for twice as long when the trial fails', () => {
    const { reputation, advance } = book()
    for (let i = 0; i < CIRCUIT_FAILURE_THRESHOLD; i++) reputation.recordFailure('p')
    advance(CIRCUIT_OPEN_MS)
    reputation.dispatched('p')
    reputation.recordFailure('p')
    expect(reputation.get('p').circuit).toBe('open')
    advance(CIRCUIT_OPEN_MS)
    expect(reputation.get('p').circuit).toBe('open')
    advance(CIRCUIT_OPEN_MS)
    expect(reputation.get('p').circuit).toBe('half-open')
  })

  it('opens the circuit at once on misbehaviour and halves the score per forged result', () => {
    const { reputation } = book()
    reputation.recordSuccess('p')
    const before = reputation.get('p').score
    reputation.recordFailure('p', 'misbehaviour')
    const after = reputation.get('p')
    expect(after.circuit).toBe('open')
    expect(after.misbehaviour).toBe(1)
    expect(after.score).toBeLessThan(before / 2)
  })

  it('keeps a busy peer out until its retry-after passed, without counting a failure', () => {
    const { reputation, advance } = book()
    reputation.recordBusy('p', 500)
    expect(reputation.isAvailable('p')).toBe(false)
    expect(reputation.get('p').failures).toBe(0)
    advance(500)
    expect(reputation.isAvailable('p')).toBe(true)
  })

  it('decays old outcomes towards the prior', () => {
    const { reputation, advance } = book()
    for (let i = 0; i < 8; i++) reputation.recordFailure('p')
    const fresh = reputation.get('p').successRate
    advance(60 * 60 * 1000)
    const later = reputation.get('p')
    expect(later.failures).toBeLessThan(0.2)
    expect(later.successRate).toBeGreaterThan(fresh)
  })

  it('records agreement for redundant verification', () => {
    const { reputation } = book()
    reputation.recordAgreement('p', true)
    reputation.recordAgreement('p', false)
    expect(reputation.get('p')).toMatchObject({ agreements: 1, disagreements: 1 })
    expect(reputation.get('p').score).toBeLessThan(reputation.get('q').score)
  })
})
