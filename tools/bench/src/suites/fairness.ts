/**
 * Fairness under a flood (issue 14): how much a flood from one peer lowers another requester's
 * throughput on the same provider, and whether the provider's memory stays bounded. Three cases
 * side by side, interleaved round by round, each divided by the first:
 *
 * - **alone**: the victim, a `createNode` in this process, runs `mock` tasks (10–30 ms) on the
 *   provider, a `createNode` with every default in a child process, two in flight, back to back.
 * - **greedy requester**: the same while a second requester (a `createNode` in another child
 *   process) submits to the same provider as fast as it can, 512 tasks in flight, every one at
 *   priority 9 (the victim's are at the default): a peer that follows the protocol (it honours
 *   `ERR_BUSY` and its retry-after) and takes all it can get. The provider's fair queueing gives
 *   each requester its share of the slots, and weighs a stranger's priority up to the default only.
 * - **raw flood**: the same while a peer in another child process, with a fresh identity each
 *   round, writes task requests down one task stream as fast as the stream takes them (first a
 *   few thousand signed ones, then unsigned junk) and throws every answer away unread; once the
 *   provider has banned it, it redials every 50 ms, as an attacker would.
 *
 * The greedy requester and the raw flood run at the lowest CPU priority (nice 19): they stand in
 * for other machines, and on one machine their own CPU would otherwise be taken from the victim's
 * process, which no provider can prevent. They still get every cycle the others leave.
 *
 * Per round: the victim's tasks/s and p50/p99, the provider's peak resident memory in the round
 * (sampled every 50 ms) and its CPU time, and what the flood sent and how long the provider took
 * to ban it. Targets (issue 14): the victim keeps at least 80 % of its throughput alone under
 * either flood; the provider's peak memory under the flood stays within 1.5× of the round alone.
 *
 * The same file is the child program: run with `P2P_AI_BENCH_FAIRNESS_ROLE` set, it serves.
 */

import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { setPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { mockBackend } from '@p2p-ai/engine'
import { generateIdentity } from '@p2p-ai/identity'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { createTaskRequest, encodeFrame, sealEnvelope, TASK_PROTOCOL } from '@p2p-ai/protocol'
import { createTransport, type Transport } from '@p2p-ai/transport'
import { lineReader } from '../child-lines.js'
import { compare, defineSuite, measure, type Target } from '../runner.js'

const ROLE_ENV = 'P2P_AI_BENCH_FAIRNESS_ROLE'
const PROVIDER_ENV = 'P2P_AI_BENCH_FAIRNESS_PROVIDER'
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
/**
 * Each mock task takes from 10 to 30 ms on the provider, 20 on average (a timer: the slots, not the
 * CPU, are what is shared). Tasks of one length all started together would free their slots
 * together, every 20 ms, and a newcomer would wait half a task for one whatever the scheduling;
 * real tasks differ in length.
 */
const TASK_MS = 20
const taskInput = (text: string) => ({
  text,
  latencyMs: TASK_MS / 2 + Math.floor(Math.random() * (TASK_MS + 1)),
})
const PROVIDER_CONCURRENCY = 8
const VICTIM_IN_FLIGHT = 2
const GREEDY_IN_FLIGHT = 512
/** Signed requests the raw flood starts with; junk follows. */
const FLOOD_SIGNED = 3_000
/** Frames per write of the raw flood. */
const FLOOD_BATCH = 64
const REDIAL_MS = 50
/** Scheduling priority of the flooding processes (19: the lowest). */
const FLOODER_NICE = 19
/** The raw flood keeps at most this much in libp2p's write buffer. */
const FLOOD_BUFFER_BYTES = 64 * 1024
const CASES = ['alone', 'greedy requester', 'raw flood'] as const
type Case = (typeof CASES)[number]

const TARGETS: Partial<Record<Case, Target[]>> = {
  'greedy requester': [{ metric: 'victimTasksPerSec', of: 'ratio', atLeast: 0.8, source: 'issue 14' }],
  'raw flood': [
    { metric: 'victimTasksPerSec', of: 'ratio', atLeast: 0.8, source: 'issue 14' },
    { metric: 'providerPeakRssMb', of: 'ratio', atMost: 1.5, source: 'bounded memory (issue 14)' },
  ],
}

// ---- child processes -------------------------------------------------------------------------

/**
 * Answers one JSON line per command line on stdin (`<command> [argument]`); exits when stdin ends.
 */
function commands(handlers: Record<string, (arg: string) => Promise<unknown> | unknown>): void {
  let queue = Promise.resolve()
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command = '', arg = ''] = line.split(' ')
    const handler = handlers[command]
    if (handler === undefined) return
    queue = queue.then(async () => {
      process.stdout.write(`${JSON.stringify(await handler(arg))}\n`)
    })
  })
  process.stdin.on('end', () => process.exit(0))
}

