/**
 * A swarm across NATs: full p2p-ai nodes (src/swarm-node.ts, one process each) in the simulated
 * internet of @p2p-ai/testnet: network namespaces with a public segment (11.8.0.0/16) and home
 * networks behind NAT routers (iptables inside the routers' namespaces). Needs root, iproute2 and
 * iptables, as the testnet tests do; nothing touches the machine's own network.
 *
 * - The NAT matrix, one trial per round on a fresh internet: a public bootstrap/relay node (DHT
 *   server, relay; it forwards no task), then two home nodes started cold behind two NATs
 *   (cone–cone, cone–symmetric, symmetric–symmetric), given only the public node's address: one
 *   runs the `where` task type, the other submits it. Per trial: time from the cold start to the
 *   first verified task (the requester finds the provider through a DHT capability record, dials
 *   it through the relay, and gets its signed result), the part of it spent finding a route,
 *   whether the pair ended on a direct connection, and task latency over the relayed and over the
 *   direct connection.
 * - Churn: providers behind several NATs leaving (killed, no goodbye) and joining while a
 *   requester submits a steady workload: tasks lost must be none.
 * - Idle maintenance traffic and CPU per node: a public node and two home nodes, settled, left
 *   alone: bytes in and out of each host's interface (kernel counters: heartbeats, announcements,
 *   DHT and relay upkeep) and each node process's CPU time.
 *
 * Issue 12 and the product documents set the targets: direct in every cone–cone trial (hole
 * punching is physically possible there without port prediction), every task completing in every
 * pairing and under churn, idle traffic under 1 MB/s per node (aim: a few KB/s), discovery under
 * 30 s (aim: under 5 s).
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { NetworkTaskRecord, NodeInit, NodeNetworkStatus } from '@p2p-ai/node'
import { createInternet, type Internet, type NatKind, type TestHost } from '@p2p-ai/testnet'
import { compare, defineSuite, measure } from '../runner.js'
import type { Measurements, RoundContext } from '../types.js'

const SWARM_NODE = fileURLToPath(new URL('../swarm-node.js', import.meta.url))
/** Public nodes listen on a known port, so their bootstrap address can be written down. */
const PUBLIC_PORT = 4001

/** Trials per pairing (rounds; `--rounds` overrides, `--quick` caps at 2). */
const TRIALS = 20
/** From cold start, how long a trial may take to complete its first task. */
const FIRST_TASK_DEADLINE_MS = 30_000
/** How long a fresh public node may take to learn it is public, from a visitor's AutoNAT checks. */
const WARM_UP_DEADLINE_MS = 30_000
/** After the first task, how long hole punching gets before the trial counts as relayed. */
const DIRECT_WAIT_MS = 5_000
/** Tasks timed after the first one (`--quick`: fewer). */
const TIMED_TASKS = 30
const TIMED_TASKS_QUICK = 8
/** Churn: providers, how long the workload runs, and how often one provider is replaced. */
const CHURN_PROVIDERS = 6
const CHURN_WINDOW_MS = 60_000
const CHURN_WINDOW_QUICK_MS = 15_000
const CHURN_EVERY_MS = 6_000
const CHURN_ROUNDS = 3
/** Idle window per round, and idle rounds. */
const IDLE_WINDOW_MS = 60_000
const IDLE_WINDOW_QUICK_MS = 5_000
const IDLE_ROUNDS = 3
/** Before an idle window: reservations made, capabilities advertised, the first task done. */
const IDLE_SETTLE_MS = 5_000

const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A full node in a test host, driven over its stdin/stdout (see swarm-node.ts). */
class SwarmNode {
  readonly host: TestHost
  readonly proc: ChildProcess
  peerId = ''
  readonly #pending = new Map<number, (reply: Record<string, unknown>) => void>()
  #ready: Promise<void>
  #next = 1

