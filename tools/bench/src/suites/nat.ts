/**
 * NAT traversal across the simulated internet of @p2p-ai/testnet: network namespaces with a public
 * segment (11.8.0.0/16) and home networks behind NAT routers (iptables inside the routers'
 * namespaces). Needs root, iproute2 and iptables, as the testnet tests do; nothing touches the
 * machine's own network.
 *
 * - The NAT matrix, one trial per round on a fresh internet: a public bootstrap/relay node, then
 *   two home nodes started cold behind two NATs (cone–cone, cone–symmetric, symmetric–symmetric),
 *   given only the public node's addresses. Per trial: time until one finds the other through the
 *   DHT, time until the first stream exchange between them succeeds (a stand-in for the first
 *   verified task), whether the pair ended on a direct connection, and the round trip of a stream
 *   exchange over the relayed and over the direct connection.
 * - Idle maintenance traffic and CPU per node: the public node and two home nodes, settled and
 *   connected, left alone; bytes in and out of each host's interface (kernel counters, everything
 *   the node sends) and each node process's CPU time, over the window.
 *
 * Issue 12 and the product documents set the targets: direct in every cone–cone trial (hole
 * punching is physically possible there without port prediction), every exchange completing in
 * every pairing, idle traffic under 1 MB/s per node (aim: a few KB/s), discovery under 30 s (aim:
 * under 5 s).
 */
import {
  createInternet,
  type HostNode,
  type HostNodeEvent,
  type Internet,
  type NatKind,
} from '@p2p-ai/testnet'
import { compare, defineSuite, measure } from '../runner.js'
import type { Measurements, RoundContext } from '../types.js'

/** Public nodes listen on TCP and QUIC on one port number, so their addresses can be written down. */
const PUBLIC_PORT = 4001
const PUBLIC_LISTEN = [`/ip4/0.0.0.0/tcp/${PUBLIC_PORT}`, `/ip4/0.0.0.0/udp/${PUBLIC_PORT}/quic-v1`]
/** Home nodes listen as a node does by default, minus WebSockets (no browser here). */
const HOME_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/quic-v1']
const QUIET = { mdns: false, dht: true } as const

/** Trials per pairing (rounds; `--rounds` overrides, `--quick` caps at 2). */
const TRIALS = 20
/** From cold start, how long a trial may take to find the other node and exchange once. */
const EXCHANGE_DEADLINE_MS = 30_000
/** After the first exchange, how long hole punching gets before the trial counts as relayed. */
const DIRECT_WAIT_MS = 5_000
/** Stream exchanges timed on each kind of connection. */
const RTT_EXCHANGES = 30
const RTT_EXCHANGES_QUICK = 8
/** Idle window per round, and idle rounds. */
const IDLE_WINDOW_MS = 60_000
const IDLE_WINDOW_QUICK_MS = 5_000
const IDLE_ROUNDS = 3
/** Before an idle window: reservations made, DHT settled, the first exchange done. */
const IDLE_SETTLE_MS = 5_000

const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface PublicNode {
  node: HostNode
  bootstrap: string[]
}

async function startPublic(net: Internet): Promise<PublicNode> {
  const host = net.publicHosts[0]
  if (host === undefined) throw new Error('a public host expected')
  const node = await host.startNode({ ...QUIET, listen: PUBLIC_LISTEN })
  return {
    node,
    bootstrap: [
      `/ip4/${host.address}/tcp/${PUBLIC_PORT}/p2p/${node.peerId}`,
      `/ip4/${host.address}/udp/${PUBLIC_PORT}/quic-v1/p2p/${node.peerId}`,
    ],
  }
}

async function startHomes(net: Internet, bootstrap: string[]): Promise<[HostNode, HostNode]> {
  const [first, second] = await Promise.all(
    net.homes.map(async (home) => {
      const host = home.hosts[0]
      if (host === undefined) throw new Error('a home host expected')
      return host.startNode({ ...QUIET, bootstrap, listen: HOME_LISTEN })
    }),
  )
  if (first === undefined || second === undefined) throw new Error('two home nodes expected')
  return [first, second]
}

