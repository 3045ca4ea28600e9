import { describe, expect, it } from 'vitest'
import type { AuditEntry, FinalSeen } from '../src/driver/protocol.js'
import { checkMemory, checkStores, checkTasks, percentile } from '../src/invariants.js'
import type { Ack } from '../src/ledger.js'

const ack: Ack = { node: 'requester', at: 1, fill: false }

function evidence(
  acks: string[],
  finals: FinalSeen[],
  audits: AuditEntry[],
  missing: string[] = [],
): Parameters<typeof checkTasks>[0] {
  return {
    acks: new Map(acks.map((id) => [id, ack])),
    finals: new Map(finals.map((f) => [f.id, f])),
    missing: new Map(missing.map((id) => [id, { node: 'requester', at: 2 }])),
    audits: new Map(audits.map((a) => [a.id, a])),
    refusals: [],
  }
}

const done = (id: string, output = 'h1'): FinalSeen => ({ id, status: 'COMPLETED', verified: true, output })

describe('the invariants of a chaos run', () => {
  it('hold when every acknowledged task is final with a verified result or a reason, as it was reported', () => {
    const e = evidence(
      ['a', 'b', 'c'],
      [done('a'), { id: 'b', status: 'FAILED', code: 'ERR_RETRIES_EXHAUSTED', verified: false }],
      [
        { id: 'a', status: 'COMPLETED', verified: true, output: 'h1' },
        { id: 'b', status: 'FAILED', code: 'ERR_RETRIES_EXHAUSTED', verified: false },
        { id: 'c', status: 'COMPLETED', verified: true, output: 'h3' },
      ],
    )
    expect(checkTasks(e)).toEqual([])
  })

  it('find a reported result that is gone, changed, or now unknown: lost', () => {
    const e = evidence(
      ['gone', 'changed', 'unknown'],
      [done('gone'), done('changed'), done('unknown')],
      [
        { id: 'gone', status: 'RUNNING' },
        { id: 'changed', status: 'COMPLETED', verified: true, output: 'other' },
        { id: 'unknown', notFound: true },
      ],
    )
    const kinds = checkTasks(e).map((v) => `${v.kind} ${v.id}`)
    expect(kinds).toContain('stuck gone')
    expect(kinds).toContain('lost changed')
    expect(kinds).toContain('missing unknown')
  })

  it('find acknowledged tasks that are unknown, not final, unverified or failed without a reason', () => {
    const e = evidence(
      ['m', 's', 'u', 'r', 'q'],
      [],
      [
        { id: 'm', notFound: true },
        { id: 's', status: 'PENDING' },
        { id: 'u', status: 'COMPLETED', verified: false, output: 'x' },
        { id: 'r', status: 'FAILED', verified: false },
        { id: 'q', unreachable: true },
      ],
    )
    expect(checkTasks(e).map((v) => `${v.kind} ${v.id}`)).toEqual([
      'missing m',
      'stuck s',
      'unverified u',
      'no-reason r',
      'stuck q',
    ])
  })

  it('count a 404 during the run once, even when the id is unknown at the end too', () => {
    const e = evidence(['x'], [], [{ id: 'x', notFound: true }], ['x'])
    expect(checkTasks(e).map((v) => v.kind)).toEqual(['missing'])
  })

  it('find stores that fail their integrity check, and memory that did not come back', () => {
    expect(
      checkStores([
        { path: 'a.db', result: 'ok' },
        { path: 'b.db', result: 'row 3 missing from index' },
      ]),
    ).toEqual([{ kind: 'store', detail: 'b.db: integrity_check says row 3 missing from index' }])
    const mb = 2 ** 20
    const growth = { fraction: 0.5, bytes: 96 * mb }
    expect(checkMemory([{ node: 'p', startRssBytes: 150 * mb, endRssBytes: 240 * mb }], growth)).toEqual([])
    expect(checkMemory([{ node: 'p', startRssBytes: 150 * mb, endRssBytes: 400 * mb }], growth)).toHaveLength(
      1,
    )
  })

  it('take percentiles by nearest rank', () => {
    expect(percentile([], 50)).toBeUndefined()
    expect(percentile([5, 1, 3], 50)).toBe(3)
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10)
    expect(percentile([1, 2, 3, 4], 50)).toBe(2)
  })
})