  constructor(host: TestHost, init: NodeInit, types: string[]) {
    this.host = host
    this.proc = host.spawn(process.execPath, [SWARM_NODE, JSON.stringify(init), JSON.stringify(types)])
    this.proc.stderr?.resume()
    this.#ready = new Promise((resolve, reject) => {
      this.proc.once('exit', (code) => reject(new Error(`node in ${host.namespace} exited (${code})`)))
      createInterface({ input: this.proc.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as Record<string, unknown>
        if (message.event === 'ready') {
          this.peerId = String(message.peerId)
          resolve()
        } else this.#pending.get(Number(message.id))?.(message)
      })
    })
  }

  async ready(): Promise<this> {
    await this.#ready
    return this
  }

  async request(command: Record<string, unknown>): Promise<Record<string, unknown>> {
    const id = this.#next++
    const reply = new Promise<Record<string, unknown>>((resolve) => this.#pending.set(id, resolve))
    this.proc.stdin?.write(`${JSON.stringify({ ...command, id })}\n`)
    const answer = await reply
    this.#pending.delete(id)
    return answer
  }

  async submit(type: string, options: object = {}): Promise<{ record: NetworkTaskRecord; ms: number }> {
    const reply = await this.request({ cmd: 'submit', type, options })
    return { record: reply.record as NetworkTaskRecord, ms: Number(reply.ms) }
  }

  async network(): Promise<NodeNetworkStatus> {
    return (await this.request({ cmd: 'network' })).network as NodeNetworkStatus
  }

  async linkTo(peer: SwarmNode): Promise<'direct' | 'relayed' | undefined> {
    const { connection } = await this.request({ cmd: 'link', peerId: peer.peerId })
    return (connection as { kind?: 'direct' | 'relayed' } | null)?.kind
  }

  kill(): void {
    this.proc.kill('SIGKILL')
  }

  /** Stops the node gracefully (it says goodbye to its peers) and waits for its process to end. */
  async leave(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    const exited = new Promise((resolve) => this.proc.once('exit', resolve))
    this.proc.stdin?.end()
    await exited
  }
}

/** A data directory per node under one temporary root. */
let root = ''
let counter = 0

function homeInit(bootstrap: string[]): NodeInit {
  return {
    dataDir: join(root, `node-${++counter}`),
    network: { listen: ['/ip4/0.0.0.0/tcp/0'], mdns: { enabled: false }, bootstrap },
    engineOptions: { workers: false },
  }
}

async function startPublic(net: Internet): Promise<{ node: SwarmNode; bootstrap: string[] }> {
  const host = net.publicHosts[0]
  if (host === undefined) throw new Error('a public host expected')
  const node = await new SwarmNode(
    host,
    {
      dataDir: join(root, `node-${++counter}`),
      network: { listen: [`/ip4/0.0.0.0/tcp/${PUBLIC_PORT}`], mdns: { enabled: false } },
      // Infrastructure: it relays connections and serves the DHT; tasks cross it only as a relay.
      forwarding: { enabled: false },
      engineOptions: { workers: false },
    },
    [],
  ).ready()
  return { node, bootstrap: [`/ip4/${host.address}/tcp/${PUBLIC_PORT}/p2p/${node.peerId}`] }
}

/** The `p`-th percentile (nearest rank) of `values`. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1] ?? Number.NaN
}

function latencies(prefix: string, values: readonly number[]): Measurements {
  return values.length === 0
    ? {}
    : { [`${prefix}TaskP50Ms`]: percentile(values, 50), [`${prefix}TaskP99Ms`]: percentile(values, 99) }
}

async function withRoot<T>(fn: () => Promise<T>): Promise<T> {
  root = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-nat-'))
  try {
    return await fn()
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

/**
 * One trial on a fresh internet. A trial whose first task does not complete in time reports
 * `completedPct: 0` (and what it did measure) rather than throwing, so failed trials are counted,
 * not hidden by a case that stopped.
 */