/** Asks `node` until `ok` or the deadline; resolves with the answer that was ok, or undefined. */
async function until(
  node: HostNode,
  command: Record<string, unknown>,
  deadline: number,
  signal: AbortSignal,
): Promise<HostNodeEvent | undefined> {
  while (performance.now() < deadline && !signal.aborted) {
    const left = deadline - performance.now()
    const timeoutMs = Math.max(500, Math.min(5_000, left))
    const answer = await node.request({ ...command, timeoutMs }, timeoutMs + 5_000).catch(() => undefined)
    if (answer?.ok === true) return answer
    await sleep(100)
  }
  return undefined
}

async function directTo(node: HostNode, peerId: string): Promise<boolean> {
  const { connections } = await node.request({ cmd: 'connections' })
  return (connections as Array<{ peerId: string; kind: string }>).some(
    (c) => c.peerId === peerId && c.kind === 'direct',
  )
}

/** Stream exchanges from `from` to `to`, timed in the sending process, by connection kind. */
async function roundTrips(
  from: HostNode,
  to: HostNode,
  count: number,
): Promise<{ relayed: number[]; direct: number[]; failed: number }> {
  const out = { relayed: [] as number[], direct: [] as number[], failed: 0 }
  for (let i = 0; i < count; i++) {
    const echo = await from.request({ cmd: 'echo', peerId: to.peerId, message: `rtt ${i}`, timeoutMs: 5_000 })
    const kind = (echo.connection as { kind?: string } | null | undefined)?.kind
    if (echo.ok !== true || typeof echo.ms !== 'number') out.failed++
    else if (kind === 'direct') out.direct.push(echo.ms)
    else out.relayed.push(echo.ms)
  }
  return out
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
    : { [`${prefix}RttP50Ms`]: percentile(values, 50), [`${prefix}RttP99Ms`]: percentile(values, 99) }
}

/**
 * One trial on a fresh internet. A trial that cannot find the other node or exchange with it in
 * time reports `exchangedPct: 0` (and what it did measure) rather than throwing, so the share of
 * failed exchanges is counted, not hidden by a case that stopped.
 */
async function trial(
  nats: readonly [NatKind, NatKind],
  { quick, signal }: RoundContext,
): Promise<Measurements> {
  await using net = await createInternet({ publicHosts: 1, homes: nats.map((nat) => ({ nat })) })
  const { bootstrap } = await startPublic(net)
  const started = performance.now()
  const deadline = started + EXCHANGE_DEADLINE_MS
  const [alice, bob] = await startHomes(net, bootstrap)
  const found = await until(alice, { cmd: 'findPeer', peerId: bob.peerId }, deadline, signal)
  if (found === undefined) return { exchangedPct: 0 }
  const discoveryMs = performance.now() - started
  const exchanged = await until(
    alice,
    { cmd: 'echo', peerId: bob.peerId, message: 'first' },
    deadline,
    signal,
  )
  if (exchanged === undefined) return { exchangedPct: 0, discoveryMs }
  const firstExchangeMs = performance.now() - started

  const count = quick ? RTT_EXCHANGES_QUICK : RTT_EXCHANGES
  const before = await roundTrips(alice, bob, count)
  const waitUntil = performance.now() + DIRECT_WAIT_MS
  let direct = await directTo(alice, bob.peerId)
  while (!direct && performance.now() < waitUntil) {
    await sleep(250)
    direct = await directTo(alice, bob.peerId)
  }
  const after = direct ? await roundTrips(alice, bob, count) : { relayed: [], direct: [], failed: 0 }
  return {
    exchangedPct: 100,
    directPct: direct ? 100 : 0,
    discoveryMs,
    firstExchangeMs,
    failedExchanges: before.failed + after.failed,
    ...latencies('relayed', [...before.relayed, ...after.relayed]),
    ...latencies('direct', [...before.direct, ...after.direct]),
  }
}

