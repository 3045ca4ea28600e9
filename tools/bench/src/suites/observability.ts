/**
 * What watching a node costs, side by side in one run: the same exchange of `mock` tasks between a
 * requester and a provider (each its own process, 127.0.0.1) in three set-ups, rounds interleaved:
 *
 * - **plain**: no metrics, logging off (`silent`): the baseline;
 * - **metrics**: both nodes collect every metric of `@p2p-ai/metrics` (libp2p's and the process's
 *   included) and render the exposition once a second, as a Prometheus scraping every second
 *   would make them (a real one scrapes every 15 s or more);
 * - **info logs**: both nodes log at INFO, JSON lines into a file in their data directory, as a
 *   node started with `--detach` does (the provider writes a `task finished` line per task).
 *
 * Each round drives tasks from the requester with 1 and 16 in flight for a time budget; each
 * set-up is divided by plain's round. Targets (issue 15): metrics cost under 2 % of the throughput,
 * INFO logging under 5 % of the CPU per task.
 *
 * The same file is the child: with `P2P_AI_BENCH_OBSERVE_ROLE` set it runs that role.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { openSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { mockBackend } from '@p2p-ai/engine'
import { nodeMetrics } from '@p2p-ai/metrics'
import { createLogger, createNode, type NodeInit, type P2PNode } from '@p2p-ai/node'
import { lineReader } from '../child-lines.js'
import { compare, defineSuite, measure, type Target } from '../runner.js'

const ROLE_ENV = 'P2P_AI_BENCH_OBSERVE_ROLE'
const SETUP_ENV = 'P2P_AI_BENCH_OBSERVE_SETUP'
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const INPUT = { text: 'hello p2p ai, a short mock task' }
const IN_FLIGHT = [1, 16] as const
/** How often the metrics set-up renders its exposition (a scrape), in milliseconds. */
const SCRAPE_EVERY_MS = 1_000

const SETUPS = ['plain', 'metrics', 'info logs'] as const
type Setup = (typeof SETUPS)[number]
const BASELINE: Setup = 'plain'

const TARGETS: Partial<Record<`${Setup} ×${number}`, Target[]>> = {
  'metrics ×16': [
    { metric: 'tasksPerSec', of: 'ratio', atLeast: 0.98, source: 'issue 15: metrics cost < 2 %' },
    { metric: 'cpuUsPerTask', of: 'ratio', atMost: 1.02, source: 'issue 15: metrics cost < 2 %' },
  ],
  'info logs ×16': [
    {
      metric: 'cpuUsPerTask',
      of: 'ratio',
      atMost: 1.05,
      source: 'product documents: INFO logging < 5 % CPU',
    },
  ],
}

// ---- the children ---------------------------------------------------------------------------

/** A node of `setup`: metrics collected and rendered each second, or INFO lines into a file. */
async function setupNode(setup: Setup, extra: NodeInit): Promise<P2PNode> {
  const dataDir = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-observe-'))
  process.once('exit', () => void rm(dataDir, { recursive: true, force: true }))
  const metrics = setup === 'metrics' ? nodeMetrics({ dataDir }) : undefined
  const node = await createNode({
    dataDir,
    network: { listen: LOOPBACK, mdns: { enabled: false } },
    engineOptions: { workers: false },
    ...(metrics === undefined ? {} : { libp2pMetrics: metrics.libp2p }),
    ...(setup === 'info logs'
      ? {
          logger: createLogger({
            level: 'info',
            format: 'json',
            destination: openSync(join(dataDir, 'node.log'), 'a'),
          }),
        }
      : {}),
    ...extra,
  })
  if (metrics !== undefined) {
    metrics.attach(node)
    setInterval(() => void metrics.exposition(), SCRAPE_EVERY_MS).unref()
  }
  return node
}

/** Answers `cpu` with the CPU time used since the last ask, `run <ms> <inFlight>` with a drive. */
function answer(drive?: (budgetMs: number, inFlight: number) => Promise<unknown>): void {
  let last = process.cpuUsage()
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [command, ...args] = line.split(' ')
    if (command === 'cpu') {
      const used = process.cpuUsage(last)
      last = process.cpuUsage()
      process.stdout.write(`${JSON.stringify({ cpuUs: used.user + used.system })}\n`)
    } else if (command === 'run' && drive !== undefined) {
      void drive(Number(args[0]), Number(args[1])).then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
    }
  })
  process.stdin.on('end', () => process.exit(0))
}