async function trial(nats: readonly [NatKind, NatKind], { quick }: RoundContext): Promise<Measurements> {
  return withRoot(async () => {
    // A third home for the node that warms the public one up (see warmUp).
    const homes = [...nats, 'cone' as const].map((nat) => ({ nat }))
    await using net = await createInternet({ publicHosts: 1, homes })
    const { node: seed, bootstrap } = await startPublic(net)
    const [providerHost, requesterHost, visitorHost] = net.homes.map((home) => home.hosts[0] as TestHost)
    await warmUp(seed, visitorHost!, bootstrap)
    const started = performance.now()
    const [provider, requester] = await Promise.all([
      new SwarmNode(providerHost!, homeInit(bootstrap), ['where']).ready(),
      new SwarmNode(requesterHost!, homeInit(bootstrap), []).ready(),
    ])
    // One task, submitted at once: it waits for a route (the provider publishing its capability,
    // the lookup, the dial through the relay) as a user's first task would.
    const { record: first } = await requester.submit('where', { waitForPeerMs: FIRST_TASK_DEADLINE_MS })
    let failedTasks = 0
    if (first.status !== 'COMPLETED') return { completedPct: 0, failedTasks: 1 }
    const firstTaskMs = performance.now() - started
    // Submitted until accepted: finding a route (DHT lookup, dial through the relay, announcement).
    const routeMs = (first.startedAt ?? first.submittedAt) - first.submittedAt

    const timed = { relayed: [] as number[], direct: [] as number[] }
    const count = quick ? TIMED_TASKS_QUICK : TIMED_TASKS
    const run = async (): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const kind = await requester.linkTo(provider)
        const { record, ms } = await requester.submit('where')
        if (record.status !== 'COMPLETED') failedTasks++
        else if (kind === 'direct') timed.direct.push(ms)
        else timed.relayed.push(ms)
      }
    }
    await run()
    const waitUntil = performance.now() + DIRECT_WAIT_MS
    let direct = (await requester.linkTo(provider)) === 'direct'
    while (!direct && performance.now() < waitUntil) {
      await sleep(250)
      direct = (await requester.linkTo(provider)) === 'direct'
    }
    if (direct) await run()
    return {
      completedPct: failedTasks === 0 ? 100 : 0,
      directPct: direct ? 100 : 0,
      firstTaskMs,
      routeMs,
      failedTasks,
      ...latencies('relayed', timed.relayed),
      ...latencies('direct', timed.direct),
    }
  })
}

const PAIRINGS = [
  ['cone–cone', ['cone', 'cone']],
  ['cone–symmetric', ['cone', 'symmetric']],
  ['symmetric–symmetric', ['symmetric', 'symmetric']],
] as const

const UNITS = { failedTasks: 'tasks' }

function pairing(name: string, nats: readonly [NatKind, NatKind]) {
  const everyTask = {
    metric: 'completedPct',
    atLeast: 100,
    judged: 'every round',
    source: 'issue 12: 100 % of tasks complete in every pairing',
  } as const
  const discovery = {
    metric: 'firstTaskMs',
    atMost: 30_000,
    source: 'product documents: discovery within 30 s (aim: 5 s)',
  }
  return measure(name, async (ctx) => trial(nats, ctx), {
    rounds: TRIALS,
    warmupRounds: 0,
    units: UNITS,
    description: `a provider and a requester behind ${nats[0]} and ${nats[1]} NATs, one fresh internet per trial`,
    targets:
      name === 'cone–cone'
        ? [
            {
              metric: 'directPct',
              atLeast: 100,
              judged: 'every round',
              source: 'issue 12: direct wherever both NATs map endpoint-independently',
            },
            everyTask,
            discovery,
          ]
        : [everyTask, discovery],
  })
}

/**
 * Churn: providers of `where` behind cone and symmetric NATs (one per home), a requester behind
 * a cone NAT submitting one task after another; every `CHURN_EVERY_MS` one provider is killed (no
 * goodbye) and a new one (a new identity) starts in its place.
 */
