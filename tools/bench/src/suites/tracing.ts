/**
 * What tracing costs the task exchange: the same mock tasks between two processes, untraced and
 * traced at 100 % sampling, side by side in one run.
 *
 * - **p2p-ai**: requester and provider with `tracing.enabled: false`: no spans anywhere.
 * - **p2p-ai traced**: both with the defaults: `@p2p-ai/tracing` loaded, every task sampled, a span
 *   for the task and its attempt on the requester and for the serve, queue and run on the
 *   provider, the trace context in each signed request, every span kept in `traces.db` in the
 *   data directory (written in batches on the store's own thread). No collector: OTLP export is off
 *   by default.
 *
 * For 1 and 128 tasks in flight, one comparison each, rounds interleaved and each traced round
 * divided by the untraced one of the same round. Issue 15's target: tracing costs under 5 % of the
 * exchange's throughput, judged at 128 in flight.
 *
 * The same file is the server: run with `P2P_AI_BENCH_TRACING_ROLE` set, it serves that role.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { mockBackend } from '@p2p-ai/engine'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { answerCpu, askCpu, lineReader } from '../child-lines.js'
import { drive } from '../drive.js'
import { compare, defineSuite, measure, type Target } from '../runner.js'

const ROLE_ENV = 'P2P_AI_BENCH_TRACING_ROLE'
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const INPUT = { text: 'hello p2p ai, a short mock task' }
const IN_FLIGHT = [1, 128] as const
const SYSTEMS = ['p2p-ai', 'p2p-ai traced'] as const
type System = (typeof SYSTEMS)[number]
const BASELINE: System = 'p2p-ai'

const TARGETS: Partial<Record<`${System} ×${number}`, Target[]>> = {
  'p2p-ai traced ×128': [{ metric: 'tasksPerSec', of: 'ratio', atLeast: 0.95, source: 'issue 15' }],
}

/** Tracing as each system runs it: off, or the defaults (on, every task sampled). */
const TRACING = {
  'p2p-ai': { enabled: false },
  'p2p-ai traced': { enabled: true, samplePercent: 100 },
} as const

// ---- the provider (a child process) ---------------------------------------------------------

async function serve(system: System): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-tracing-'))
  const node = await createNode({
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    engine: { concurrency: 16, maxQueueLength: 10_000 },
    tracing: TRACING[system],
    backends: [mockBackend({ worker: false })],
    engineOptions: { workers: false },
  })
  process.once('exit', () => void rm(dataDir, { recursive: true, force: true }))
  process.stdout.write(`${JSON.stringify({ address: node.getMultiaddrs()[0], peerId: node.peerId })}\n`)
  answerCpu()
}

const role = process.env[ROLE_ENV]
if (role !== undefined) await serve(role as System)

// ---- the requester (this process) -----------------------------------------------------------

interface Server {
  proc: ChildProcess
  info: { address: string; peerId: string }
  cpu(): Promise<number>
}

async function startServer(system: System): Promise<Server> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [ROLE_ENV]: system },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const nextLine = lineReader(proc.stdout!, `${system} server`)
  const info = JSON.parse(await nextLine()) as Server['info']
  return { proc, info, cpu: () => askCpu(proc.stdin!, nextLine) }
}

async function requester(system: System, server: Server, dataDir: string): Promise<P2PNode> {
  const node = await createNode({
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    tracing: TRACING[system],
    engineOptions: { workers: false },
  })
  await node.connect(server.info.address)
  const deadline = Date.now() + 10_000
  while (!node.peers().some((p) => p.peerId === server.info.peerId && p.capabilities !== undefined)) {
    if (Date.now() > deadline) throw new Error(`no capabilities from the ${system} server`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  if ((node.traces !== undefined) !== TRACING[system].enabled) {
    throw new Error(`${system}: the requester ${node.traces === undefined ? 'does not trace' : 'traces'}`)
  }
  return node
}

/** One mock task to the provider, checked. */
function call(node: P2PNode, target: string): () => Promise<void> {
  return async () => {
    const record = await node.submit({ type: 'mock', input: INPUT }, { target }).result()
    if (record.status !== 'COMPLETED') throw new Error(`task ${record.status}: ${record.error?.message}`)
  }
}

interface State {
  servers: Map<System, Server>
  clients: Map<System, P2PNode>
  dataDir: string
  budgetMs: number
}

function systemCase(state: State, system: System, inFlight: number) {
  const name = `${system} ×${inFlight}` as const
  return measure(
    name,
    async () => {
      const server = state.servers.get(system)!
      await server.cpu()
      const r = await drive(call(state.clients.get(system)!, server.info.peerId), inFlight, state.budgetMs)
      return {
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        tasksPerSec: r.tasksPerSec,
        clientCpuUsPerTask: r.clientCpuUs / r.tasks,
        serverCpuUsPerTask: (await server.cpu()) / r.tasks,
      }
    },
    {
      rounds: 7,
      warmupRounds: 1,
      units: { tasksPerSec: 'tasks/s', clientCpuUsPerTask: 'µs', serverCpuUsPerTask: 'µs' },
      ...(TARGETS[name] === undefined ? {} : { targets: TARGETS[name] }),
    },
  )
}

export default defineSuite<State>({
  name: 'tracing',
  description:
    'mock tasks between two processes, untraced vs traced at 100 % sampling, interleaved (tasks/s, p50/p99, CPU/task)',
  setup: async ({ quick }) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-tracing-client-'))
    const servers = new Map<System, Server>()
    const clients = new Map<System, P2PNode>()
    for (const system of SYSTEMS) {
      const server = await startServer(system)
      servers.set(system, server)
      clients.set(system, await requester(system, server, join(dataDir, system.replace(' ', '-'))))
    }
    return { servers, clients, dataDir, budgetMs: quick ? 300 : 1_500 }
  },
  teardown: async (state) => {
    for (const client of state.clients.values()) await client.stop().catch(() => {})
    for (const server of state.servers.values()) {
      server.proc.stdin!.end()
      server.proc.kill('SIGKILL')
    }
    await rm(state.dataDir, { recursive: true, force: true })
  },
  cases: (state) =>
    IN_FLIGHT.map((inFlight) =>
      compare(
        `${inFlight} in flight`,
        SYSTEMS.map((system) => systemCase(state, system, inFlight)),
        {
          baseline: `${BASELINE} ×${inFlight}`,
          description: `${inFlight} task${inFlight === 1 ? '' : 's'} in flight; ratios to the untraced exchange (tasks/s: higher is better; latency and CPU: lower is better)`,
        },
      ),
    ),
})
