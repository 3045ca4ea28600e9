import { execFile } from 'node:child_process'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sleep } from '../commands/common.js'
import { MODELS_FILE } from '../constants.js'
import { type ControlClient, connectToNode } from '../control/client.js'
import type { PeerJson, StatusJson } from '../control/types.js'
import { NodeStartError } from '../errors.js'
import type { Io } from '../io.js'
import { isNodeProcess, removeStaleFiles } from '../runtime.js'
import { DEMO_MODEL } from './inputs.js'
import type { DemoNode, DemoState } from './state.js'

const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

/** How long `demo start` waits for the nodes to see each other. */
const MESH_TIMEOUT_MS = 20_000

/** Runs the CLI itself in a child process (how the demo starts its nodes: like a person would). */
function cli(
  args: readonly string[],
  io: Io,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...io.env, ...env }, cwd: io.cwd, timeout: 90_000 },
      (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
      },
    )
  })
}

/** Writes the synthetic demo model once, and registers it in a node's models.json. */
export async function prepareModel(dir: string, nodeDirs: readonly string[]): Promise<void> {
  const modelDir = join(dir, 'models', DEMO_MODEL)
  const { modelRegistry, writeSyntheticBertModel } = await import('@p2p-ai/engine')
  try {
    await stat(join(modelDir, 'model.onnx'))
  } catch {
    await writeSyntheticBertModel(modelDir, { hidden: 32, layers: 2, heads: 2 })
  }
  const registry = modelRegistry({ models: [{ name: DEMO_MODEL, path: modelDir }] })
  const resolved = await registry.resolve(DEMO_MODEL)
  const entry = {
    name: DEMO_MODEL,
    path: modelDir,
    sha256: resolved.sha256,
    description:
      'synthetic BERT for the demo: real inference, random weights (pull a real model with `models pull`)',
  }
  for (const nodeDir of nodeDirs) {
    await mkdir(nodeDir, { recursive: true, mode: 0o700 })
    await writeFile(join(nodeDir, MODELS_FILE), `${JSON.stringify({ models: [entry] }, null, 2)}\n`)
  }
}

/** Starts one demo node in the background (loopback only) and returns it once ready. */
export async function startDemoNode(
  io: Io,
  name: string,
  dataDir: string,
  serviceTag: string,
  bootstrap: readonly string[],
): Promise<DemoNode> {
  const args = [
    'node',
    'start',
    '--detach',
    '--json',
    '--data-dir',
    dataDir,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--mdns-interface',
    'loopback',
  ]
  for (const b of bootstrap) args.push('--bootstrap', b)
  const r = await cli(args, io, {
    P2P_AI_NETWORK__MDNS__SERVICE_TAG: serviceTag,
    P2P_AI_HEARTBEAT__INTERVAL_MS: '2000',
    P2P_AI_HEARTBEAT__TIMEOUT_MS: '1500',
  })
  if (r.code !== 0) {
    throw new NodeStartError(
      `demo ${name} did not start: ${r.stderr.split('\n')[0]?.replace(/^error: /, '') ?? ''}`,
      `see ${join(dataDir, 'node.log')}`,
    )
  }
  const out = JSON.parse(r.stdout) as { pid: number; peerId: string; addresses: string[] }
  return { name, dataDir, pid: out.pid, peerId: out.peerId, address: out.addresses[0] ?? '' }
}

/** Starts `count` nodes: the first, then the others bootstrapping from it (mDNS on loopback finds the rest). */
export async function startNetwork(
  io: Io,
  dir: string,
  count: number,
  onNode: (node: DemoNode) => void,
): Promise<DemoState> {
  const serviceTag = `_p2p-ai-demo-${process.pid}-${Date.now().toString(36)}._udp.local`
  const dirs = Array.from({ length: count }, (_, i) => join(dir, `node-${i + 1}`))
  await prepareModel(dir, dirs)
  const first = await startDemoNode(io, 'node-1', dirs[0]!, serviceTag, [])
  onNode(first)
  const rest = await Promise.all(
    dirs.slice(1).map(async (d, i) => {
      const node = await startDemoNode(io, `node-${i + 2}`, d, serviceTag, [first.address])
      onNode(node)
      return node
    }),
  )
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
      const deadline = Date.now() + 15_000
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
