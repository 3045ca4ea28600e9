/**
 * The task exchange between two processes, side by side with two baselines in the same run:
 *
 * - **p2p-ai**: `node.submit()` of a `mock` task from a node in this process to a node in a child
 *   process (`createNode`, result store included): a signed request, accept, a signed result
 *   checked against the request, on one long-lived task stream.
 * - **libp2p echo**: the same JSON frames echoed by a bare libp2p node over one long-lived stream
 *   (TCP, Noise, Yamux; no signatures, no engine): the floor the exchange builds on.
 * - **HTTP**: a fastify server echoing the same JSON, called through an undici keep-alive pool
 *   (no encryption, no signatures): the hand-rolled task server a user might write instead.
 *
 * For 1, 16 and 128 tasks in flight, one comparison each: the four systems' rounds run interleaved
 * (p2p-ai, p2p-ai memory, echo, HTTP, then the next round rotated), each divided by the echo's
 * round, so drift in the machine's load falls on all of them alike. Per round: round-trip p50/p99,
 * tasks per second and CPU time per task in each process (meaningful even on a busy machine); the
 * p2p-ai systems also give their CPU per task in units of one Ed25519 sign + verify, measured in
 * the same round. Issue 10's targets are declared on the p2p-ai cases and judged on the medians.
 *
 * The same file is the server: run with `P2P_AI_BENCH_EXCHANGE_ROLE` set, it serves that role.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { mockBackend } from '@p2p-ai/engine'
import { generateIdentity, verifySignature } from '@p2p-ai/identity'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { encodeFrame, frameDecoder } from '@p2p-ai/protocol'
import { createTransport, type Transport } from '@p2p-ai/transport'
import { answerCpu, askCpu, lineReader } from '../child-lines.js'
import { type Call, drive } from '../drive.js'
import { compare, defineSuite, measure, type Target } from '../runner.js'

const ROLE_ENV = 'P2P_AI_BENCH_EXCHANGE_ROLE'
const ECHO_PROTOCOL = '/p2p-ai-bench/echo/1.0.0'
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const INPUT = { text: 'hello p2p ai, a short mock task' }
const IN_FLIGHT = [1, 16, 128] as const
/**
 * `p2p-ai` runs both nodes with `createNode`'s defaults; `p2p-ai memory` is the same with the
 * requester's `engine.storeSubmittedTasks` off (its submitted tasks' records stay in memory), to
 * show what that store write costs. Both talk to the same provider process.
 */
const SYSTEMS = ['p2p-ai', 'p2p-ai memory', 'libp2p echo', 'http'] as const
type System = (typeof SYSTEMS)[number]
/** The system every other is divided by, round by round. */
const BASELINE: System = 'libp2p echo'

/** Issue 10's targets, for p2p-ai with every default on (signatures and the requester's store). */
const TARGETS: Partial<Record<`${System} ×${number}`, Target[]>> = {
  'p2p-ai ×128': [{ metric: 'tasksPerSec', of: 'ratio', atLeast: 0.6, source: 'issue 10' }],
  'p2p-ai ×1': [
    { metric: 'clientCpuUsPerTask', atMost: 600, source: 'issue 10' },
    { metric: 'serverCpuUsPerTask', atMost: 600, source: 'issue 10' },
    { metric: 'p50Ms', of: 'ratio', atMost: 3, source: 'issue 10' },
  ],
}

// ---- servers (child processes) --------------------------------------------------------------

