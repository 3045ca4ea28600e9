import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { SnapshotJson } from '../src/control/debug-types.js'
import { analyze } from '../src/debug/analyze.js'
import { RULES } from '../src/debug/rules.js'

const PEER = '12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV'
const GB = 1024 ** 3

const peer = (n: number, extra: Record<string, unknown> = {}) => ({
  peerId: `12D3KooW${String(n).repeat(44).slice(0, 44)}`,
  status: 'connected',
  connection: { kind: 'direct', limited: false, remoteAddr: '/ip4/10.0.0.2/tcp/1', direction: 'outbound' },
  addresses: [],
  rttMs: 3,
  lastSeen: 0,
  protocols: [],
  capabilities: { protocolMinor: 3 },
  protocolMinor: 3,
  outstanding: 0,
  reputation: { circuit: 'closed' },
  connectedAt: 0,
  reconnectAttempts: 0,
  ...extra,
})

/** A node with nothing wrong: three peers, healthy, idle, plenty of memory and disk. */
function healthy(): SnapshotJson {
  return {
    kind: 'p2p-ai-debug-snapshot',
    version: 1,
    takenAt: 1767225600000,
    status: {
      peerId: PEER,
      state: 'ACTIVE',
      ready: true,
      connectedPeers: 3,
      capabilities: { taskTypes: ['mock'], models: [], concurrency: 4 },
      tasks: { submitted: 100, completed: 99, failed: 1, timedOut: 0, cancelled: 0, running: 0, queued: 0 },
    },
    health: { status: 'healthy', components: [{ name: 'engine', status: 'healthy', local: true }] },
    peers: [peer(1), peer(2), peer(3)],
    config: {},
    logs: { lines: [{ level: 'info', msg: 'state ACTIVE' }], dropped: 0 },
    metrics: { format: 'counters', note: '', tasks: {} },
    tasks: [],
    tracing: { enabled: true },
    process: {
      memory: { rss: 0.2 * GB },
      system: { totalBytes: 16 * GB, freeBytes: 8 * GB, loadAverage: [0.5] },
      heap: { limitBytes: 4 * GB, usedBytes: 0.1 * GB },
      eventLoop: { p50Ms: 10, p99Ms: 20, maxMs: 30 },
    },
    disk: { totalBytes: 100 * GB, freeBytes: 50 * GB },
  } as unknown as SnapshotJson
}

// biome-ignore lint/suspicious/noExplicitAny: each case edits a snapshot freely, to break one rule
type Editable = Record<string, any>

/** A snapshot with one problem for each rule, by rule id. */
const PROBLEMS: Record<string, (s: Editable) => void> = {
  'node.not-active': (s) => (s.status.state = 'SHUTTING_DOWN'),
  'health.unhealthy': (s) =>
    (s.health.components = [{ name: 'store', status: 'unhealthy', detail: 'disk I/O error' }]),
  'health.degraded': (s) =>
    (s.health.components = [{ name: 'network', status: 'degraded', detail: 'no peers' }]),
  'peers.none': (s) => {
    s.status.connectedPeers = 0
    s.peers = []
  },
  'peers.few': (s) => {
    s.status.connectedPeers = 1
    s.peers = [peer(1)]
  },
  'peers.failed': (s) => s.peers.push(peer(4, { status: 'failed', failureReason: 'heartbeat timeout' })),
  'peers.circuit-open': (s) => (s.peers[0].reputation = { circuit: 'open' }),
  'peers.slow': (s) => (s.peers[1].rttMs = 900),
  'peers.relayed-only': (s) => {
    for (const p of s.peers) p.connection = { ...p.connection, kind: 'relayed', limited: true }
  },
  'peers.old-protocol': (s) => (s.peers[2].protocolMinor = 2),
  'memory.high': (s) => (s.process.memory.rss = 15 * GB),
  'memory.heap': (s) => (s.process.heap.usedBytes = 3.9 * GB),
  'tasks.failing': (s) => {
    s.status.tasks = { ...s.status.tasks, completed: 50, failed: 20, timedOut: 5 }
    s.tasks = [{ id: 't', error: { code: 'ERR_PEER_UNRESPONSIVE', message: '' } }]
  },
  'tasks.backlog': (s) => (s.status.tasks.queued = 500),
  'event-loop.slow': (s) => (s.process.eventLoop = { p50Ms: 40, p99Ms: 450, maxMs: 900 }),
  'disk.low': (s) => (s.disk.freeBytes = 1 * GB),
  'logs.errors': (s) => s.logs.lines.push({ level: 'error', msg: 'control API request failed' }),
  'tracing.off': (s) => (s.tracing.enabled = false),
}

describe('debug analyze', () => {
  it('finds nothing wrong with a healthy node, and says what it checked', () => {
    const analysis = analyze(healthy())
    expect(analysis.findings).toEqual([])
    expect(analysis.passed).toEqual(RULES.map((r) => r.id))
  })

  it('has a snapshot with a problem for every rule, and each rule finds its own problem', () => {
    expect(Object.keys(PROBLEMS).sort()).toEqual(RULES.map((r) => r.id).sort())
    for (const [id, breakIt] of Object.entries(PROBLEMS)) {
      const snapshot = healthy() as unknown as Editable
      breakIt(snapshot)
      const found = analyze(snapshot as unknown as SnapshotJson).findings
      // peers.none also leaves fewer than two peers, but only the worse of the two speaks.
      expect(
        found.map((f) => f.id),
        id,
      ).toContain(id)
      const finding = found.find((f) => f.id === id)
      expect(finding?.evidence.length, id).toBeGreaterThan(5)
      expect(finding?.advice.length, id).toBeGreaterThan(20)
    }
  })

  it('orders findings by severity, and names what it saw', () => {
    const snapshot = healthy() as unknown as Editable
    PROBLEMS['tracing.off']?.(snapshot)
    PROBLEMS['memory.high']?.(snapshot)
    PROBLEMS['tasks.failing']?.(snapshot)
    const found = analyze(snapshot as unknown as SnapshotJson).findings
    expect(found.map((f) => f.severity)).toEqual(['critical', 'warning', 'info'])
    expect(found[1]?.evidence).toContain('25 of 75 finished tasks failed or timed out (33 %)')
    expect(found[1]?.evidence).toContain('ERR_PEER_UNRESPONSIVE ×1')
  })

  it('is documented rule by rule in docs/observability.md, with its severity', () => {
    const doc = readFileSync(new URL('../../../docs/observability.md', import.meta.url), 'utf8')
    for (const rule of RULES) expect(doc, rule.id).toContain(`| \`${rule.id}\` | ${rule.severity} |`)
  })

  it('passes over what a snapshot of another version lacks, instead of failing', () => {
    const partial = { ...healthy(), process: undefined } as unknown as SnapshotJson
    const analysis = analyze(partial)
    expect(analysis.passed).toContain('memory.high')
  })
})
