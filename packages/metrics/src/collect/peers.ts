/**
 * Peers, from the peer directory (the one place that knows them): how many are connected or
 * failed, how each connected one is reached (direct or relayed, and over which transport), and
 * the directory's connect, failure and removal events.
 */
import type { P2PNode } from '@p2p-ai/node'
import type { Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { transportOf } from '../labels.js'
import { counter, gauge } from './build.js'

const KINDS = ['direct', 'relayed'] as const
const TRANSPORTS = ['tcp', 'websockets', 'quic', 'other'] as const
const EVENTS = ['peer:connect', 'peer:failed', 'peer:remove'] as const

export function collectPeers(registry: Registry, node: P2PNode): () => void {
  gauge(registry, METRICS.peers, function () {
    let connected = 0
    let failed = 0
    for (const peer of node.peers()) {
      if (peer.status === 'connected') connected++
      else failed++
    }
    this.set({ status: 'connected' }, connected)
    this.set({ status: 'failed' }, failed)
  })
  gauge(registry, METRICS.peerConnections, function () {
    const counts = new Map<string, number>()
    for (const peer of node.peers()) {
      const c = peer.connection
      if (peer.status !== 'connected' || c === undefined) continue
      const key = `${c.kind} ${transportOf(c.remoteAddr)}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    // Every combination, so a series drops to 0 rather than vanishing when its last peer leaves.
    for (const kind of KINDS) {
      for (const transport of TRANSPORTS)
        this.set({ kind, transport }, counts.get(`${kind} ${transport}`) ?? 0)
    }
  })
  const events = counter(registry, METRICS.peerEvents)
  const children = EVENTS.map((type) => {
    const child = events.labels({ event: type.slice('peer:'.length) })
    child.inc(0)
    const listener = (): void => child.inc()
    node.addEventListener(type, listener)
    return () => node.removeEventListener(type, listener)
  })
  return () => {
    for (const detach of children) detach()
  }
}