async function serve(role: string): Promise<void> {
  if (role === 'p2p-ai') {
    const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-exchange-'))
    const node = await createNode({
      dataDir,
      network: { listen: LOOPBACK, mdns: { enabled: false } },
      engine: { concurrency: 16, maxQueueLength: 10_000 },
      backends: [mockBackend({ worker: false })],
      engineOptions: { workers: false },
    })
    process.once('exit', () => void rm(dataDir, { recursive: true, force: true }))
    process.stdout.write(`${JSON.stringify({ address: node.getMultiaddrs()[0], peerId: node.peerId })}\n`)
  } else if (role === 'libp2p echo') {
    const transport = await createTransport({ listen: LOOPBACK, mdns: false })
    await transport.handle(ECHO_PROTOCOL, (stream) => echoFrames(stream))
    const address = transport.getMultiaddrs()[0]?.toString()
    process.stdout.write(`${JSON.stringify({ address, peerId: transport.peerId.toString() })}\n`)
  } else if (role === 'http') {
    const { fastify } = await import('fastify')
    const app = fastify({ logger: false })
    app.post('/echo', async (request) => {
      const { id, input } = request.body as { id: number; input: unknown }
      return { id, output: input }
    })
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    process.stdout.write(`${JSON.stringify({ address })}\n`)
  } else {
    throw new Error(`unknown role ${role}`)
  }
  answerCpu()
}

/** Decodes each JSON frame and answers it with `{ id, output }`, batching per chunk like the exchange. */
function echoFrames(stream: Stream): void {
  const decoder = frameDecoder()
  stream.addEventListener('message', (evt) => {
    const chunks = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]
    const out: Uint8Array[] = []
    for (const chunk of chunks) {
      for (const frame of decoder.push(chunk)) {
        if (!frame.ok) continue
        const { id, input } = frame.value as { id: number; input: unknown }
        out.push(encodeFrame({ id, output: input }))
      }
    }
    if (out.length > 0) stream.send(Buffer.concat(out))
  })
}

const role = process.env[ROLE_ENV]
if (role !== undefined) await serve(role)

// ---- clients --------------------------------------------------------------------------------

interface Server {
  proc: ChildProcess
  info: { address: string; peerId?: string }
  /** CPU time the server used since the previous call, in µs. */
  cpu(): Promise<number>
}

async function startServer(system: System): Promise<Server> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [ROLE_ENV]: system },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const nextLine = lineReader(proc.stdout!, `${system} server`)
  const info = JSON.parse(await nextLine()) as Server['info']
  return {
    proc,
    info,
    cpu: () => askCpu(proc.stdin!, nextLine),
  }
}

interface Client {
  call: Call
  close(): Promise<void>
}

async function p2pClient(server: Server, dataDir: string, storeSubmittedTasks = true): Promise<Client> {
  const node: P2PNode = await createNode({
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    engine: { storeSubmittedTasks },
    engineOptions: { workers: false },
  })
  await node.connect(server.info.address)
  const target = server.info.peerId as string
  const deadline = Date.now() + 10_000
  while (!node.peers().some((p) => p.peerId === target && p.capabilities !== undefined)) {
    if (Date.now() > deadline) throw new Error('no capabilities from the p2p-ai server')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return {
    call: async () => {
      const record = await node.submit({ type: 'mock', input: INPUT }, { target }).result()
      if (record.status !== 'COMPLETED') throw new Error(`task ${record.status}: ${record.error?.message}`)
    },
    close: async () => {
      await node.stop()
    },
  }
}

async function echoClient(server: Server): Promise<Client> {
  const transport: Transport = await createTransport({ listen: LOOPBACK, mdns: false })
  const stream = await transport.dialProtocol(multiaddr(server.info.address), ECHO_PROTOCOL)
  const pending = new Map<number, () => void>()
  const decoder = frameDecoder()
  stream.addEventListener('message', (evt) => {
    const chunks = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]
    for (const chunk of chunks) {
      for (const frame of decoder.push(chunk)) {
        if (!frame.ok) continue
        const { id } = frame.value as { id: number }
        pending.get(id)?.()
        pending.delete(id)
      }
    }
  })
  let next = 0
  return {
    call: () =>
      new Promise<void>((resolve) => {
        const id = next++
        pending.set(id, resolve)
        stream.send(encodeFrame({ id, input: INPUT }))
      }),
    close: async () => {
      await transport.stop()
    },
  }
}

async function httpClient(server: Server): Promise<Client> {
  const { Pool } = await import('undici')
  const pool = new Pool(server.info.address, { connections: 128, pipelining: 1 })
  let next = 0
  return {
    call: async () => {
      const id = next++
      const response = await pool.request({
        path: '/echo',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, input: INPUT }),
      })
      const body = (await response.body.json()) as { id: number }
      if (body.id !== id) throw new Error('wrong answer')
    },
    close: async () => {
      await pool.close()
    },
  }
}