const PAIRINGS = [
  ['cone–cone', ['cone', 'cone']],
  ['cone–symmetric', ['cone', 'symmetric']],
  ['symmetric–symmetric', ['symmetric', 'symmetric']],
] as const

const UNITS = { failedExchanges: 'exchanges' }

function pairing(name: string, nats: readonly [NatKind, NatKind]) {
  const everyExchange = {
    metric: 'exchangedPct',
    atLeast: 100,
    judged: 'every round',
    source: 'issue 12: 100 % of tasks complete in every pairing',
  } as const
  const discovery = {
    metric: 'discoveryMs',
    atMost: 30_000,
    source: 'product documents: discovery within 30 s (aim: 5 s)',
  }
  return measure(name, async (ctx) => trial(nats, ctx), {
    rounds: TRIALS,
    warmupRounds: 0,
    units: UNITS,
    description: `two home nodes behind ${nats[0]} and ${nats[1]} NATs, one fresh internet per trial`,
    targets:
      name === 'cone–cone'
        ? [
            {
              metric: 'directPct',
              atLeast: 100,
              judged: 'every round',
              source: 'issue 12: direct wherever both NATs map endpoint-independently',
            },
            everyExchange,
            discovery,
          ]
        : [everyExchange, discovery],
  })
}

/** The settled network an idle round measures: one public node and two home nodes behind cone NATs. */
interface IdleNetwork {
  net: Internet
  nodes: Array<{ role: string; node: HostNode }>
}

let idle: IdleNetwork | undefined

async function startIdle(): Promise<void> {
  const net = await createInternet({ publicHosts: 1, homes: [{ nat: 'cone' }, { nat: 'cone' }] })
  try {
    const seed = await startPublic(net)
    const [alice, bob] = await startHomes(net, seed.bootstrap)
    // The everyday state: both homes reserved a relay slot, found each other and talked once.
    const deadline = performance.now() + EXCHANGE_DEADLINE_MS
    const signal = AbortSignal.timeout(EXCHANGE_DEADLINE_MS)
    if ((await until(alice, { cmd: 'findPeer', peerId: bob.peerId }, deadline, signal)) === undefined)
      throw new Error('the home nodes did not find each other')
    if (
      (await until(alice, { cmd: 'echo', peerId: bob.peerId, message: 'hi' }, deadline, signal)) === undefined
    )
      throw new Error('the home nodes could not exchange')
    await sleep(IDLE_SETTLE_MS)
    idle = {
      net,
      nodes: [
        { role: 'public', node: seed.node },
        { role: 'home', node: alice },
        { role: 'home2', node: bob },
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
    const cpuUs =
      Number(b.usage.cpuUserUs) +
      Number(b.usage.cpuSystemUs) -
      Number(a.usage.cpuUserUs) -
      Number(a.usage.cpuSystemUs)
    out[`${role}InBytesPerSec`] = (b.traffic.rxBytes - a.traffic.rxBytes) / seconds
    out[`${role}OutBytesPerSec`] = (b.traffic.txBytes - a.traffic.txBytes) / seconds
    out[`${role}CpuPct`] = cpuUs / 1e4 / seconds
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
    'NAT traversal in the simulated internet (root): time to first exchange, share direct, RTT relayed vs direct, idle traffic',
  cases: [
    compare(
      'NAT matrix',
      PAIRINGS.map(([name, nats]) => pairing(name, nats)),
      {
        baseline: 'cone–cone',
        metrics: ['discoveryMs', 'firstExchangeMs'],
        description: 'the three pairings side by side, trial by trial',
      },
    ),
    measure('idle: public node and two home nodes (cone)', idleWindow, {
      rounds: IDLE_ROUNDS,
      warmupRounds: 0,
      setup: startIdle,
      teardown: async () => {
        await idle?.net.destroy()
        idle = undefined
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
