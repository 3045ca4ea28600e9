import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadOrCreateIdentity } from '@p2p-ai/identity'
import { createInternet, type Internet, type TestHost } from '@p2p-ai/testnet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodeInit } from '../src/create.js'
import type { NetworkTaskRecord } from '../src/exchange/index.js'
import type { NodeNetworkStatus } from '../src/network-status.js'
import type { PeerInfo } from '../src/peers/types.js'
import { Host, type HostEvent, tempDir } from './helpers.js'

// Full nodes across the simulated internet of @p2p-ai/testnet (network namespaces: public hosts on
// 11.8.1.x, homes 10.201.N behind cone or symmetric NAT routers; needs root, iproute2, iptables).
// One internet and one set of nodes for the whole file, in the order the tests need them:
//
//   P1, P2   public nodes: bootstrap, DHT servers, relays; they run no task and forward none
//   A        home behind a cone NAT, runs `near` and `where`
//   B        home behind a cone NAT, sends tasks
//   C        home behind a symmetric NAT, runs `far` and `where`
//   D        home behind a symmetric NAT, sends tasks
//
// mDNS is off everywhere: the homes know only the public nodes' addresses.

const TRUST_HOST = fileURLToPath(new URL('./fixtures/trust-host.mjs', import.meta.url))
const PORT = 4001
/** Six node processes starting at once on a loaded 2-core machine settle within this. */
const SETTLE_MS = 40_000

interface Node {
  host: Host
  peerId: string
  dir: string
  testHost: TestHost
  init: NodeInit
  types: string[]
}

function launch(testHost: TestHost, init: NodeInit, types: string[]): Host {
  return new Host(
    testHost.spawn(process.execPath, [TRUST_HOST, JSON.stringify(init), JSON.stringify({ types })]),
  )
}

async function start(testHost: TestHost, dir: string, init: NodeInit, types: string[] = []): Promise<Node> {
  const host = launch(testHost, init, types)
  const ready = await host.waitFor((e) => e.event === 'ready', 30_000, 'ready')
  return { host, peerId: ready.peerId as string, dir, testHost, init, types }
}

/** Asks a node something and waits for the answer that came after the question. */
async function ask(node: Node, command: string, event: string, timeoutMs = 10_000): Promise<HostEvent> {
  const asked = Date.now()
  node.host.send(command)
  return node.host.waitFor((e) => e.event === event && e.at >= asked, timeoutMs, event)
}

async function network(node: Node): Promise<NodeNetworkStatus> {
  return (await ask(node, 'network', 'network')).network as NodeNetworkStatus
}

interface Peers {
  connected: string[]
  exchange: PeerInfo[]
  connections: Array<{ peerId: string; kind: 'direct' | 'relayed'; limited: boolean; remoteAddr: string }>
}

async function peers(node: Node): Promise<Peers> {
  return (await ask(node, 'peers', 'peers')) as unknown as Peers
}

let taskCount = 0

/** What went wrong with a task, for an assertion's message. */
function why(record: NetworkTaskRecord): string {
  return JSON.stringify({ error: record.error, attempts: record.attempts })
}

async function submit(
  node: Node,
  type: string,
  options: Record<string, unknown> = {},
  input: Record<string, unknown> = {},
): Promise<NetworkTaskRecord> {
  const id = `swarm-task-${++taskCount}`
  node.host.send(`submit ${JSON.stringify({ task: { type, id, input: { tag: id, ...input } }, options })}`)
  const e = await node.host.waitFor((ev) => ev.event === 'result' && ev.id === id, 60_000, `result of ${id}`)
  return e.record as NetworkTaskRecord
}

