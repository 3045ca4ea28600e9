/** Steps 1 and 2 of `demo run`: start the agents and the requester, then watch them find each other. */
import type { P2PNode } from '@p2p-ai/node'
import { duration, listing, shortId } from '../../term/format.js'
import { DEMO_MODEL_SHAPE, DISCOVERY_TIMEOUT_MS, NODE_START_TIMEOUT_MS } from '../constants.js'
import { type AgentProcess, type Ready, waitUntil } from './agent.js'
import type { Narrator } from './narrate.js'
import { canRun, PeerGraph, REQUESTER, trackAgent, trackRequester } from './network.js'
import type { DiscoveryReport } from './report.js'

export interface Started {
  readonly ready: ReadonlyMap<string, Ready>
  readonly requesterReadyAt: number
}

/** Step 1: waits for every agent to listen, narrating each; throws `AgentStartError` if one does not. */
export async function awaitAgents(
  agents: readonly AgentProcess[],
  requester: Promise<{ readonly node: P2PNode; readonly at: number }>,
  say: Narrator,
  signal: AbortSignal,
): Promise<Started & { node: P2PNode }> {
  const p = say.paint
  const ready = new Map<string, Ready>()
  const width = Math.max(REQUESTER.length, ...agents.map((a) => a.name.length))
  say.note(
    `${agents.length} processes starting: each is \`p2p-ai-agents node start\`, which loads the network stack and ONNX Runtime and starts its worker threads…`,
  )
  await Promise.all(
    agents.map(async (agent) => {
      const r = await agent.waitReady(NODE_START_TIMEOUT_MS, signal)
      ready.set(agent.name, r)
      const address = r.addresses[0]?.replace(/\/p2p\/.*$/, '') ?? '?'
      say.ok(
        `${p.bold(agent.name.padEnd(width))}  ${shortId(r.peerId)}  pid ${String(r.pid).padEnd(7)} ${address}  ${p.dim(`ready in ${duration(r.at - agent.spawnedAt)}`)}`,
      )
    }),
  )
  const { node, at: requesterReadyAt } = await requester
  say.ok(
    `${p.bold(REQUESTER.padEnd(width))}  ${shortId(node.peerId)}  this process: it sends the tasks and runs none itself`,
  )
  return { ready, requesterReadyAt, node }
}

/** Step 2: waits until every node sees every other and the requester knows what each agent runs. */
export async function discover(
  agents: readonly AgentProcess[],
  node: P2PNode,
  started: Started,
  types: readonly string[],
  say: Narrator,
  signal: AbortSignal,
): Promise<{ report: DiscoveryReport; graph: PeerGraph; stopTracking: () => void }> {
  const graph = new PeerGraph()
  // Names first: an agent may have connected to the requester before it was in the graph.
  for (const a of agents) graph.addNode(a.name, started.ready.get(a.name)!.peerId)
  graph.addNode(REQUESTER, node.peerId)
  const offs = [...agents.map((a) => trackAgent(graph, a)), trackRequester(graph, node)]
  const names = [...agents.map((a) => a.name), REQUESTER]
  const readyAt = new Map<string, number>([
    ...[...started.ready].map(([name, r]): [string, number] => [name, r.at]),
    [REQUESTER, started.requesterReadyAt],
  ])
  const lastReadyAt = Math.max(...readyAt.values())
  const complete = (name: string): boolean => names.every((n) => n === name || graph.peersOf(name).has(n))
  const announced = new Set<string>()
  const narrate = (): void => {
    for (const name of names) {
      if (announced.has(name) || !complete(name)) continue
      announced.add(name)
      const others = names.filter((n) => n !== name).map((n) => (n === REQUESTER ? 'the requester' : n))
      say.ok(
        `${say.paint.bold(name)} found ${listing(others)} ${say.paint.dim(`(+${duration(Date.now() - lastReadyAt)})`)}`,
      )
    }
  }
  offs.push(graph.onChange(narrate))
  narrate()
  const capable = (): boolean => agents.every((a) => canRun(node, started.ready.get(a.name)!.peerId, types))
  const meshed = (): boolean => names.every(complete)
  let error: unknown
  const waiting = waitUntil(() => meshed() && capable(), {
    timeoutMs: DISCOVERY_TIMEOUT_MS,
    what: 'a full mesh',
    signal,
  })
  offs.push(graph.onChange(waiting.wake))
  try {
    await waiting.promise
  } catch (err) {
    if (signal.aborted) throw err
    error = err
  }
  // The mesh was complete when the last node saw its last peer connect, by the nodes' own clocks.
  const seen = names.flatMap((a) => names.filter((b) => b !== a).map((b) => graph.seenAt(a, b)))
  const meshAt = meshed() && seen.every((t) => t !== undefined) ? Math.max(...(seen as number[])) : undefined
  const expected = (names.length * (names.length - 1)) / 2
  const connections = countConnections(graph, names)
  const pairs = graph.pairs().map(({ a, b, at }) => ({
    a,
    b,
    ms: Math.max(0, at - Math.max(readyAt.get(a) ?? at, readyAt.get(b) ?? at)),
  }))
  const report: DiscoveryReport = {
    complete: error === undefined,
    connections,
    expectedConnections: expected,
    meshMs: meshAt === undefined ? null : Math.max(0, meshAt - lastReadyAt),
    pairs,
  }
  if (error === undefined) {
    say.ok(
      `full mesh: ${connections} connections, every one found by mDNS ${duration(report.meshMs ?? 0)} after the last node started listening ${say.paint.dim('(target: under 5 s)')}`,
    )
    const caps = node.peers().find((p) => p.peerId === started.ready.get(agents[0]!.name)?.peerId)
    const models = caps?.capabilities?.models.map((m) => m.id) ?? []
    say.ok(
      `the requester knows what each agent offers: ${[...(caps?.capabilities?.taskTypes ?? [])].sort().join(', ')}; models ${listing(models)}`,
    )
  } else {
    for (const name of names) {
      if (!complete(name)) {
        const missing = names.filter((n) => n !== name && !graph.peersOf(name).has(n))
        say.fail(`${name} did not find ${listing(missing)} within ${DISCOVERY_TIMEOUT_MS / 1000} s`)
      }
    }
    if (meshed())
      say.fail(
        `some agents' capabilities did not reach the requester within ${DISCOVERY_TIMEOUT_MS / 1000} s`,
      )
  }
  return {
    report,
    graph,
    stopTracking: () => {
      for (const off of offs) off()
    },
  }
}

function countConnections(graph: PeerGraph, names: readonly string[]): number {
  let n = 0
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++)
      if (graph.peersOf(names[i]!).has(names[j]!) || graph.peersOf(names[j]!).has(names[i]!)) n++
  return n
}

/** The model line of step 1. */
export function modelLine(parameters: number, ms: number): string {
  return `built the embedding model here: a small BERT-style encoder (${DEMO_MODEL_SHAPE.hidden} dimensions, ${DEMO_MODEL_SHAPE.layers} layers, ${Math.round(parameters / 1000)} k parameters) in ${duration(ms)}; no download, random weights, real inference`
}