async function tempNode(extra: Parameters<typeof createNode>[0] = {}): Promise<P2PNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-fairness-'))
  process.once('exit', () => void rm(dataDir, { recursive: true, force: true }))
  return createNode({
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    engineOptions: { workers: false },
    ...extra,
  })
}

async function serveProvider(): Promise<void> {
  const node = await tempNode({
    engine: { concurrency: PROVIDER_CONCURRENCY },
    backends: [mockBackend({ worker: false })],
  })
  let peakRss = 0
  const sample = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss)
  }
  setInterval(sample, 50).unref()
  let cpu = process.cpuUsage()
  process.stdout.write(`${JSON.stringify({ address: node.getMultiaddrs()[0], peerId: node.peerId })}\n`)
  commands({
    stats: () => {
      sample()
      const used = process.cpuUsage(cpu)
      cpu = process.cpuUsage()
      const out = {
        peakRssMb: peakRss / 2 ** 20,
        heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20,
        cpuUs: used.user + used.system,
        banned: node.peers().filter((p) => p.status === 'banned').length,
        queued: node.engine.load().queued,
      }
      peakRss = process.memoryUsage().rss
      return out
    },
  })
}

async function connectTo(node: P2PNode, provider: { address: string; peerId: string }): Promise<void> {
  await node.connect(provider.address)
  const deadline = Date.now() + 10_000
  while (!node.peers().some((p) => p.peerId === provider.peerId && p.capabilities !== undefined)) {
    if (Date.now() > deadline) throw new Error('no capabilities from the provider')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function serveGreedy(provider: { address: string; peerId: string }): Promise<void> {
  const node = await tempNode()
  await connectTo(node, provider)
  let running: { stop: () => Promise<number> } | undefined
  process.stdout.write('{}\n')
  commands({
    start: () => {
      let stopping = false
      let completed = 0
      const open = new Set<ReturnType<P2PNode['submit']>>()
      const loop = async (): Promise<void> => {
        while (!stopping) {
          const handle = node.submit(
            // The highest priority: a greedy peer would ask for it (it buys no larger share).
            { type: 'mock', input: taskInput('greedy'), priority: 9 },
            { target: provider.peerId },
          )
          open.add(handle)
          const record = await handle.result()
          open.delete(handle)
          if (record.status === 'COMPLETED') completed++
        }
      }
      const loops = Array.from({ length: GREEDY_IN_FLIGHT }, loop)
      running = {
        stop: async () => {
          stopping = true
          for (const handle of open) handle.cancel()
          await Promise.all(loops)
          return completed
        },
      }
      return {}
    },
    stop: async () => ({ completed: (await running?.stop()) ?? 0 }),
  })
}

async function serveFlood(provider: { address: string; peerId: string }): Promise<void> {
  process.stdout.write('{}\n')
  let prepared: PreparedFlood | undefined
  commands({
    // Untimed: a new identity, its connection and its signed requests, as an attacker prepares.
    prepare: async () => {
      prepared = await prepareFlood(provider)
      return {}
    },
    // Answers when the flood is over: a flood this fast starves the event loop's reading of
    // stdin, so it keeps its own time.
    flood: (ms) => rawFlood(prepared as PreparedFlood, Number(ms)),
  })
}

interface PreparedFlood {
  readonly transport: Transport
  readonly signed: readonly Uint8Array[]
  open(): Promise<Stream>
}

async function prepareFlood(provider: { address: string; peerId: string }): Promise<PreparedFlood> {
  const identity = generateIdentity()
  const transport = await createTransport({ identity, listen: LOOPBACK, mdns: false })
  // Pre-signed, as an attacker would: signing is not what limits its rate.
  const signed: Uint8Array[] = []
  for (let i = 0; i < FLOOD_SIGNED; i++) {
    const request = createTaskRequest({ requester: identity.peerId, taskType: 'mock', input: taskInput('x') })
    signed.push(encodeFrame(sealEnvelope(identity, 'task.request', request).envelope))
  }
  const open = async (): Promise<Stream> => {
    const stream = await transport.dialProtocol(multiaddr(provider.address), TASK_PROTOCOL, {
      signal: AbortSignal.timeout(1_000),
    })
    // Whatever comes back is thrown away unread (a listener keeps the stream flowing).
    stream.addEventListener('message', () => {})
    return stream
  }
  await transport.dial(multiaddr(provider.address))
  return { transport, signed, open }
}

/** One round of the raw flood, as fast as the connection takes it; answers thrown away. */
async function rawFlood({ transport, signed, open }: PreparedFlood, durationMs: number) {
  const started = performance.now()
  const end = started + durationMs
  let sent = 0
  let cutAfterMs: number | undefined
  let redials = 0
  try {
    let stream = await open()
    let n = 0
    while (performance.now() < end) {
      try {
        const batch: Uint8Array[] = []
        for (let i = 0; i < FLOOD_BATCH; i++, n++) {
          batch.push(
            n < signed.length
              ? (signed[n] as Uint8Array)
              : encodeFrame({ v: 1, type: 'task.request', payload: { id: `flood-${n}`, taskType: 'mock' } }),
          )
        }
        stream.send(Buffer.concat(batch))
        sent += FLOOD_BATCH
        // libp2p's send() says true while its own buffer grows: the flood watches that buffer,
        // or it would only flood its own memory.
        while (stream.writeBufferLength > FLOOD_BUFFER_BYTES && stream.status === 'open') {
          await new Promise((resolve) => setTimeout(resolve, 1))
        }
        await new Promise((resolve) => setImmediate(resolve))
      } catch {
        cutAfterMs ??= performance.now() - started
        // Banned: keep knocking, as an attacker would.
        await new Promise((resolve) => setTimeout(resolve, REDIAL_MS))
        redials++
        try {
          stream = await open()
        } catch {
          // Refused by the gater.
        }
      }
    }
  } finally {
    await transport.stop()
  }
  return { sent, cutAfterMs: cutAfterMs ?? -1, redials }
}

const role = process.env[ROLE_ENV]
if (role !== undefined) {
  const provider = JSON.parse(process.env[PROVIDER_ENV] ?? 'null') as { address: string; peerId: string }
  if (role === 'provider') await serveProvider()
  else if (role === 'greedy') await serveGreedy(provider)
  else if (role === 'flood') await serveFlood(provider)
  else throw new Error(`unknown role ${role}`)
}

// ---- the suite -------------------------------------------------------------------------------

interface Child {
  proc: ChildProcess
  info: Record<string, unknown>
  ask(command: string): Promise<Record<string, number>>
}

async function startChild(role: string, provider?: unknown, nice = 0): Promise<Child> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, [ROLE_ENV]: role, [PROVIDER_ENV]: JSON.stringify(provider ?? null) },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  if (nice !== 0 && proc.pid !== undefined) setPriority(proc.pid, nice)
  const nextLine = lineReader(proc.stdout!, `${role} process`)
  const info = JSON.parse(await nextLine()) as Record<string, unknown>
  return {
    proc,
    info,
    ask: async (command) => {
      proc.stdin!.write(`${command}\n`)
      return JSON.parse(await nextLine()) as Record<string, number>
    },
  }
}

