import { beforeAll, describe, expect, it } from 'vitest'
import { createInternet, type Internet } from '../src/internet.js'
import { assertTestnetAvailable } from '../src/ip.js'
import { assertNatAvailable, type NatKind } from '../src/nat.js'
import type { HostNode, HostNodeEvent, HostNodeOptions } from '../src/node-process.js'

// Transport nodes (createTransport, in host programs) across the simulated internet: public nodes
// on 11.8.1.x, home nodes behind NAT routers. mDNS is off everywhere: nodes only have the public
// bootstrap addresses, the DHT and relays.

/** Public nodes listen on a known port, so their bootstrap address can be written down. */
const PUBLIC_PORT = 4001
const QUIET: HostNodeOptions = { mdns: false, dht: true }
/** Public nodes listen on TCP and QUIC, on the same port number; home nodes on OS-chosen ports. */
const PUBLIC_LISTEN = [`/ip4/0.0.0.0/tcp/${PUBLIC_PORT}`, `/ip4/0.0.0.0/udp/${PUBLIC_PORT}/quic-v1`]
const HOME_LISTEN = ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/udp/0/quic-v1']

/** The QUIC addresses of the public nodes, for a bootstrap list. */
function quicBootstrap(bootstrap: string[]): string[] {
  return bootstrap.map((address) => address.replace(`/tcp/${PUBLIC_PORT}/`, `/udp/${PUBLIC_PORT}/quic-v1/`))
}

/** The UDP port in the first of `addresses` on `host`. */
function portOf(addresses: string[], host: string): string | undefined {
  for (const address of addresses) {
    const match = new RegExp(`^/ip4/${host.replaceAll('.', '\\.')}/udp/(\\d+)/`).exec(address)
    if (match !== null) return match[1]
  }
  return undefined
}

interface Connection {
  peerId: string
  kind: 'direct' | 'relayed'
  relay?: string
  limited: boolean
  remoteAddr: string
}

async function startPublic(
  net: Internet,
  options: HostNodeOptions = {},
): Promise<{ nodes: HostNode[]; bootstrap: string[] }> {
  const nodes = await Promise.all(
    net.publicHosts.map(async (host) =>
      host.startNode({ ...QUIET, listen: [`/ip4/0.0.0.0/tcp/${PUBLIC_PORT}`], ...options }),
    ),
  )
  return {
    nodes,
    bootstrap: nodes.map((node) => `/ip4/${node.host.address}/tcp/${PUBLIC_PORT}/p2p/${node.peerId}`),
  }
}

async function startHomes(
  net: Internet,
  bootstrap: string[],
  options: HostNodeOptions = {},
): Promise<HostNode[]> {
  return Promise.all(
    net.homes.map(async (home) => home.hosts[0]!.startNode({ ...QUIET, bootstrap, ...options })),
  )
}

async function connections(node: HostNode): Promise<Connection[]> {
  return (await node.request({ cmd: 'connections' })).connections as Connection[]
}

async function status(node: HostNode): Promise<HostNodeEvent> {
  return node.request({ cmd: 'status' })
}

/** Resolves once the node holds reservations on `count` relays, with the relay list. */
async function relaysOf(node: HostNode, count: number, after = 0, timeoutMs = 10_000): Promise<string[]> {
  const event = await node.waitFor(
    (e) => e.event === 'relay' && e.t > after && (e.relays as string[]).length >= count,
    timeoutMs,
  )
  return event.relays as string[]
}

interface QuicHomes extends AsyncDisposable {
  seed: HostNode
  alice: HostNode
  bob: HostNode
}

/**
 * A public node on TCP and QUIC, and two home nodes behind `first` and `second` NATs bootstrapped
 * from its QUIC address, each holding a relay reservation on it. Disposing it destroys the internet.
 */
async function quicHomes(first: NatKind, second: NatKind): Promise<QuicHomes> {
  const net = await createInternet({ publicHosts: 1, homes: [{ nat: first }, { nat: second }] })
  try {
    const {
      nodes: [seed],
      bootstrap,
    } = await startPublic(net, { listen: PUBLIC_LISTEN })
    const [alice, bob] = await startHomes(net, quicBootstrap(bootstrap), { listen: HOME_LISTEN })
    if (seed === undefined || alice === undefined || bob === undefined)
      throw new Error('three nodes expected')
    await Promise.all([alice, bob].map(async (home) => relaysOf(home, 1)))
    return { seed, alice, bob, [Symbol.asyncDispose]: async () => net.destroy() }
  } catch (err) {
    await net.destroy()
    throw err
  }
}

