import type { TraceSpan } from '@p2p-ai/protocol'
import { describe, expect, it } from 'vitest'
import { colours } from '../src/term/colour.js'
import { formatTimeline } from '../src/trace/format.js'
import { timeline } from '../src/trace/timeline.js'

const A = `12D3KooW${'A'.repeat(44)}`
const B = `12D3KooW${'B'.repeat(44)}`
const C = `12D3KooW${'C'.repeat(44)}`

/** A span at `start` ms lasting `ms` ms (µs on the wire). */
function span(
  spanId: string,
  node: string,
  name: string,
  start: number,
  ms: number,
  extra: Partial<TraceSpan> = {},
): TraceSpan {
  return {
    spanId: spanId.padEnd(16, '0'),
    node,
    name,
    kind: 'internal',
    startUs: start * 1000,
    endUs: (start + ms) * 1000,
    status: 'ok',
    ...extra,
    ...(extra.parentId === undefined ? {} : { parentId: extra.parentId.padEnd(16, '0') }),
  }
}

// A asks B, which relays to C. C's clock runs 5 ms behind: its spans seem to start before B's.
const spans: TraceSpan[] = [
  span('a1', A, 'task', 0, 20, { attributes: { 'p2p_ai.task.type': 'embed' } }),
  span('a2', A, 'attempt', 1, 18, {
    parentId: 'a1',
    kind: 'client',
    attributes: { 'p2p_ai.peer': B, 'p2p_ai.route': 'forward', 'p2p_ai.attempt': 1 },
  }),
  span('b1', B, 'relay', 2, 16, { parentId: 'a2', kind: 'server', attributes: { 'p2p_ai.from': A } }),
  span('b2', B, 'attempt', 3, 14, { parentId: 'b1', kind: 'client', attributes: { 'p2p_ai.peer': C } }),
  span('c1', C, 'serve', 4 - 5, 12, { parentId: 'b2', kind: 'server', attributes: { 'p2p_ai.from': B } }),
  span('c2', C, 'queue', 5 - 5, 1, { parentId: 'c1' }),
  span('c3', C, 'run', 6 - 5, 9, { parentId: 'c1' }),
]

describe('task trace: the timeline', () => {
  const t = timeline({ traceId: 'f'.repeat(32), taskId: 'task-0001', self: A, spans, missing: [] })

  it('nests every span under its parent, across nodes, and names the nodes A, B, C from this one', () => {
    expect(t.rows.map((r) => [r.depth, r.node, r.span.name])).toEqual([
      [0, 'A', 'task'],
      [1, 'A', 'attempt'],
      [2, 'B', 'relay'],
      [3, 'B', 'attempt'],
      [4, 'C', 'serve'],
      [5, 'C', 'queue'],
      [5, 'C', 'run'],
    ])
    expect(t.rows[1]?.label).toBe(`attempt 1 → B 12D3…BBBB (forwarded)`)
  })

  it('gives each hop its exact network time, and its split only where the clocks agree', () => {
    expect(t.hops).toEqual([
      { from: 'A', to: 'B', via: 'attempt → relay', networkMs: 2, outMs: 1, backMs: 1 },
      // 14 ms on B less 12 ms on C, whatever C's clock says; out and back cannot be told.
      { from: 'B', to: 'C', via: 'attempt → serve', networkMs: 2 },
    ])
  })

  it("says what each node spent on its own, and the provider's queue and run", () => {
    expect(t.nodes).toEqual([
      { name: 'A', peerId: A, self: true, spanMs: 20, ownMs: 2, queueMs: 0, runMs: 0 },
      { name: 'B', peerId: B, self: false, spanMs: 16, ownMs: 2, queueMs: 0, runMs: 0 },
      { name: 'C', peerId: C, self: false, spanMs: 12, ownMs: 12, queueMs: 1, runMs: 9 },
    ])
    const text = formatTimeline(t, colours(false))
    expect(text).toContain(`trace ${'f'.repeat(32)} · task task-0001`)
    expect(text).toMatch(/B → C\s+attempt → serve\s+2\.00 ms\s+clocks differ/)
  })

  it('names the peers whose spans are missing', () => {
    const partial = timeline({ traceId: 'f'.repeat(32), self: A, spans: spans.slice(0, 2), missing: [B] })
    expect(partial.nodes.map((n) => n.name)).toEqual(['A'])
    expect(formatTimeline(partial, colours(false))).toContain('no spans from 12D3…BBBB')
  })
})
