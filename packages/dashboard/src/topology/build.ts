/**
 * The topology as this node knows it: itself, its connected peers, and the nodes its peers name in
 * their capability announcements' `reach` (the neighbour through which each reaches a task type it
 * does not run itself). That is as far as any node can see: two links, and of the second only the
 * neighbours a peer forwards some task type through. Failed peers are left out: a node that dies
 * leaves the graph as soon as its connection drops.
 */
import type { PeerView, SelfInfo } from '../source/types.js'
import type { GraphEdge, GraphNode, GraphNodeState, Topology } from '../wire.js'

/** How far the view reaches, as the page says it. */
export const REACH_NOTE =
  'This node, its connected peers, and the neighbours each peer names in its capability announcements (the next hop of a task type it forwards): two links at most. Connections between peers are shown only where a peer announces one.'

export function buildTopology(self: SelfInfo, peers: readonly PeerView[]): Topology {
  const nodes = new Map<string, GraphNode>()
  const edges = new Map<string, GraphEdge>()
  nodes.set(self.peerId, {
    id: self.peerId,
    kind: 'self',
    state: 'self',
    hops: 0,
    ...(self.agentVersion === undefined ? {} : { agentVersion: self.agentVersion }),
    taskTypes: self.taskTypes,
    models: self.models,
    concurrency: self.concurrency,
    load: self.load,
    addresses: self.addresses,
  })
  const failed = new Set<string>()
  const connected: PeerView[] = []
  for (const peer of peers) {
    if (peer.peerId === self.peerId) continue
    if (peer.status === 'connected') connected.push(peer)
    else failed.add(peer.peerId)
  }
  for (const peer of connected) {
    const caps = peer.capabilities
    nodes.set(peer.peerId, {
      id: peer.peerId,
      kind: 'peer',
      state: peerState(peer),
      hops: 1,
      ...(peer.agentVersion === undefined ? {} : { agentVersion: peer.agentVersion }),
      taskTypes: caps?.taskTypes ?? [],
      models: caps?.models.map((m) => m.id) ?? [],
      ...(caps === undefined ? {} : { concurrency: caps.concurrency, load: caps.load }),
      ...(peer.rttMs === undefined ? {} : { rttMs: peer.rttMs }),
      ...(peer.connection === undefined ? {} : { connection: peer.connection.kind }),
      successRate: peer.reputation.successRate,
      outstanding: peer.outstanding,
      addresses: peer.addresses,
    })
    const relay = peer.connection?.kind === 'relayed' ? peer.connection.via : undefined
    const id = edgeId(self.peerId, peer.peerId)
    edges.set(id, {
      id,
      source: self.peerId,
      target: peer.peerId,
      kind: relay === undefined ? 'direct' : 'relayed',
      ...(peer.rttMs === undefined ? {} : { rttMs: peer.rttMs }),
      ...(relay === undefined ? {} : { relay }),
    })
  }
  // What peers announce of their neighbours: after every peer is in, so a neighbour that is also
  // a peer of ours stays a peer and only gains the edge between the two.
  for (const peer of connected) {
    for (const entry of peer.capabilities?.reach ?? []) {
      const next = entry.via
      if (next === self.peerId || next === peer.peerId || failed.has(next)) continue
      const known = nodes.get(next)
      if (known === undefined || known.kind === 'reached') {
        const types = [...new Set([...(known?.taskTypes ?? []), entry.taskType])].sort()
        nodes.set(next, {
          id: next,
          kind: 'reached',
          state: 'reached',
          hops: 2,
          via: known?.via ?? peer.peerId,
          taskTypes: types,
          models: [],
        })
      }
      const id = edgeId(peer.peerId, next)
      const edge = edges.get(id)
      const types = [...new Set([...(edge?.taskTypes ?? []), entry.taskType])].sort()
      edges.set(id, {
        id,
        source: edge?.source ?? peer.peerId,
        target: edge?.target ?? next,
        kind: 'forward',
        taskTypes: types,
      })
    }
  }
  return { self: self.peerId, nodes: [...nodes.values()], edges: [...edges.values()] }
}

/** One id per pair, whichever end announced it. */
export function edgeId(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`
}

function peerState(peer: PeerView): GraphNodeState {
  if (peer.reputation.circuit === 'open') return 'degraded'
  const caps = peer.capabilities
  if (caps === undefined) return 'idle'
  if (caps.load.running >= caps.concurrency) return 'full'
  return caps.load.running > 0 || caps.load.queued > 0 ? 'busy' : 'idle'
}
