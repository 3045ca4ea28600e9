/**
 * The network of `demo run`: N agents (demo nodes, each its own process) and the requester (a
 * node in the demo's own process), all on 127.0.0.1, all finding each other by mDNS on the
 * loopback interface under a service tag of this run's own. Tracks who sees whom, from the nodes'
 * own events.
 */
import { join } from 'node:path'
import { createNode, type P2PNode } from '@p2p-ai/node'
import type { Io } from '../../io.js'
import { DEMO_MODEL } from '../constants.js'
import { type AgentEvent, AgentProcess } from './agent.js'

export const REQUESTER = 'requester'

/** Who connected to whom, and when (the first time), by name. */
export class PeerGraph {
  readonly #names = new Map<string, string>()
  readonly #connected = new Map<string, Set<string>>()
  /** `a|b` (sorted names) → time of the first connection between them. */
  readonly #firstSeen = new Map<string, number>()
  /** `a>b` → when `a` last saw `b` connect. */
  readonly #seenAt = new Map<string, number>()
  readonly #listeners = new Set<() => void>()

  name(peerId: string | undefined): string {
    if (peerId === undefined) return '?'
    return this.#names.get(peerId) ?? `${peerId.slice(0, 12)}…`
  }

  addNode(name: string, peerId: string): void {
    this.#names.set(peerId, name)
    if (!this.#connected.has(name)) this.#connected.set(name, new Set())
  }

  /** The peers `name` is connected to now, by name. */
  peersOf(name: string): ReadonlySet<string> {
    return this.#connected.get(name) ?? new Set()
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  connect(name: string, peerId: string, at: number): { first: boolean; other: string } {
    const other = this.name(peerId)
    const set = this.#connected.get(name) ?? new Set<string>()
    this.#connected.set(name, set)
    set.add(other)
    this.#seenAt.set(`${name}>${other}`, at)
    const key = [name, other].sort().join('|')
    const first = !this.#firstSeen.has(key)
    if (first) this.#firstSeen.set(key, at)
    for (const l of this.#listeners) l()
    return { first, other }
  }

  disconnect(name: string, peerId: string): void {
    this.#connected.get(name)?.delete(this.name(peerId))
    for (const l of this.#listeners) l()
  }

  /** When `name` last saw `other` connect (undefined if never). */
  seenAt(name: string, other: string): number | undefined {
    return this.#seenAt.get(`${name}>${other}`)
  }

  /** First connection time of each pair, by sorted names. */
  pairs(): Array<{ a: string; b: string; at: number }> {
    return [...this.#firstSeen].map(([key, at]) => {
      const [a = '', b = ''] = key.split('|')
      return { a, b, at }
    })
  }
}

/** Starts the agent processes (in parallel); each serves the demo's model, registered beforehand. */
export function spawnAgents(io: Io, dir: string, count: number, serviceTag: string): AgentProcess[] {
  return Array.from(
    { length: count },
    (_, i) =>
      new AgentProcess({
        name: `agent-${i + 1}`,
        dataDir: join(dir, `agent-${i + 1}`),
        serviceTag,
        env: io.env,
        cwd: io.cwd,
      }),
  )
}

/** The requester: a node in this process that only asks (its engine runs nothing). */
export async function startRequester(dir: string, serviceTag: string, signal: AbortSignal): Promise<P2PNode> {
  return createNode({
    dataDir: join(dir, REQUESTER),
    network: {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: { enabled: true, interface: 'loopback', serviceTag },
    },
    engineOptions: { builtins: false, workers: false },
    signal,
  })
}

/** Feeds an agent's peer events into the graph (every node's name must be in it already). */
export function trackAgent(graph: PeerGraph, agent: AgentProcess): () => void {
  const apply = (event: AgentEvent): void => {
    if (event.event === 'peer:connect') graph.connect(agent.name, event.peerId, event.at)
    else if (event.event === 'peer:failed' || event.event === 'peer:remove')
      graph.disconnect(agent.name, event.peerId)
  }
  // Events that arrived before the agent was in the graph (a fast peer) count too.
  for (const event of agent.events) apply(event)
  return agent.onEvent(apply)
}

/** Feeds the requester's peer events into the graph (every node's name must be in it already). */
export function trackRequester(graph: PeerGraph, node: P2PNode): () => void {
  for (const peer of node.peers())
    if (peer.status === 'connected') graph.connect(REQUESTER, peer.peerId, Date.now())
  const onConnect = (evt: CustomEvent<{ peerId: string }>): void => {
    graph.connect(REQUESTER, evt.detail.peerId, Date.now())
  }
  const onFailed = (evt: CustomEvent<{ peer: { peerId: string } }>): void => {
    graph.disconnect(REQUESTER, evt.detail.peer.peerId)
  }
  const onRemove = (evt: CustomEvent<{ peerId: string }>): void =>
    graph.disconnect(REQUESTER, evt.detail.peerId)
  node.addEventListener('peer:connect', onConnect)
  node.addEventListener('peer:failed', onFailed)
  node.addEventListener('peer:remove', onRemove)
  return () => {
    node.removeEventListener('peer:connect', onConnect)
    node.removeEventListener('peer:failed', onFailed)
    node.removeEventListener('peer:remove', onRemove)
  }
}

/** Whether the requester knows that `peerId` runs every type in `types` (and the demo's model for embed). */
export function canRun(node: P2PNode, peerId: string, types: readonly string[]): boolean {
  const peer = node.peers().find((p) => p.peerId === peerId)
  const caps = peer?.status === 'connected' ? peer.capabilities : undefined
  if (caps === undefined) return false
  if (!types.every((t) => caps.taskTypes.includes(t))) return false
  const needsModel = types.includes('embed') || types.includes('tokenize')
  return !needsModel || caps.models.some((m) => m.id === DEMO_MODEL)
}