async function child(role: string, setup: Setup): Promise<void> {
  if (role === 'provider') {
    const node = await setupNode(setup, {
      engine: { concurrency: 16, maxQueueLength: 10_000 },
      backends: [mockBackend({ worker: false })],
    })
    process.stdout.write(`${JSON.stringify({ address: node.getMultiaddrs()[0], peerId: node.peerId })}\n`)
    answer()
    return
  }
  const { address, peerId } = JSON.parse(process.env.P2P_AI_BENCH_OBSERVE_PROVIDER ?? '{}') as {
    address: string
    peerId: string
  }
  const node = await setupNode(setup, {})
  await node.connect(address)
  const deadline = Date.now() + 10_000
  while (node.peer(peerId)?.capabilities === undefined) {
    if (Date.now() > deadline) throw new Error('no capabilities from the provider')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  process.stdout.write('{"ready":true}\n')
  answer(async (budgetMs, inFlight) => {
    const latencies: number[] = []
    const started = performance.now()
    const end = started + budgetMs
    const loop = async (): Promise<void> => {
      while (performance.now() < end) {
        const t0 = performance.now()
        const record = await node.submit({ type: 'mock', input: INPUT }, { target: peerId }).result()
        if (record.status !== 'COMPLETED') throw new Error(`task ${record.status}: ${record.error?.message}`)
        latencies.push(performance.now() - t0)
      }
    }
    await Promise.all(Array.from({ length: inFlight }, loop))
    latencies.sort((a, b) => a - b)
    return {
      tasks: latencies.length,
      seconds: (performance.now() - started) / 1000,
      p50Ms: latencies[Math.floor(latencies.length / 2)] ?? 0,
    }
  })
}

const role = process.env[ROLE_ENV]
if (role !== undefined) await child(role, (process.env[SETUP_ENV] ?? 'plain') as Setup)

// ---- the parent -----------------------------------------------------------------------------

interface Proc {
  proc: ChildProcess
  nextLine(): Promise<string>
  ask<T>(line: string): Promise<T>
}

function start(roleName: string, setup: Setup, env: Record<string, string> = {}): Proc {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, ...env, [ROLE_ENV]: roleName, [SETUP_ENV]: setup },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const nextLine = lineReader(proc.stdout!, `${setup} ${roleName}`, 60_000)
  return {
    proc,
    nextLine,
    ask: async <T>(line: string) => {
      proc.stdin!.write(`${line}\n`)
      return JSON.parse(await nextLine()) as T
    },
  }
}

interface Pair {
  requester: Proc
  provider: Proc
}

async function startPair(setup: Setup): Promise<Pair> {
  const provider = start('provider', setup)
  const info = await provider.nextLine()
  const requester = start('requester', setup, { P2P_AI_BENCH_OBSERVE_PROVIDER: info })
  await requester.nextLine()
  return { requester, provider }
}

interface State {
  pairs: Map<Setup, Pair>
  budgetMs: number
}

function setupCase(state: State, setup: Setup, inFlight: number) {
  const name = `${setup} ×${inFlight}` as const
  return measure(
    name,
    async () => {
      const { requester, provider } = state.pairs.get(setup)!
      await requester.ask('cpu')
      await provider.ask('cpu')
      const r = await requester.ask<{ tasks: number; seconds: number; p50Ms: number }>(
        `run ${state.budgetMs} ${inFlight}`,
      )
      const requesterCpuUs = (await requester.ask<{ cpuUs: number }>('cpu')).cpuUs / r.tasks
      const providerCpuUs = (await provider.ask<{ cpuUs: number }>('cpu')).cpuUs / r.tasks
      return {
        tasksPerSec: r.tasks / r.seconds,
        p50Ms: r.p50Ms,
        requesterCpuUsPerTask: requesterCpuUs,
        providerCpuUsPerTask: providerCpuUs,
        cpuUsPerTask: requesterCpuUs + providerCpuUs,
      }
    },
    {
      rounds: 7,
      warmupRounds: 1,
      units: {
        tasksPerSec: 'tasks/s',
        requesterCpuUsPerTask: 'µs',
        providerCpuUsPerTask: 'µs',
        cpuUsPerTask: 'µs',
      },
      ...(TARGETS[name] === undefined ? {} : { targets: TARGETS[name] }),
    },
  )
}

export default defineSuite<State>({
  name: 'observability',
  description:
    'the cost of watching a node: the exchange with metrics collected (and scraped each second) and with INFO logs, against neither, interleaved',
  setup: async ({ quick }) => {
    const pairs = new Map<Setup, Pair>()
    for (const setup of SETUPS) pairs.set(setup, await startPair(setup))
    return { pairs, budgetMs: quick ? 300 : 2_000 }
  },
  teardown: async (state) => {
    for (const { requester, provider } of state.pairs.values()) {
      for (const p of [requester, provider]) {
        p.proc.stdin!.end()
        p.proc.kill('SIGKILL')
      }
    }
  },
  cases: (state) =>
    IN_FLIGHT.map((inFlight) =>
      compare(
        `${inFlight} in flight`,
        SETUPS.map((setup) => setupCase(state, setup, inFlight)),
        {
          baseline: `${BASELINE} ×${inFlight}`,
          description: `${inFlight} task${inFlight === 1 ? '' : 's'} in flight; ratios to plain (no metrics, no logs)`,
        },
      ),
    ),
})