interface State {
  provider: Child
  greedy: Child
  flood: Child
  victim: P2PNode
  target: string
  budgetMs: number
}

/** The victim's closed loop for `budgetMs`: tasks/s and latencies. */
async function drive(state: State) {
  const latencies: number[] = []
  const queued: number[] = []
  const provider: number[] = []
  const end = performance.now() + state.budgetMs
  const started = performance.now()
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now()
      const record = await state.victim
        .submit({ type: 'mock', input: taskInput('victim') }, { target: state.target })
        .result()
      if (record.status !== 'COMPLETED')
        throw new Error(`victim task ${record.status}: ${record.error?.message}`)
      latencies.push(performance.now() - t0)
      // The provider's own account: how long the task waited for a slot there, and its whole time there.
      if (record.timings !== undefined) {
        queued.push(record.timings.queuedMs)
        provider.push(record.timings.totalMs)
      }
    }
  }
  await Promise.all(Array.from({ length: VICTIM_IN_FLIGHT }, loop))
  const seconds = (performance.now() - started) / 1000
  const at = (values: number[], q: number): number => {
    values.sort((a, b) => a - b)
    return values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? 0
  }
  return {
    victimTasksPerSec: latencies.length / seconds,
    victimP50Ms: at(latencies, 0.5),
    victimP99Ms: at(latencies, 0.99),
    victimQueuedP50Ms: at(queued, 0.5),
    victimQueuedP99Ms: at(queued, 0.99),
    victimAtProviderP50Ms: at(provider, 0.5),
  }
}

