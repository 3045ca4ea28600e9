/**
 * A synthetic swarm behind the same `DashboardSource` a running node gives: this node, `peers`
 * connected peers, and `reachedPerPeer` neighbours each peer announces (so 100 × 9 makes a
 * 1,000-node graph). Everything else of the dashboard (topology, diffs, the live feed, history,
 * the page) runs as it does for a real node. The benchmark measures the page with it; it also
 * shows the page without a swarm at hand. Deterministic for a seed: `step()` churns and moves
 * tasks; `start(ms)` does so on a timer.
 */
import type { AlertView, FlowEvent, TaskDetailJson, TaskRow } from '../wire.js'
import type { DashboardSource, PeerView, SelfInfo, SourceEvent } from './types.js'

export interface SyntheticSwarmInit {
  /** Connected peers. @default 100 */
  readonly peers?: number
  /** Neighbours each peer announces (at most 64: one per task type it forwards). @default 9 */
  readonly reachedPerPeer?: number
  /** @default 1 */
  readonly seed?: number
}

export interface SyntheticSwarm extends DashboardSource {
  /** Nodes in the graph now (this node, its peers, those they reach). */
  readonly size: number
  /** One tick: a peer leaves or comes back, load changes, tasks move along edges. */
  step(): void
  /** Raises an alert as a node's alert rules would (`alert:raised`). */
  raise(alert: { name: string; message: string; value?: number; threshold: number }): void
  /** Clears a raised alert (`alert:cleared`). */
  clear(name: string): void
  /** Ticks every `ms` until `stop()`. */
  start(ms: number): void
  stop(): void
}

const TYPES = ['embed', 'chunk', 'ocr', 'generate', 'ner', 'tokenize', 'mock', 'classify', 'rerank']
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

