/**
 * The demo's nodes: real `p2p-ai-agents node start` processes, each with a data directory of its
 * own, listening on 127.0.0.1 only and finding the others by mDNS on the loopback interface under
 * a service tag of the demo's own (so two demos, or a demo and a test, never see each other).
 * `demo start` leaves them running on their own; `demo run` keeps them tied to itself.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { sleep } from '../commands/common.js'
import { type ControlClient, connectToNode } from '../control/client.js'
import type { PeerJson, StatusJson } from '../control/types.js'
import { type DaemonMode, type SpawnedNode, spawnNode } from '../daemon/spawn.js'
import type { Io } from '../io.js'
import { isNodeProcess, removeStaleFiles } from '../runtime.js'
import { MESH_TIMEOUT_MS, NODE_CONCURRENCY, NODE_START_TIMEOUT_MS, STOP_TIMEOUT_MS } from './constants.js'
import { buildModel, registerModel } from './model.js'
import type { DemoNode, DemoState } from './state.js'

/** A service tag no other demo (or test) on this machine shares. */
export function serviceTagFor(pid: number): string {
  return `_p2p-ai-demo-${pid}-${Math.random().toString(36).slice(2, 8)}._udp.local`
}

export interface DemoNodeInit {
  readonly dataDir: string
  readonly serviceTag: string
  readonly mode: DaemonMode
  /** Peers to dial at start, besides those mDNS finds. */
  readonly bootstrap?: readonly string[]
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly signal?: AbortSignal
}

/** Starts one demo node; its `ready` resolves once it listens. */
export async function startDemoNode(init: DemoNodeInit): Promise<SpawnedNode> {
  // ONNX Runtime leaves files in the temporary directory of a process: keep them with the node's.
  const tmp = join(init.dataDir, 'tmp')
  await mkdir(tmp, { recursive: true, mode: 0o700 })
  const args = ['--listen', '/ip4/127.0.0.1/tcp/0', '--mdns-interface', 'loopback']
  for (const b of init.bootstrap ?? []) args.push('--bootstrap', b)
  return spawnNode({
    dataDir: init.dataDir,
    args,
    mode: init.mode,
    cwd: init.cwd,
    readyTimeoutMs: NODE_START_TIMEOUT_MS,
    ...(init.signal === undefined ? {} : { signal: init.signal }),
    env: {
      ...init.env,
      NO_COLOR: '1',
      TMPDIR: tmp,
      P2P_AI_NETWORK__MDNS__SERVICE_TAG: init.serviceTag,
      P2P_AI_ENGINE__CONCURRENCY: String(NODE_CONCURRENCY),
      // Quick to notice a node that was killed: the demo kills one on purpose.
      P2P_AI_HEARTBEAT__INTERVAL_MS: '2000',
      P2P_AI_HEARTBEAT__TIMEOUT_MS: '1500',
    },
  })
}

/**
 * `demo start`: `count` nodes that run on their own, the first one first and the others
 * bootstrapping from it (mDNS on loopback finds the rest), each serving the demo's model.
 */
export async function startNetwork(
  io: Io,
  dir: string,
  count: number,
  onNode: (node: DemoNode) => void,
): Promise<DemoState> {
  const serviceTag = serviceTagFor(process.pid)
  const dirs = Array.from({ length: count }, (_, i) => join(dir, `node-${i + 1}`))
  const model = await buildModel(dir)
  await Promise.all(dirs.map((d) => registerModel(d, model)))
  const start = async (name: string, dataDir: string, bootstrap: readonly string[]): Promise<DemoNode> => {
    const node = await startDemoNode({
      dataDir,
      serviceTag,
      mode: 'detached',
      bootstrap,
      env: io.env,
      cwd: io.cwd,
      signal: io.signal,
    })
    try {
      const { status } = await node.ready
      const started = {
        name,
        dataDir,
        pid: status.pid,
        peerId: status.peerId,
        address: status.addresses[0] ?? '',
      }
      onNode(started)
      return started
    } finally {
      if (node.child.connected) node.child.disconnect()
      node.child.unref()
    }
  }
  const first = await start('node-1', dirs[0]!, [])
  const rest = await Promise.all(dirs.slice(1).map((d, i) => start(`node-${i + 2}`, d, [first.address])))
  return { startedAt: Date.now(), serviceTag, nodes: [first, ...rest] }
}

/** A node's client, or undefined when it is not running. */
export async function clientOf(node: DemoNode): Promise<ControlClient | undefined> {
  try {
    return await connectToNode(node.dataDir)
  } catch {
    return undefined
  }
}

/** A node's status and peers, or undefined when it does not answer. */
export async function probe(node: DemoNode): Promise<{ status: StatusJson; peers: PeerJson[] } | undefined> {
  const client = await clientOf(node)
  if (client === undefined) return undefined
  try {
    const [status, peers] = await Promise.all([
      client.status({ timeoutMs: 3000 }),
      client.peers({ timeoutMs: 3000 }),
    ])
    return { status, peers }
  } catch {
    return undefined
  }
}

/** Waits until every node sees all the others connected (or the timeout passes); returns the peer counts. */
export async function waitForMesh(state: DemoState, signal: AbortSignal): Promise<number[]> {
  const deadline = Date.now() + MESH_TIMEOUT_MS
  const want = state.nodes.length - 1
  for (;;) {
    const probes = await Promise.all(state.nodes.map((n) => probe(n)))
    const counts = probes.map((p) => p?.peers.filter((x) => x.status === 'connected').length ?? 0)
    if (counts.every((c) => c >= want) || Date.now() > deadline) return counts
    await sleep(300, signal)
  }
}

/** Stops every node of the demo that still runs: gracefully, then by signal. */
export async function stopNetwork(
  state: DemoState,
): Promise<Array<{ node: DemoNode; stopped: 'graceful' | 'signal' | 'not running' }>> {
  return Promise.all(
    state.nodes.map(async (node) => {
      if (!isNodeProcess(node.pid)) {
        await removeStaleFiles(node.dataDir, node.pid)
        return { node, stopped: 'not running' as const }
      }
      let how: 'graceful' | 'signal' = 'graceful'
      try {
        await (await connectToNode(node.dataDir)).shutdown({ timeoutMs: 3000 })
      } catch {
        how = 'signal'
        process.kill(node.pid, 'SIGTERM')
      }
      const deadline = Date.now() + STOP_TIMEOUT_MS
      while (isNodeProcess(node.pid) && Date.now() < deadline) await sleep(100)
      if (isNodeProcess(node.pid)) {
        process.kill(node.pid, 'SIGKILL')
        how = 'signal'
      }
      await removeStaleFiles(node.dataDir, node.pid)
      return { node, stopped: how }
    }),
  )
}