function flooded(state: State, name: Case) {
  return measure(
    name,
    async () => {
      await state.provider.ask('stats')
      let flood: Record<string, number> = {}
      let victim: Awaited<ReturnType<typeof drive>>
      if (name === 'greedy requester') {
        await state.greedy.ask('start')
        victim = await drive(state)
        flood = await state.greedy.ask('stop')
      } else if (name === 'raw flood') {
        await state.flood.ask('prepare')
        await state.provider.ask('stats')
        const flooding = state.flood.ask(`flood ${state.budgetMs}`)
        victim = await drive(state)
        flood = await flooding
      } else {
        victim = await drive(state)
      }
      const provider = await state.provider.ask('stats')
      const out: Record<string, number> = {
        ...victim,
        providerPeakRssMb: provider.peakRssMb as number,
        providerCpuMs: (provider.cpuUs as number) / 1000,
      }
      if (name === 'greedy requester') out.greedyTasks = flood.completed as number
      if (name === 'raw flood') {
        out.floodFramesSent = flood.sent as number
        out.floodCutAfterMs = flood.cutAfterMs as number
        out.floodRedials = flood.redials as number
      }
      return out
    },
    {
      rounds: 5,
      warmupRounds: 1,
      units: {
        greedyTasks: 'tasks',
        floodFramesSent: 'frames',
        floodRedials: 'dials',
        providerPeakRssMb: 'MB',
      },
      ...(TARGETS[name] === undefined ? {} : { targets: TARGETS[name] }),
    },
  )
}

export default defineSuite<State>({
  name: 'fairness',
  description:
    "a flood from one peer against another requester's throughput on the same provider: alone vs a greedy requester vs a raw flood (victim tasks/s, provider memory, time to ban)",
  setup: async ({ quick }) => {
    const provider = await startChild('provider')
    const info = provider.info as { address: string; peerId: string }
    // The flooding peers stand in for other machines: at the lowest CPU priority, so that on one
    // machine their own work is not taken from the victim's process (which no provider can prevent);
    // they still get every cycle the others leave.
    const [greedy, flood] = await Promise.all([
      startChild('greedy', info, FLOODER_NICE),
      startChild('flood', info, FLOODER_NICE),
    ])
    const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-fairness-victim-'))
    const victim = await createNode({
      dataDir,
      network: { listen: LOOPBACK, mdns: { enabled: false } },
      engine: { storeSubmittedTasks: false },
      engineOptions: { workers: false },
    })
    process.once('exit', () => void rm(dataDir, { recursive: true, force: true }))
    await connectTo(victim, info)
    return { provider, greedy, flood, victim, target: info.peerId, budgetMs: quick ? 2_000 : 5_000 }
  },
  teardown: async (state) => {
    await state.victim.stop().catch(() => {})
    for (const child of [state.provider, state.greedy, state.flood]) {
      child.proc.stdin!.end()
      child.proc.kill('SIGKILL')
    }
  },
  cases: (state) => [
    compare(
      'one provider, two requesters',
      CASES.map((name) => flooded(state, name)),
      {
        baseline: 'alone',
        description: `the victim's ${VICTIM_IN_FLIGHT} tasks in flight (${TASK_MS / 2}–${(3 * TASK_MS) / 2} ms each, ${PROVIDER_CONCURRENCY} slots), alone and under each flood; ratios to alone`,
      },
    ),
  ],
})