/** Polls `read` until `accept` holds. */
async function until<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (accept(value)) return value
    if (Date.now() > deadline)
      throw new Error(`never happened; last: ${JSON.stringify(value).slice(0, 2_000)}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe('a swarm across NATs: full nodes in a simulated internet (needs root, iproute2 and iptables)', () => {
  let net: Internet
  let dir: { path: string; [Symbol.asyncDispose]: () => Promise<void> }
  const nodes: Node[] = []
  let p1: Node
  let p2: Node
  let a: Node
  let b: Node
  let c: Node
  let d: Node

  beforeAll(async () => {
    dir = await tempDir('p2p-ai-swarm-')
    net = await createInternet({
      publicHosts: 2,
      homes: [{ nat: 'cone' }, { nat: 'cone' }, { nat: 'symmetric' }, { nat: 'symmetric' }],
      prefix: 'p2pswarm',
    })
    // Identities made up front, so every node starts at once knowing the public nodes' addresses.
    const names = ['p1', 'p2', 'a', 'b', 'c', 'd']
    const ids = new Map<string, string>()
    for (const name of names) {
      const { identity } = await loadOrCreateIdentity(join(dir.path, name, 'identity.json'))
      ids.set(name, identity.peerId)
    }
    const publicHosts = net.publicHosts as [TestHost, TestHost]
    const bootstrap = publicHosts.map((h, i) => `/ip4/${h.address}/tcp/${PORT}/p2p/${ids.get(`p${i + 1}`)}`)
    const publicInit = (name: string): NodeInit => ({
      dataDir: join(dir.path, name),
      network: { listen: [`/ip4/0.0.0.0/tcp/${PORT}`], mdns: { enabled: false }, bootstrap },
      // Infrastructure: it relays connections, not tasks, so every task below crosses a relay
      // or a punched connection, never a task-level forward.
      forwarding: { enabled: false },
      engineOptions: { workers: false },
    })
    const homeInit = (name: string): NodeInit => ({
      dataDir: join(dir.path, name),
      network: { listen: ['/ip4/0.0.0.0/tcp/0'], mdns: { enabled: false }, bootstrap },
      engineOptions: { workers: false },
    })
    const homes = net.homes.map((home) => home.hosts[0] as TestHost)
    ;[p1, p2, a, b, c, d] = await Promise.all([
      start(publicHosts[0], join(dir.path, 'p1'), publicInit('p1')),
      start(publicHosts[1], join(dir.path, 'p2'), publicInit('p2')),
      start(homes[0]!, join(dir.path, 'a'), homeInit('a'), ['near', 'where']),
      start(homes[1]!, join(dir.path, 'b'), homeInit('b')),
      start(homes[2]!, join(dir.path, 'c'), homeInit('c'), ['far', 'where']),
      start(homes[3]!, join(dir.path, 'd'), homeInit('d')),
    ])
    nodes.push(p1, p2, a, b, c, d)
    // Every home learns it is behind NAT and holds a relay slot; the providers have published
    // what they run.
    await Promise.all([
      ...[a, b, c, d].map(async (home) =>
        until(
          () => network(home),
          (n) => n.reachability === 'private' && n.relays.length > 0,
          SETTLE_MS,
        ),
      ),
      until(
        () => network(c),
        (n) => n.dht.advertised.includes('task/far'),
        SETTLE_MS,
      ),
      until(
        () => network(a),
        (n) => n.dht.advertised.includes('task/near'),
        SETTLE_MS,
      ),
    ])
  }, 90_000)

  afterAll(async () => {
    await Promise.all(nodes.map(async (node) => node.host[Symbol.asyncDispose]()))
    await net?.destroy()
    await dir?.[Symbol.asyncDispose]()
  })

  it('the public nodes find out they are public and serve the DHT and relays; the homes know they are private', async () => {
    const status = await until(
      () => network(p1),
      (n) => n.reachability === 'public' && n.dht.mode === 'server',
    )
    expect(status.relayServer.enabled).toBe(true)
    expect(status.announced).toContain(`/ip4/11.8.1.1/tcp/${PORT}/p2p/${p1.peerId}`)
    const home = await network(a)
    expect(home).toMatchObject({
      reachability: 'private',
      dht: { mode: 'client' },
      holePunch: { mapping: 'endpoint-independent' },
    })
    // Both public nodes saw A's punch port at one address of A's router: a cone NAT.
    expect(new Set(home.holePunch?.observed).size).toBe(1)
    expect(home.holePunch?.observed[0]).toMatch(/^\/ip4\/11\.8\.2\.1\/tcp\/\d+$/)
    expect(home.announced.some((address) => address.includes('/p2p-circuit'))).toBe(true)
    // Two observers saw the symmetric NAT map the punch port to two ports: no punching from there.
    await until(
      () => network(c),
      (n) => n.holePunch?.mapping === 'endpoint-dependent',
    )
  })

  it('a provider found only through a DHT capability record serves a task for a type no neighbour offers, over a relay (tests 1 and 6)', async () => {
    const before = await peers(b)
    expect(before.connected).not.toContain(c.peerId)
    for (const peer of before.exchange) {
      expect(peer.capabilities?.taskTypes ?? []).not.toContain('far')
      expect((peer.capabilities?.reach ?? []).map((r) => r.taskType)).not.toContain('far')
    }
    const record = await submit(b, 'far')
    expect(record, why(record)).toMatchObject({
      status: 'COMPLETED',
      peer: c.peerId,
      output: { ranOn: c.peerId },
    })
    expect((await network(b)).dht.lookups).toBeGreaterThanOrEqual(1)
    // Cone and symmetric: no hole punch can work, the pair stays relayed.
    const link = (await peers(b)).exchange.find((p) => p.peerId === c.peerId)
    expect(link?.connection).toMatchObject({ kind: 'relayed', limited: true })
    expect([p1.peerId, p2.peerId]).toContain(link?.connection?.via)
  })

  it('behind two cone NATs the connection upgrades to a direct one between the routers, and later tasks use it (test 2)', async () => {
    const first = await submit(b, 'near')
    expect(first, why(first)).toMatchObject({
      status: 'COMPLETED',
      peer: a.peerId,
      output: { ranOn: a.peerId },
    })
    const direct = await until(
      () => peers(b),
      (p) => {
        const toA = p.connections.filter((x) => x.peerId === a.peerId)
        return toA.length === 1 && toA[0]?.kind === 'direct'
      },
    )
    // A TCP connection from B's router to A's router: not through any relay.
    expect(direct.connections.find((x) => x.peerId === a.peerId)?.remoteAddr).toMatch(
      new RegExp(`^/ip4/11\\.8\\.2\\.1/tcp/\\d+/p2p/${a.peerId}$`),
    )
    expect((await network(b)).holePunch?.punched).toBeGreaterThanOrEqual(1)
    const later = await Promise.all([submit(b, 'near'), submit(b, 'near'), submit(b, 'near')])
    for (const record of later)
      expect(record, why(record)).toMatchObject({ status: 'COMPLETED', peer: a.peerId })
    // The relayed connection is gone, so those went direct; a large input needs nothing else now.
    const after = await peers(b)
    expect(after.connections.filter((x) => x.peerId === a.peerId).map((x) => x.kind)).toEqual(['direct'])
    const large = await submit(b, 'near', {}, { pad: 'x'.repeat(100_000) })
    expect(large, why(large)).toMatchObject({ status: 'COMPLETED', peer: a.peerId })
  })

  it('behind two symmetric NATs tasks complete through the relay; a large input waits for a direct connection (test 3)', async () => {
    const record = await submit(d, 'far')
    expect(record, why(record)).toMatchObject({
      status: 'COMPLETED',
      peer: c.peerId,
      output: { ranOn: c.peerId },
    })
    const link = (await peers(d)).exchange.find((p) => p.peerId === c.peerId)
    expect(link?.connection).toMatchObject({ kind: 'relayed', limited: true })
    const more = await Promise.all([submit(d, 'far'), submit(d, 'far')])
    for (const r of more) expect(r.status, why(r)).toBe('COMPLETED')

    const large = await submit(
      d,
      'far',
      { target: c.peerId, waitForPeerMs: 300 },
      { pad: 'x'.repeat(100_000) },
    )
    expect(large, why(large)).toMatchObject({
      status: 'FAILED',
      error: { code: 'ERR_NO_CAPABLE_PEER' },
      attempts: [],
    })
    expect(large.error?.message).toContain(
      'reached only through a relay, and inputs over 65536 bytes wait for a direct connection',
    )
  })

  it('a home node is found by its PeerId alone: the DHT gives its relay address (node connect <peerId>)', async () => {
    expect((await peers(d)).connected).not.toContain(b.peerId)
    const answer = await ask(d, `connect ${b.peerId}`, 'connected', 15_000)
    expect(answer.address).toBe(b.peerId)
    // Through B's relay (D's symmetric NAT leaves no hole to punch).
    const links = (await peers(d)).connections.filter((x) => x.peerId === b.peerId)
    expect(links.map((x) => x.kind)).toContain('relayed')
    expect(links.find((x) => x.kind === 'relayed')?.remoteAddr).toMatch(
      new RegExp(`^/ip4/11\\.8\\.1\\.[12]/tcp/${PORT}/p2p/\\w+/p2p-circuit/p2p/${b.peerId}$`),
    )
  })

  it('when a relay dies, reservations move to the other public node within seconds and tasks keep flowing (test 4)', async () => {
    const relayOfC = (await network(c)).relays[0]
    const dying = [p1, p2].find((p) => p.peerId === relayOfC)!
    const survivor = dying === p1 ? p2 : p1
    const killedAt = Date.now()
    dying.host.proc.kill('SIGKILL')
    const moved = await until(
      () => network(c),
      (n) => n.relays.length === 1 && n.relays[0] === survivor.peerId,
      15_000,
    )
    expect(moved.relays).toEqual([survivor.peerId])
    expect(Date.now() - killedAt).toBeLessThan(10_000)
    // D reaches C again through the surviving relay, found anew through the DHT: C's capability
    // record is on the surviving server too (the advertiser keeps it on every server of a small
    // DHT; a walk that missed one is made again), so its death loses nothing.
    const record = await submit(d, 'far')
    // When it does not, what D and C saw of the network says why.
    const seen =
      record.status === 'COMPLETED'
        ? ''
        : JSON.stringify({ d: await network(d), links: (await peers(d)).connections, c: await network(c) })
    expect(record, why(record) + seen).toMatchObject({ status: 'COMPLETED', output: { ranOn: c.peerId } })
  })

  it('churn: a provider leaves mid-workload and another joins; no task is lost (test 5, small)', async () => {
    // `where` runs on A (direct to B) and C (relayed). A leaves without a word while a newcomer
    // behind the same router starts, to take over A's other task type.
    const workload = Array.from({ length: 12 }, () => submit(b, 'where'))
    await new Promise((resolve) => setTimeout(resolve, 200))
    a.host.proc.kill('SIGKILL')
    const joining = start(a.testHost, join(dir.path, 'a2'), { ...a.init, dataDir: join(dir.path, 'a2') }, [
      'near',
    ])
    const records = await Promise.all(workload)
    for (const record of records) {
      expect(record.status, why(record)).toBe('COMPLETED')
      expect([a.peerId, c.peerId]).toContain((record.output as { ranOn: string }).ranOn)
    }
    const joined = await joining
    nodes.push(joined)
    await until(
      () => network(joined),
      (n) => n.dht.advertised.includes('task/near'),
    )
    const record = await submit(b, 'near')
    expect(record, why(record)).toMatchObject({ status: 'COMPLETED', output: { ranOn: joined.peerId } })
  })
})