export function syntheticSwarm(init: SyntheticSwarmInit = {}): SyntheticSwarm {
  const random = mulberry32(init.seed ?? 1)
  const peerId = (): string =>
    `12D3KooW${Array.from({ length: 44 }, () => ALPHABET[Math.floor(random() * 58)]).join('')}`
  const reachedPerPeer = Math.min(64, init.reachedPerPeer ?? 9)
  const selfId = peerId()
  const startedAt = Date.now()
  const peers: Array<{ view: PeerView; up: boolean }> = Array.from({ length: init.peers ?? 100 }, (_, i) => {
    const id = peerId()
    const concurrency = 1 + Math.floor(random() * 8)
    const reach = Array.from({ length: reachedPerPeer }, (_, j) => ({
      taskType: `${TYPES[j % TYPES.length]}${j >= TYPES.length ? `-${j}` : ''}`,
      hops: 1,
      via: peerId(),
    }))
    const relayed = i % 10 === 3
    const view: PeerView = {
      peerId: id,
      status: 'connected',
      connection: {
        kind: relayed ? 'relayed' : 'direct',
        ...(relayed ? { via: selfId } : {}),
        limited: relayed,
        remoteAddr: `/ip4/11.8.${i >> 8}.${i & 255}/tcp/4001`,
        direction: i % 2 === 0 ? 'inbound' : 'outbound',
      },
      addresses: [`/ip4/11.8.${i >> 8}.${i & 255}/tcp/4001`],
      rttMs: Math.round(2 + random() * 300),
      agentVersion: 'p2p-ai/0.0.0 (synthetic)',
      capabilities: {
        protocolMinor: 4,
        taskTypes: TYPES.filter(() => random() < 0.5),
        models: [],
        concurrency,
        load: { running: Math.floor(random() * (concurrency + 1)), queued: 0 },
        reach,
      },
      outstanding: 0,
      reputation: { successRate: 0.8 + random() * 0.2, circuit: i % 37 === 5 ? 'open' : 'closed' },
    }
    return { view, up: true }
  })
  const listeners = new Set<(event: SourceEvent) => void>()
  const emit = (event: SourceEvent): void => {
    for (const l of listeners) l(event)
  }
  const alerts = new Map<string, AlertView>()
  const tasks: TaskRow[] = []
  let timer: NodeJS.Timeout | undefined
  let taskSeq = 0

  const flow = (
    kind: FlowEvent['kind'],
    to: string,
    from = selfId,
    extra: Partial<FlowEvent> = {},
  ): FlowEvent => ({
    kind,
    at: Date.now(),
    task: `synthetic-${taskSeq}`,
    type: TYPES[taskSeq % TYPES.length]!,
    from,
    to,
    ...extra,
  })

  const self = (): SelfInfo => ({
    peerId: selfId,
    state: 'active',
    version: '0.0.0',
    agentVersion: 'p2p-ai/0.0.0 (synthetic)',
    addresses: ['/ip4/127.0.0.1/tcp/4001'],
    startedAt,
    taskTypes: TYPES,
    models: [],
    concurrency: 4,
    load: { running: tasks.filter((t) => t.status === 'RUNNING').length, queued: 0 },
  })

  const detail = (id: string): TaskDetailJson | undefined => {
    const row = tasks.find((t) => t.id === id)
    return row === undefined ? undefined : { task: row, attempts: [] }
  }

  return {
    get size() {
      return 1 + peers.filter((p) => p.up).length * (1 + reachedPerPeer)
    },
    self,
    peers: () => peers.filter((p) => p.up).map((p) => p.view),
    alerts: (): AlertView[] => [...alerts.values()],
    subscribe(listener, signal) {
      listeners.add(listener)
      signal.addEventListener('abort', () => listeners.delete(listener), { once: true })
    },
    tasks: {
      list: async (filter) => tasks.slice(-filter.limit).reverse(),
      detail: async (id) => detail(id),
      async submit() {
        throw Object.assign(new Error('a synthetic swarm runs no tasks'), {
          code: 'ERR_UNSUPPORTED_TASK_TYPE',
        })
      },
      stream: () => undefined,
    },
    step() {
      // One peer in ten steps leaves or comes back; a few tasks go out and come back.
      const p = peers[Math.floor(random() * peers.length)]!
      if (random() < 0.1) {
        p.up = !p.up
        emit({ type: 'peers' })
      }
      for (let i = 0; i < 5; i++) {
        const to = peers[Math.floor(random() * peers.length)]!
        if (!to.up) continue
        taskSeq++
        emit({ type: 'flow', flow: flow('sent', to.view.peerId) })
        const latencyMs = Math.round(5 + random() * 400)
        if (random() < 0.05) {
          const next = peers[Math.floor(random() * peers.length)]!.view.peerId
          emit({
            type: 'flow',
            flow: flow('failover', next, to.view.peerId, { code: 'ERR_PEER_UNREACHABLE' }),
          })
        } else {
          emit({ type: 'flow', flow: flow('answered', selfId, to.view.peerId, { latencyMs }) })
        }
        tasks.push({
          id: `synthetic-${taskSeq}`,
          type: TYPES[taskSeq % TYPES.length]!,
          status: 'COMPLETED',
          side: 'submitted',
          peer: to.view.peerId,
          queuedAt: Date.now() - latencyMs,
          finishedAt: Date.now(),
          latencyMs,
          attempts: 1,
        })
        if (tasks.length > 500) tasks.shift()
      }
    },
    raise(alert) {
      const at = Date.now()
      const view: AlertView = { ...alert, active: true, since: at }
      alerts.set(alert.name, view)
      emit({ type: 'alert', alert: { at, state: 'raised', ...alert } })
    },
    clear(name) {
      const raised = alerts.get(name)
      if (raised === undefined) return
      alerts.set(name, { name, active: false, message: raised.message, threshold: raised.threshold })
      const { message, threshold } = raised
      emit({ type: 'alert', alert: { at: Date.now(), name, state: 'cleared', message, threshold } })
    },
    start(ms) {
      timer ??= setInterval(() => this.step(), ms)
      timer.unref()
    },
    stop() {
      clearInterval(timer)
      timer = undefined
    },
  }
}

/** A small seeded generator: the same swarm for the same seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