async function churn({ quick }: RoundContext): Promise<Measurements> {
  return withRoot(async () => {
    const nats: NatKind[] = [
      'cone',
      ...Array.from({ length: CHURN_PROVIDERS }, (_, i) => (i % 2 === 0 ? 'cone' : 'symmetric') as NatKind),
    ]
    await using net = await createInternet({ publicHosts: 1, homes: nats.map((nat) => ({ nat })) })
    const { bootstrap } = await startPublic(net)
    const hosts = net.homes.map((home) => home.hosts[0] as TestHost)
    const requester = await new SwarmNode(hosts[0]!, homeInit(bootstrap), []).ready()
    const providers = await Promise.all(
      hosts.slice(1).map(async (host) => new SwarmNode(host, homeInit(bootstrap), ['where']).ready()),
    )
    // Settled: the requester has found a provider.
    await requester.submit('where', { waitForPeerMs: 20_000 })
    const windowMs = quick ? CHURN_WINDOW_QUICK_MS : CHURN_WINDOW_MS
    const end = performance.now() + windowMs
    let replaced = 0
    const churner = (async () => {
      while (performance.now() + CHURN_EVERY_MS < end) {
        await sleep(CHURN_EVERY_MS)
        const index = replaced % providers.length
        const leaving = providers[index]!
        leaving.kill()
        providers[index] = await new SwarmNode(leaving.host, homeInit(bootstrap), ['where']).ready()
        replaced++
      }
    })()
    const times: number[] = []
    let lost = 0
    while (performance.now() < end) {
      const { record, ms } = await requester.submit('where')
      if (record.status === 'COMPLETED') times.push(ms)
      else lost++
    }
    await churner
    return {
      tasks: times.length + lost,
      lostTasks: lost,
      replacedProviders: replaced,
      churnPerMinPct: (replaced / CHURN_PROVIDERS / (windowMs / 60_000)) * 100,
      ...latencies('churn', times),
    }
  })
}

/**
 * A swarm's bootstrap node has been up long before anyone's cold start, and has found out it is
 * public (peers dialled it back: AutoNAT) and serves the DHT. A fresh one has had nobody to ask: a
 * passing home node gives it its confirmations, and leaves before the clock starts, so a trial
 * times the home nodes' cold start, not the bootstrap node's first minutes.
 */
async function warmUp(seed: SwarmNode, host: TestHost, bootstrap: string[]): Promise<void> {
  const visitor = await new SwarmNode(host, homeInit(bootstrap), []).ready()
  try {
    const deadline = performance.now() + WARM_UP_DEADLINE_MS
    for (;;) {
      const n = await seed.network()
      if (n.reachability === 'public' && n.dht.mode === 'server') return
      if (performance.now() > deadline)
        throw new Error(`the public node did not find out it is public: ${JSON.stringify(n)}`)
      await sleep(250)
    }
  } finally {
    await visitor.leave()
  }
}

/** The settled network an idle round measures: one public node and two home nodes behind cone NATs. */
interface IdleNetwork {
  net: Internet
  nodes: Array<{ role: string; node: SwarmNode }>
}

let idle: IdleNetwork | undefined

async function startIdle(): Promise<void> {
  root = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-nat-idle-'))
  const net = await createInternet({ publicHosts: 1, homes: [{ nat: 'cone' }, { nat: 'cone' }] })
  try {
    const seed = await startPublic(net)
    const [provider, requester] = await Promise.all([
      new SwarmNode(net.homes[0]!.hosts[0]!, homeInit(seed.bootstrap), ['where']).ready(),
      new SwarmNode(net.homes[1]!.hosts[0]!, homeInit(seed.bootstrap), []).ready(),
    ])
    // The everyday state: both homes reserved a relay slot and advertised; they found each other
    // and ran a task (and punched a hole).
    const { record } = await requester.submit('where', { waitForPeerMs: 20_000 })
    if (record.status !== 'COMPLETED') throw new Error(`the first task failed: ${record.error?.message}`)
    await sleep(IDLE_SETTLE_MS)
    idle = {
      net,
      nodes: [
        { role: 'public', node: seed.node },
        { role: 'home', node: provider },
        { role: 'home2', node: requester },
      ],
    }
  } catch (err) {
    await net.destroy()
    throw err
  }
}

