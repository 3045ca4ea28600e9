/**
 * What `debug analyze` looks for in a snapshot, as data: each rule names a problem, how bad it is,
 * how to see it in a snapshot, and what to do about it. `analyze()` (analyze.ts) runs them all; a
 * new check is a new entry here, and its test a snapshot that has the problem.
 */
import { TRACE_CONTEXT_MINOR } from '@p2p-ai/protocol/constants'
import { BIN_NAME } from '../constants.js'
import type { SnapshotJson } from '../control/debug-types.js'

export type Severity = 'critical' | 'warning' | 'info'

/** A rule that found something: what it saw, in numbers. */
export interface RuleMatch {
  /** What was seen, e.g. `no peer is connected`. */
  readonly evidence: string
  /** What to do, when it depends on what was seen; else the rule's own advice. */
  readonly advice?: string
}

export interface Rule {
  /** Stable, for scripts: `node.not-active`. */
  readonly id: string
  readonly severity: Severity
  /** The problem, in a few words. */
  readonly title: string
  /** What to do about it. */
  readonly advice: string
  /** What it sees in a snapshot, if anything. */
  readonly check: (s: SnapshotJson) => RuleMatch | undefined
}

const $ = (command: string): string => `\`${BIN_NAME} ${command}\``
const pct = (x: number): string => `${Math.round(x * 100)} %`
const mb = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`
const short = (peerId: string): string => `${peerId.slice(0, 12)}…${peerId.slice(-4)}`

/** Thresholds of the rules: the product documents' alert examples, and what experience adds. */
export const THRESHOLDS = Object.freeze({
  /** Fewer connected peers than this is worth a word (the documents: peer count < 2). */
  minPeers: 2,
  /** Of the machine's memory, used by this process (the documents: memory > 85 %). */
  memoryShare: 0.85,
  /** Of V8's heap limit. */
  heapShare: 0.9,
  /** Failed tasks of all finished (the documents: failure rate > 10 %), over at least `minTasks`. */
  failureRate: 0.1,
  minTasks: 20,
  /** Event loop delay, 99th percentile, ms: the node answers heartbeats late above it. */
  eventLoopP99Ms: 100,
  /** Round trip to a peer, ms. */
  slowRttMs: 500,
  /** Free space on the data directory's file system. */
  diskFreeShare: 0.05,
  /** Queued tasks per slot of concurrency. */
  queuePerSlot: 10,
})

export const RULES: readonly Rule[] = [
  {
    id: 'node.not-active',
    severity: 'critical',
    title: 'the node is not active',
    advice: `see its log for why; restart it with ${$('node stop')} and ${$('node start')}`,
    check: (s) => (s.status.state === 'ACTIVE' ? undefined : { evidence: `state ${s.status.state}` }),
  },
  {
    id: 'health.unhealthy',
    severity: 'critical',
    title: 'a component is unhealthy',
    advice:
      'the detail says which; a store or identity problem needs the data directory fixed, an engine one a restart',
    check: (s) => {
      const bad = s.health?.components.filter((c) => c.status === 'unhealthy') ?? []
      return bad.length === 0
        ? undefined
        : { evidence: bad.map((c) => `${c.name}: ${c.detail ?? c.status}`).join('; ') }
    },
  },
  {
    id: 'health.degraded',
    severity: 'warning',
    title: 'a component is degraded',
    advice: 'the detail says which; the node still works',
    check: (s) => {
      const bad = s.health?.components.filter((c) => c.status === 'degraded') ?? []
      return bad.length === 0
        ? undefined
        : { evidence: bad.map((c) => `${c.name}: ${c.detail ?? c.status}`).join('; ') }
    },
  },
  {
    id: 'peers.none',
    severity: 'warning',
    title: 'no peer is connected',
    advice:
      'on a LAN, check that mDNS runs on the right interface (`network.mdns.interface`); beyond it, give bootstrap peers (`network.bootstrap`, or `node start --bootstrap`)',
    check: (s) => (s.status.connectedPeers === 0 ? { evidence: '0 peers connected' } : undefined),
  },
  {
    id: 'peers.few',
    severity: 'info',
    title: 'fewer than two peers',
    advice:
      'one peer is one point of failure: a task has nowhere else to go when it fails; add bootstrap peers',
    check: (s) =>
      s.status.connectedPeers > 0 && s.status.connectedPeers < THRESHOLDS.minPeers
        ? { evidence: `${s.status.connectedPeers} peer connected` }
        : undefined,
  },
  {
    id: 'peers.failed',
    severity: 'warning',
    title: 'peers are failing',
    advice: `they stopped answering and are being redialled; see ${$('debug network-test')} for the ones still connected`,
    check: (s) => {
      const failed = s.peers.filter((p) => p.status === 'failed')
      return failed.length === 0
        ? undefined
        : { evidence: failed.map((p) => `${short(p.peerId)} (${p.failureReason ?? 'failed'})`).join(', ') }
    },
  },
  {
    id: 'peers.circuit-open',
    severity: 'warning',
    title: 'peers are shunned for failing tasks',
    advice:
      'their circuit breaker is open: the node sends them nothing for a while; if they are yours, check their logs',
    check: (s) => {
      const open = s.peers.filter((p) => p.reputation.circuit === 'open')
      return open.length === 0 ? undefined : { evidence: open.map((p) => short(p.peerId)).join(', ') }
    },
  },
  {
    id: 'peers.slow',
    severity: 'info',
    title: 'peers with a slow round trip',
    advice: 'tasks sent there wait on the network; the router already prefers faster peers',
    check: (s) => {
      const slow = s.peers.filter((p) => (p.rttMs ?? 0) > THRESHOLDS.slowRttMs)
      return slow.length === 0
        ? undefined
        : { evidence: slow.map((p) => `${short(p.peerId)} ${Math.round(p.rttMs ?? 0)} ms`).join(', ') }
    },
  },
  {
    id: 'peers.relayed-only',
    severity: 'info',
    title: 'every peer is reached through a relay',
    advice:
      'relayed connections carry little data and run no tasks; forward a port to this node (or turn on `network.upnp`) so peers can dial it directly',
    check: (s) => {
      const connected = s.peers.filter((p) => p.status === 'connected')
      return connected.length > 0 && connected.every((p) => p.connection?.kind === 'relayed')
        ? {
            evidence: `${connected.length} relayed connection${connected.length === 1 ? '' : 's'}, no direct one`,
          }
        : undefined
    },
  },
  {
    id: 'peers.old-protocol',
    severity: 'info',
    title: 'peers speak an older protocol minor',
    advice:
      'they take part in tasks but not in traces (minor 3), nor in batch signatures below minor 2; update them',
    check: (s) => {
      const old = s.peers.filter(
        (p) =>
          p.status === 'connected' && p.capabilities !== undefined && p.protocolMinor < TRACE_CONTEXT_MINOR,
      )
      return old.length === 0
        ? undefined
        : { evidence: old.map((p) => `${short(p.peerId)} minor ${p.protocolMinor}`).join(', ') }
    },
  },
  {
    id: 'memory.high',
    severity: 'critical',
    title: "the node uses most of the machine's memory",
    advice: 'lower `engine.concurrency`, serve fewer or smaller models, or give the machine more memory',
    check: (s) => {
      const share = (s.process.memory.rss ?? 0) / s.process.system.totalBytes
      return share > THRESHOLDS.memoryShare
        ? {
            evidence: `${mb(s.process.memory.rss ?? 0)} resident, ${pct(share)} of ${mb(s.process.system.totalBytes)}`,
          }
        : undefined
    },
  },
  {
    id: 'memory.heap',
    severity: 'warning',
    title: 'the JavaScript heap is nearly full',
    advice: `take a heap snapshot with ${$('debug heap-dump')} and look for what grows; the node fails when it is full`,
    check: (s) => {
      const share = s.process.heap.usedBytes / s.process.heap.limitBytes
      return share > THRESHOLDS.heapShare
        ? { evidence: `${mb(s.process.heap.usedBytes)} of ${mb(s.process.heap.limitBytes)} (${pct(share)})` }
        : undefined
    },
  },
  {
    id: 'tasks.failing',
    severity: 'warning',
    title: 'many tasks fail',
    advice: `the snapshot's tasks say why (their error codes); ${$('task trace <id>')} shows where one went wrong`,
    check: (s) => {
      const t = s.status.tasks
      const bad = t.failed + t.timedOut
      const finished = t.completed + bad
      if (finished < THRESHOLDS.minTasks || bad / finished <= THRESHOLDS.failureRate) return undefined
      const codes = new Map<string, number>()
      for (const task of s.tasks) {
        if (task.error !== undefined) codes.set(task.error.code, (codes.get(task.error.code) ?? 0) + 1)
      }
      const top = [...codes].sort((a, b) => b[1] - a[1]).slice(0, 3)
      return {
        evidence: `${bad} of ${finished} finished tasks failed or timed out (${pct(bad / finished)})${
          top.length === 0 ? '' : `; recent codes: ${top.map(([code, n]) => `${code} ×${n}`).join(', ')}`
        }`,
      }
    },
  },
  {
    id: 'tasks.backlog',
    severity: 'warning',
    title: 'tasks pile up in the queue',
    advice:
      'the node takes more than it runs: raise `engine.concurrency` if the machine has room, or let peers take more',
    check: (s) => {
      const slots = Math.max(1, s.status.capabilities.concurrency)
      return s.status.tasks.queued > slots * THRESHOLDS.queuePerSlot
        ? { evidence: `${s.status.tasks.queued} queued for ${slots} slot${slots === 1 ? '' : 's'}` }
        : undefined
    },
  },
  {
    id: 'event-loop.slow',
    severity: 'warning',
    title: 'the event loop is often blocked',
    advice: `something runs long on the main thread; record what with ${$('debug profile --duration 30')} and open it in Chrome DevTools`,
    check: (s) =>
      s.process.eventLoop.p99Ms > THRESHOLDS.eventLoopP99Ms
        ? {
            evidence: `event loop delay p99 ${s.process.eventLoop.p99Ms} ms (max ${s.process.eventLoop.maxMs} ms)`,
          }
        : undefined,
  },
  {
    id: 'disk.low',
    severity: 'critical',
    title: "the data directory's disk is nearly full",
    advice:
      'free space: results, traces and models live there; lower `engine.resultTtlMs` or `tracing.retentionHours`',
    check: (s) =>
      s.disk !== undefined && s.disk.freeBytes / s.disk.totalBytes < THRESHOLDS.diskFreeShare
        ? { evidence: `${mb(s.disk.freeBytes)} free of ${mb(s.disk.totalBytes)}` }
        : undefined,
  },
  {
    id: 'logs.errors',
    severity: 'warning',
    title: 'the node logged errors',
    advice: 'the messages say what failed; the snapshot has the lines around them',
    check: (s) => {
      const errors = s.logs.lines.filter((line) => line.level === 'error' || line.level === 'fatal')
      if (errors.length === 0) return undefined
      const byMessage = new Map<string, number>()
      for (const line of errors) byMessage.set(String(line.msg), (byMessage.get(String(line.msg)) ?? 0) + 1)
      const top = [...byMessage].sort((a, b) => b[1] - a[1]).slice(0, 3)
      return { evidence: top.map(([msg, n]) => `"${msg}" ×${n}`).join(', ') }
    },
  },
  {
    id: 'tracing.off',
    severity: 'info',
    title: 'tracing is off',
    advice: `turn on \`tracing.enabled\` (and install @p2p-ai/tracing) so ${$('task trace <id>')} can show where a task went`,
    check: (s) => (s.tracing.enabled ? undefined : { evidence: 'the node records no spans' }),
  },
]