// ---- the suite ------------------------------------------------------------------------------

/**
 * CPU time of one Ed25519 sign + verify of a task-sized message in this process, in µs: every
 * signed message costs one of each, so the p2p-ai systems' CPU per task is also given in these
 * units, measured in the same round (it drifts with the machine as the rest does).
 */
function signVerifyCpuUs(pairs: number): number {
  const identity = generateIdentity()
  const message = new Uint8Array(520)
  const signature = identity.sign(message)
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < pairs; i++) {
    identity.sign(message)
    verifySignature(identity.publicKey, message, signature)
  }
  const cpu = process.cpuUsage(cpu0)
  return (cpu.user + cpu.system) / pairs
}

interface State {
  servers: Map<System, Server>
  clients: Map<System, Client>
  dataDir: string
  budgetMs: number
  /** Sign + verify pairs timed per round for the CPU calibration. */
  calibrationPairs: number
}

function systemCase(state: State, system: System, inFlight: number) {
  const name = `${system} ×${inFlight}` as const
  const signed = system === 'p2p-ai' || system === 'p2p-ai memory'
  return measure(
    name,
    async () => {
      const server = state.servers.get(system)!
      await server.cpu()
      const r = await drive(state.clients.get(system)!.call, inFlight, state.budgetMs)
      const serverCpuUs = (await server.cpu()) / r.tasks
      const clientCpuUs = r.clientCpuUs / r.tasks
      const out: Record<string, number> = {
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        tasksPerSec: r.tasksPerSec,
        clientCpuUsPerTask: clientCpuUs,
        serverCpuUsPerTask: serverCpuUs,
      }
      if (signed) {
        // After the timed part: the calibration's CPU is not billed to the tasks.
        const pairUs = signVerifyCpuUs(state.calibrationPairs)
        out.signVerifyCpuUs = pairUs
        out.clientCpuPerTaskInPairs = clientCpuUs / pairUs
        out.serverCpuPerTaskInPairs = serverCpuUs / pairUs
      }
      return out
    },
    {
      rounds: 7,
      warmupRounds: 1,
      units: {
        tasksPerSec: 'tasks/s',
        clientCpuUsPerTask: 'µs',
        serverCpuUsPerTask: 'µs',
        signVerifyCpuUs: 'µs',
        clientCpuPerTaskInPairs: 'sign+verify',
        serverCpuPerTaskInPairs: 'sign+verify',
      },
      ...(TARGETS[name] === undefined ? {} : { targets: TARGETS[name] }),
    },
  )
}

export default defineSuite<State>({
  name: 'exchange',
  description:
    'mock tasks between two processes: p2p-ai vs bare libp2p echo vs HTTP keep-alive, interleaved (p50/p99, tasks/s, CPU/task)',
  setup: async ({ quick }) => {
    const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-exchange-client-'))
    const servers = new Map<System, Server>()
    for (const system of SYSTEMS) {
      if (system !== 'p2p-ai memory') servers.set(system, await startServer(system))
    }
    servers.set('p2p-ai memory', servers.get('p2p-ai')!)
    const clients = new Map<System, Client>([
      ['p2p-ai', await p2pClient(servers.get('p2p-ai')!, dataDir)],
      ['p2p-ai memory', await p2pClient(servers.get('p2p-ai')!, join(dataDir, 'memory'), false)],
      ['libp2p echo', await echoClient(servers.get('libp2p echo')!)],
      ['http', await httpClient(servers.get('http')!)],
    ])
    return {
      servers,
      clients,
      dataDir,
      budgetMs: quick ? 300 : 1_500,
      calibrationPairs: quick ? 50 : 500,
    }
  },
  teardown: async (state) => {
    for (const client of state.clients.values()) await client.close().catch(() => {})
    for (const server of new Set(state.servers.values())) {
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
          description: `${inFlight} task${inFlight === 1 ? '' : 's'} in flight; ratios to the bare libp2p echo (for tasks/s higher is better, for latency and CPU lower is better)`,
        },
      ),
    ),
})