async function idleWindow({ quick, signal }: RoundContext): Promise<Measurements> {
  if (idle === undefined) throw new Error('the idle network is not running')
  const sample = async () =>
    Promise.all(
      idle!.nodes.map(async ({ node }) => ({
        traffic: await node.host.traffic(),
        usage: await node.request({ cmd: 'usage' }),
      })),
    )
  const t0 = performance.now()
  const first = await sample()
  await sleep(quick ? IDLE_WINDOW_QUICK_MS : IDLE_WINDOW_MS)
  signal.throwIfAborted()
  const last = await sample()
  const seconds = (performance.now() - t0) / 1000
  const out: Measurements = {}
  idle.nodes.forEach(({ role }, i) => {
    const a = first[i]!
    const b = last[i]!
    out[`${role}InBytesPerSec`] = (b.traffic.rxBytes - a.traffic.rxBytes) / seconds
    out[`${role}OutBytesPerSec`] = (b.traffic.txBytes - a.traffic.txBytes) / seconds
    out[`${role}CpuPct`] = (Number(b.usage.cpuUs) - Number(a.usage.cpuUs)) / 1e4 / seconds
    out[`${role}RssMb`] = Number(b.usage.rss) / 2 ** 20
  })
  return out
}

const IDLE_TRAFFIC_TARGETS = ['public', 'home'].flatMap((role) =>
  ['In', 'Out'].map((direction) => ({
    metric: `${role}${direction}BytesPerSec`,
    atMost: 1_000_000,
    source: 'product documents: maintenance traffic < 1 MB/s per node (aim: a few KB/s)',
  })),
)

export default defineSuite({
  name: 'nat',
  description:
    'full nodes across NATs in the simulated internet (root): cold start to first verified task, share direct, task latency relayed vs direct, churn, idle traffic',
  cases: [
    compare(
      'NAT matrix',
      PAIRINGS.map(([name, nats]) => pairing(name, nats)),
      {
        baseline: 'cone–cone',
        metrics: ['firstTaskMs', 'routeMs'],
        description: 'the three pairings side by side, trial by trial',
      },
    ),
    measure('churn: providers leaving and joining under a workload', churn, {
      rounds: CHURN_ROUNDS,
      warmupRounds: 0,
      units: { tasks: 'tasks', lostTasks: 'tasks', replacedProviders: 'nodes', churnPerMinPct: '%' },
      description: `${CHURN_PROVIDERS} providers behind cone and symmetric NATs, one replaced every ${CHURN_EVERY_MS / 1000} s, tasks one after another`,
      targets: [
        { metric: 'lostTasks', atMost: 0, judged: 'every round', source: 'issue 12: churn, no task lost' },
        {
          metric: 'churnPerMinPct',
          atLeast: 10,
          source: 'product documents: 10 % of nodes leaving and joining per minute',
        },
      ],
    }),
    measure('idle: public node and two home nodes (cone)', idleWindow, {
      rounds: IDLE_ROUNDS,
      warmupRounds: 0,
      setup: startIdle,
      teardown: async () => {
        for (const { node } of idle?.nodes ?? []) node.proc.stdin?.end()
        await idle?.net.destroy()
        idle = undefined
        await rm(root, { recursive: true, force: true })
      },
      units: Object.fromEntries(
        ['public', 'home', 'home2'].flatMap((role) => [
          [`${role}InBytesPerSec`, 'B/s'],
          [`${role}OutBytesPerSec`, 'B/s'],
        ]),
      ),
      description: `bytes/s through each host's interface and CPU per node process, over ${IDLE_WINDOW_MS / 1000} s windows`,
      targets: IDLE_TRAFFIC_TARGETS,
    }),
  ],
})