/** Three streams from `from` to `to`, each answered, each over a connection relayed by `relay`. */
async function expectRelayedEchoes(from: HostNode, to: HostNode, relay: HostNode): Promise<void> {
  for (const message of ['one', 'two', 'three']) {
    const echo = await from.request({ cmd: 'echo', peerId: to.peerId, message })
    expect(echo).toMatchObject({
      ok: true,
      reply: message,
      connection: { kind: 'relayed', relay: relay.peerId },
    })
  }
}

describe('NAT traversal across a simulated internet (needs root, iproute2 and iptables)', () => {
  beforeAll(async () => {
    await assertTestnetAvailable()
    await assertNatAvailable()
  })

  it('two home nodes behind different cone NATs, given only a public bootstrap node, find each other through the DHT and talk over a relay', async () => {
    await using net = await createInternet({ publicHosts: 1, homes: [{ nat: 'cone' }, { nat: 'cone' }] })
    const {
      nodes: [seed],
      bootstrap,
    } = await startPublic(net)
    const [alice, bob] = await startHomes(net, bootstrap)
    if (seed === undefined || alice === undefined || bob === undefined)
      throw new Error('three nodes expected')

    // Each home node learns it is behind NAT and reserves a slot on the public node, which learns
    // (AutoNAT) that it is publicly reachable and serves the DHT.
    await Promise.all([alice, bob].map(async (home) => relaysOf(home, 1)))
    await expect.poll(async () => (await status(seed)).reachability, { timeout: 10_000 }).toBe('public')
    await expect.poll(async () => (await status(seed)).dhtMode, { timeout: 5_000 }).toBe('server')
    const seedStatus = await status(seed)
    expect(seedStatus.announced).toContain(`/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}`)
    const aliceStatus = await status(alice)
    expect(aliceStatus).toMatchObject({ reachability: 'private', dhtMode: 'client', relays: [seed.peerId] })
    // The public node saw her connections come from her router.
    expect(aliceStatus.observed).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/ip4\/11\.8\.2\.1\/tcp\/\d+$/)]),
    )
    expect(aliceStatus.announced).toContain(
      `/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}/p2p-circuit/p2p/${alice.peerId}`,
    )

    const found = await alice.request({ cmd: 'findPeer', peerId: bob.peerId })
    expect(found.ok).toBe(true)
    // Only the relay address is of any use on the internet; bob's home address was filtered out.
    expect(found.addresses).toEqual([`/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}/p2p-circuit`])

    const echo = await alice.request({ cmd: 'echo', peerId: bob.peerId, message: 'hello bob' })
    expect(echo).toMatchObject({
      ok: true,
      reply: 'hello bob',
      connection: { kind: 'relayed', relay: seed.peerId, limited: true },
    })
    expect(await connections(bob)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ peerId: alice.peerId, kind: 'relayed', limited: true }),
      ]),
    )
  }, 30_000)

  it('DCUtR turns a relayed connection from a public node into a direct one: the home node dials back through its NAT', async () => {
    await using net = await createInternet({ publicHosts: 2, homes: [{ nat: 'cone' }] })
    const {
      nodes: [relay, visitor],
      bootstrap,
    } = await startPublic(net)
    const [home] = await startHomes(net, [bootstrap[0]!])
    if (relay === undefined || visitor === undefined || home === undefined)
      throw new Error('three nodes expected')
    await relaysOf(home, 1)

    // The visitor only knows the home node's relay address; it dials through the relay, and the
    // home node upgrades the connection by dialling the visitor's public address itself.
    const circuit = `/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${relay.peerId}/p2p-circuit/p2p/${home.peerId}`
    expect((await visitor.request({ cmd: 'dial', address: circuit })).ok).toBe(true)
    await expect
      .poll(async () => (await connections(visitor)).filter((c) => c.peerId === home.peerId), {
        timeout: 10_000,
      })
      .toEqual([
        expect.objectContaining({
          kind: 'direct',
          limited: false,
          remoteAddr: expect.stringMatching(/^\/ip4\/11\.8\.2\.1\/tcp\/\d+/),
        }),
      ])
    const echo = await visitor.request({ cmd: 'echo', peerId: home.peerId, message: 'direct now' })
    expect(echo).toMatchObject({
      ok: true,
      reply: 'direct now',
      connection: { kind: 'direct', limited: false },
    })
  }, 30_000)

  it('over QUIC: home nodes behind cone and symmetric NATs reach a public node on UDP, seen from their routers', async () => {
    await using pair = await quicHomes('cone', 'symmetric')
    const { seed, alice: cone, bob: symmetric } = pair
    // The seed sees each home's QUIC connection come from its router.
    const seen = (await connections(seed)).map((c) => c.remoteAddr)
    expect(seen).toEqual(
      expect.arrayContaining([
        `/ip4/11.8.2.1/udp/${portOf(seen, '11.8.2.1')}/quic-v1/p2p/${cone.peerId}`,
        `/ip4/11.8.2.2/udp/${portOf(seen, '11.8.2.2')}/quic-v1/p2p/${symmetric.peerId}`,
      ]),
    )
    expect(await status(cone)).toMatchObject({ reachability: 'private', quic: { available: true } })
  }, 30_000)

  // @chainsafe/libp2p-quic listens on one UDP socket and dials from another (its client endpoint,
  // bound to a fresh port, which refuses incoming connections). So the address peers observe is
  // not one anybody can dial back, AutoNAT never confirms it, and DCUtR has nothing to punch to.
  // Plain UDP sockets punch through the same two routers (see internet.test.ts): the limit is the
  // library's. When this test fails, QUIC may have learned to punch: turn it into the upgrade test.
  it('behind two cone NATs QUIC does not punch yet: nodes dial from a port they do not listen on, so the pair stays relayed and streams flow', async () => {
    await using pair = await quicHomes('cone', 'cone')
    const { seed, alice, bob } = pair
    const listening = alice.addresses.find((a) => a.startsWith('/ip4/10.201.1.2/udp/'))
    const observed = ((await status(alice)).observed as string[]).find((a) => a.includes('/quic-v1'))
    expect(listening).toBeDefined()
    expect(observed).toMatch(/^\/ip4\/11\.8\.2\.1\/udp\/\d+\/quic-v1$/)
    // A cone NAT keeps ports: a different port means a different socket.
    expect(portOf([observed!], '11.8.2.1')).not.toBe(portOf([listening!], '10.201.1.2'))

    const first = await alice.request({ cmd: 'echo', peerId: bob.peerId, message: 'via the relay' })
    expect(first).toMatchObject({ ok: true, connection: { kind: 'relayed', relay: seed.peerId } })
    // DCUtR runs as soon as the relayed connection opens, and gives up at once.
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    expect((await connections(alice)).filter((c) => c.peerId === bob.peerId)).toEqual([
      expect.objectContaining({ kind: 'relayed', limited: true }),
    ])
    const again = await alice.request({ cmd: 'echo', peerId: bob.peerId, message: 'still relayed' })
    expect(again).toMatchObject({ ok: true, reply: 'still relayed', connection: { kind: 'relayed' } })
  }, 30_000)

  it.each([
    ['cone', 'symmetric'],
    ['symmetric', 'symmetric'],
  ] as const)(
    'behind %s and %s NATs, with QUIC, streams flow through the relay',
    async (first, second) => {
      await using pair = await quicHomes(first, second)
      const { seed, alice, bob } = pair
      await expectRelayedEchoes(alice, bob, seed)
      expect((await connections(bob)).filter((c) => c.peerId === alice.peerId)).toEqual([
        expect.objectContaining({ kind: 'relayed', limited: true }),
      ])
    },
    30_000,
  )

  it('behind two symmetric NATs, streams still flow through the relay', async () => {
    await using net = await createInternet({
      publicHosts: 1,
      homes: [{ nat: 'symmetric' }, { nat: 'symmetric' }],
    })
    const {
      nodes: [seed],
      bootstrap,
    } = await startPublic(net)
    const [alice, bob] = await startHomes(net, bootstrap)
    if (seed === undefined || alice === undefined || bob === undefined)
      throw new Error('three nodes expected')
    await Promise.all([alice, bob].map(async (home) => relaysOf(home, 1)))
    // A symmetric NAT maps each connection to a new port: the seed saw several.
    const observed = (await status(alice)).observed as string[]
    expect(observed.every((address) => address.startsWith('/ip4/11.8.2.1/tcp/'))).toBe(true)

    expect((await alice.request({ cmd: 'findPeer', peerId: bob.peerId })).ok).toBe(true)
    await expectRelayedEchoes(alice, bob, seed)
  }, 30_000)

  it('when a relay dies, the home node moves its reservation to another public node within seconds', async () => {
    await using net = await createInternet({ publicHosts: 3, homes: [{ nat: 'cone' }] })
    const { nodes: seeds, bootstrap } = await startPublic(net)
    const [home] = await startHomes(net, bootstrap)
    if (home === undefined) throw new Error('a home node expected')
    const [first] = await relaysOf(home, 1)
    const dying = seeds.find((seed) => seed.peerId === first)!
    const killedAt = (await home.request({ cmd: 'peers' })).t
    const started = Date.now()
    dying.process.kill('SIGKILL')

    const [next] = await relaysOf(home, 1, killedAt, 15_000)
    expect(next).not.toBe(first)
    expect(seeds.map((s) => s.peerId)).toContain(next)
    expect(Date.now() - started).toBeLessThan(10_000)
    // Peers reach the home node through its new relay.
    const other = seeds.find((s) => s.peerId !== first && s.peerId !== next)!
    const circuit = `/ip4/${seeds.find((s) => s.peerId === next)!.host.address}/tcp/${PUBLIC_PORT}/p2p/${next}/p2p-circuit/p2p/${home.peerId}`
    expect((await other.request({ cmd: 'dial', address: circuit })).ok).toBe(true)
    expect((await other.request({ cmd: 'echo', peerId: home.peerId, message: 'still here' })).reply).toBe(
      'still here',
    )
  }, 40_000)

  it('capability discovery: a node behind another NAT finds the provider of a key in the DHT, dials it through a relay and opens a stream', async () => {
    await using net = await createInternet({ publicHosts: 2, homes: [{ nat: 'cone' }, { nat: 'symmetric' }] })
    const { bootstrap } = await startPublic(net)
    const [provider, requester] = await startHomes(net, bootstrap)
    if (provider === undefined || requester === undefined) throw new Error('two home nodes expected')
    await Promise.all([provider, requester].map(async (home) => relaysOf(home, 1)))

    const key = 'model/sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
    expect(await provider.request({ cmd: 'provide', key })).toMatchObject({ ok: true })
    const found = await requester.request({ cmd: 'findProviders', key })
    expect(found.providers).toEqual([
      {
        peerId: provider.peerId,
        addresses: expect.arrayContaining([
          expect.stringMatching(/^\/ip4\/11\.8\.1\.\d\/tcp\/4001\/p2p\/\w+\/p2p-circuit$/),
        ]),
      },
    ])
    expect(
      (await requester.request({ cmd: 'findProviders', key: 'task/nobody-runs-this', timeoutMs: 3_000 }))
        .providers,
    ).toEqual([])

    const echo = await requester.request({ cmd: 'echo', peerId: provider.peerId, message: 'embed this' })
    expect(echo).toMatchObject({
      ok: true,
      reply: 'embed this',
      connection: { kind: 'relayed', limited: true },
    })
  }, 40_000)

  it('a public node keeps connections to 60 peers behind two NATs', async () => {
    await using net = await createInternet({ publicHosts: 1, homes: [{ nat: 'cone' }, { nat: 'symmetric' }] })
    const {
      nodes: [hub],
      bootstrap,
    } = await startPublic(net, { maxConnections: 100 })
    if (hub === undefined) throw new Error('a hub expected')
    // Light peers: 30 transport nodes per process, one process per home.
    const light: HostNodeOptions = {
      mdns: false,
      relay: false,
      autonat: false,
      holePunch: false,
      count: 30,
      bootstrap,
    }
    const crowds = await Promise.all(
      net.homes.map(async (home) => home.hosts[0]!.startNode({ ...light, readyTimeoutMs: 30_000 })),
    )
    const expected = crowds.flatMap((crowd) => crowd.peerIds)
    expect(new Set(expected).size).toBe(60)
    await expect
      .poll(async () => (await hub.peers()).filter((peer) => expected.includes(peer)).length, {
        timeout: 20_000,
        interval: 500,
      })
      .toBe(60)
    // They stay: a second look, a few seconds on, finds every one still connected.
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    expect((await hub.peers()).filter((peer) => expected.includes(peer))).toHaveLength(60)
    expect((await hub.ping(expected[59]!)).ok).toBe(true)
  }, 60_000)

  it('in a private swarm, a relay serves members and a stranger without the key cannot even connect to it', async () => {
    const psk = `/key/swarm/psk/1.0.0/\n/base16/\n${'a1'.repeat(32)}`
    await using net = await createInternet({
      publicHosts: 1,
      homes: [{ nat: 'cone' }, { nat: 'cone' }, { nat: 'cone' }],
    })
    const {
      nodes: [seed],
      bootstrap,
    } = await startPublic(net, { psk })
    const [member, other, stranger] = await Promise.all([
      net.homes[0]!.hosts[0]!.startNode({ ...QUIET, bootstrap, psk }),
      net.homes[1]!.hosts[0]!.startNode({ ...QUIET, bootstrap, psk }),
      net.homes[2]!.hosts[0]!.startNode({ ...QUIET, bootstrap }),
    ])
    if (seed === undefined || member === undefined || other === undefined || stranger === undefined)
      throw new Error('four nodes expected')
    await Promise.all([member, other].map(async (home) => relaysOf(home, 1)))
    expect((await member.request({ cmd: 'echo', peerId: other.peerId, message: 'members only' })).ok).toBe(
      true,
    )

    const circuit = `/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}/p2p-circuit/p2p/${member.peerId}`
    expect((await stranger.request({ cmd: 'dial', address: circuit })).ok).toBe(false)
    expect((await stranger.request({ cmd: 'dial', address: bootstrap[0] })).ok).toBe(false)
    expect((await status(stranger)).relays).toEqual([])
    expect(await seed.peers()).not.toContain(stranger.peerId)
  }, 40_000)
})
