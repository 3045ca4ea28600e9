import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInternet, type Internet } from '../src/internet.js'
import { assertTestnetAvailable } from '../src/ip.js'
import { assertNatAvailable } from '../src/nat.js'
import type { HostNode, HostNodeEvent, HostNodeOptions } from '../src/node-process.js'
import { assertUpnpAvailable } from '../src/upnp.js'

// Transport nodes (createTransport, in host programs) across the simulated internet: public nodes
// on 11.8.1.x, home nodes behind NAT routers. mDNS is off everywhere: nodes only have the public
// bootstrap addresses, the DHT and relays. Each describe shares one internet and one set of nodes;
// full nodes exchanging tasks across the same kind of internet are in
// packages/node/test/swarm-internet.test.ts.

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

async function connectionsTo(node: HostNode, peer: HostNode): Promise<Connection[]> {
  return (await connections(node)).filter((c) => c.peerId === peer.peerId)
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

beforeAll(async () => {
  await assertTestnetAvailable()
  await assertNatAvailable()
  await assertUpnpAvailable()
})

describe('NAT traversal over TCP across a simulated internet (needs root, iproute2 and iptables)', () => {
  // Two public nodes (bootstrap, DHT, relays); homes behind cone, cone, symmetric, symmetric NATs.
  let net: Internet
  let seed: HostNode
  let visitor: HostNode
  let bootstrap: string[]
  let cone1: HostNode
  let cone2: HostNode
  let sym1: HostNode
  let sym2: HostNode

  beforeAll(async () => {
    net = await createInternet({
      publicHosts: 2,
      homes: [{ nat: 'cone' }, { nat: 'cone' }, { nat: 'symmetric' }, { nat: 'symmetric' }],
    })
    const started = await startPublic(net)
    ;[seed, visitor] = started.nodes as [HostNode, HostNode]
    bootstrap = started.bootstrap
    // Homes reserve on the first public node only; the second plays a visitor on the internet.
    ;[cone1, cone2, sym1, sym2] = (await startHomes(net, [bootstrap[0]!])) as [
      HostNode,
      HostNode,
      HostNode,
      HostNode,
    ]
    await Promise.all([cone1, cone2, sym1, sym2].map(async (home) => relaysOf(home, 1)))
  }, 60_000)

  afterAll(async () => {
    await net?.destroy()
  })

  it('a public node learns it is public and serves the DHT; home nodes learn they are private, reserve a relay slot and announce its circuit address', async () => {
    await expect.poll(async () => (await status(seed)).reachability, { timeout: 10_000 }).toBe('public')
    await expect.poll(async () => (await status(seed)).dhtMode, { timeout: 5_000 }).toBe('server')
    const seedStatus = await status(seed)
    expect(seedStatus.announced).toContain(`/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}`)
    // No NAT in front of the public node: it has no punch port mapping to look for.
    expect(seedStatus.punch).toMatchObject({ mapping: 'none', observed: [] })
    const home = await status(cone1)
    expect(home).toMatchObject({ reachability: 'private', dhtMode: 'client', relays: [seed.peerId] })
    // The public node saw her connections come from her router, her punch port included.
    expect(home.observed).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\/ip4\/11\.8\.2\.1\/tcp\/\d+$/)]),
    )
    expect(home.punch).toMatchObject({
      mapping: 'endpoint-independent',
      observed: [expect.stringMatching(/^\/ip4\/11\.8\.2\.1\/tcp\/\d+$/)],
    })
    expect(home.announced).toContain(
      `/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}/p2p-circuit/p2p/${cone1.peerId}`,
    )
  })

  it('behind two cone NATs, home nodes find each other through the DHT, talk over the relay, and a TCP hole punch makes the connection direct between the routers', async () => {
    const found = await cone1.request({ cmd: 'findPeer', peerId: cone2.peerId })
    expect(found.ok).toBe(true)
    // Only the relay address is of any use on the internet; the home address was filtered out.
    expect(found.addresses).toEqual([`/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}/p2p-circuit`])
    // The first stream goes over the relay the dial made; the punch follows within moments.
    await expect
      .poll(async () => connectionsTo(cone1, cone2), { timeout: 10_000 })
      .toEqual([
        expect.objectContaining({
          kind: 'direct',
          limited: false,
          remoteAddr: expect.stringMatching(new RegExp(`^/ip4/11\\.8\\.2\\.2/tcp/\\d+/p2p/${cone2.peerId}$`)),
        }),
      ])
    expect(await connectionsTo(cone2, cone1)).toEqual([
      expect.objectContaining({
        kind: 'direct',
        remoteAddr: expect.stringMatching(/^\/ip4\/11\.8\.2\.1\/tcp\//),
      }),
    ])
    expect((await status(cone1)).punch).toMatchObject({ punched: 1, failed: 0 })
    const echo = await cone1.request({ cmd: 'echo', peerId: cone2.peerId, message: 'direct now' })
    expect(echo).toMatchObject({
      ok: true,
      reply: 'direct now',
      connection: { kind: 'direct', limited: false },
    })
  })

  it('behind symmetric NATs there is no punching: the punch port maps per destination, and streams flow through the relay', async () => {
    // A symmetric NAT maps each connection to a new port: the public node saw several.
    const observed = (await status(sym1)).observed as string[]
    expect(observed.length).toBeGreaterThan(1)
    expect(observed.every((address) => address.startsWith('/ip4/11.8.2.3/tcp/'))).toBe(true)
    expect((await sym1.request({ cmd: 'findPeer', peerId: sym2.peerId })).ok).toBe(true)
    await expectRelayedEchoes(sym1, sym2, seed)
    // A cone node with a symmetric peer: relayed too, and it stays so.
    await expectRelayedEchoes(cone1, sym1, seed)
    expect(await connectionsTo(cone1, sym1)).toEqual([
      expect.objectContaining({ kind: 'relayed', limited: true }),
    ])
  })

  it('DCUtR: a public node that reaches a home node through the relay gets a direct connection, the home node dialling back through its NAT', async () => {
    const circuit = `/ip4/11.8.1.1/tcp/${PUBLIC_PORT}/p2p/${seed.peerId}/p2p-circuit/p2p/${sym2.peerId}`
    expect((await visitor.request({ cmd: 'dial', address: circuit })).ok).toBe(true)
    // DCUtR starts once identify has run on the relayed connection: seconds on a loaded machine.
    // The relayed connection goes once a direct one is there; on a loaded machine DCUtR's retry
    // may cross its first dial-back and leave two direct ones for a while (the pool trims the
    // duplicate once it is idle), so the test asks for direct ones only, from the router.
    await expect
      .poll(async () => connectionsTo(visitor, sym2), { timeout: 20_000 })
      .toSatisfy((list: Connection[]) => {
        return (
          list.length > 0 &&
          list.every(
            (c) => c.kind === 'direct' && !c.limited && /^\/ip4\/11\.8\.2\.4\/tcp\/\d+/.test(c.remoteAddr),
          )
        )
      })
    const echo = await visitor.request({ cmd: 'echo', peerId: sym2.peerId, message: 'direct now' })
    expect(echo).toMatchObject({ ok: true, connection: { kind: 'direct', limited: false } })
  })

  it('capability discovery: a node behind another NAT finds the provider of a key in the DHT and reaches it', async () => {
    const key = 'model/sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'
    expect(await sym1.request({ cmd: 'provide', key })).toMatchObject({ ok: true })
    const found = await cone2.request({ cmd: 'findProviders', key })
    expect(found.providers).toEqual([
      {
        peerId: sym1.peerId,
        addresses: expect.arrayContaining([
          expect.stringMatching(/^\/ip4\/11\.8\.1\.1\/tcp\/4001\/p2p\/\w+\/p2p-circuit$/),
        ]),
      },
    ])
    expect(
      (await cone2.request({ cmd: 'findProviders', key: 'task/nobody-runs-this', timeoutMs: 2_000 }))
        .providers,
    ).toEqual([])
    const echo = await cone2.request({ cmd: 'echo', peerId: sym1.peerId, message: 'embed this' })
    expect(echo).toMatchObject({
      ok: true,
      reply: 'embed this',
      connection: { kind: 'relayed', limited: true },
    })
  })
})

describe('NAT traversal with QUIC across a simulated internet (needs root, iproute2 and iptables)', () => {
  // A public node on TCP and QUIC; home nodes (TCP and QUIC) behind cone, cone, symmetric and
  // symmetric NATs, bootstrapped from its QUIC address.
  let net: Internet
  let seed: HostNode
  let cone1: HostNode
  let cone2: HostNode
  let sym1: HostNode
  let sym2: HostNode

  beforeAll(async () => {
    net = await createInternet({
      publicHosts: 1,
      homes: [{ nat: 'cone' }, { nat: 'cone' }, { nat: 'symmetric' }, { nat: 'symmetric' }],
    })
    const started = await startPublic(net, { listen: PUBLIC_LISTEN })
    seed = started.nodes[0]!
    ;[cone1, cone2, sym1, sym2] = (await startHomes(net, quicBootstrap(started.bootstrap), {
      listen: HOME_LISTEN,
    })) as [HostNode, HostNode, HostNode, HostNode]
    await Promise.all([cone1, cone2, sym1, sym2].map(async (home) => relaysOf(home, 1)))
  }, 60_000)

  afterAll(async () => {
    await net?.destroy()
  })

  it('home nodes behind cone and symmetric NATs reach a public node on UDP, seen from their routers', async () => {
    const seen = (await connections(seed)).map((c) => c.remoteAddr)
    expect(seen).toEqual(
      expect.arrayContaining([
        `/ip4/11.8.2.1/udp/${portOf(seen, '11.8.2.1')}/quic-v1/p2p/${cone1.peerId}`,
        `/ip4/11.8.2.3/udp/${portOf(seen, '11.8.2.3')}/quic-v1/p2p/${sym1.peerId}`,
      ]),
    )
    expect(await status(cone1)).toMatchObject({ reachability: 'private', quic: { available: true } })
  })

  // @chainsafe/libp2p-quic listens on one UDP socket and dials from another (its client endpoint,
  // bound to a fresh port, which refuses incoming connections). So the address peers observe is
  // not one anybody can dial back, AutoNAT never confirms it, and DCUtR has nothing to punch to.
  // Plain UDP sockets punch through the same two routers (see internet.test.ts): the limit is the
  // library's. TCP hole punching does the job instead. When the first expectation fails, QUIC
  // may have learned to punch.
  it('behind two cone NATs QUIC cannot punch (it dials from a port it does not listen on), but the TCP hole punch makes the pair direct', async () => {
    const listening = cone1.addresses.find((a) => a.startsWith('/ip4/10.201.1.2/udp/'))
    const observed = ((await status(cone1)).observed as string[]).find((a) => a.includes('/quic-v1'))
    expect(listening).toBeDefined()
    expect(observed).toMatch(/^\/ip4\/11\.8\.2\.1\/udp\/\d+\/quic-v1$/)
    // A cone NAT keeps ports: a different port means a different socket.
    expect(portOf([observed!], '11.8.2.1')).not.toBe(portOf([listening!], '10.201.1.2'))

    expect((await cone1.request({ cmd: 'findPeer', peerId: cone2.peerId })).ok).toBe(true)
    await expect
      .poll(async () => connectionsTo(cone1, cone2), { timeout: 10_000 })
      .toEqual([
        expect.objectContaining({
          kind: 'direct',
          remoteAddr: expect.stringMatching(/^\/ip4\/11\.8\.2\.2\/tcp\//),
        }),
      ])
    const echo = await cone1.request({ cmd: 'echo', peerId: cone2.peerId, message: 'direct' })
    expect(echo).toMatchObject({ ok: true, reply: 'direct', connection: { kind: 'direct' } })
  })

  it('behind cone and symmetric, and two symmetric NATs, streams flow through the relay', async () => {
    await expectRelayedEchoes(cone1, sym1, seed)
    await expectRelayedEchoes(sym1, sym2, seed)
    expect(await connectionsTo(sym2, sym1)).toEqual([
      expect.objectContaining({ kind: 'relayed', limited: true }),
    ])
  })
})

describe('a crowd, a private swarm and a router that forwards ports, across a simulated internet (needs root, iproute2, iptables and miniupnpd)', () => {
  it('a public node keeps connections to 60 peers behind two NATs (issue 12 test 7)', async () => {
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
      // Generous: on a loaded machine a crowd member whose first dial timed out redials after a
      // backoff (1 s doubling), and the last one may arrive late; it must arrive.
      .poll(async () => (await hub.peers()).filter((peer) => expected.includes(peer)).length, {
        timeout: 40_000,
        interval: 500,
      })
      .toBe(60)
    // They stay: a second look, a few seconds on, finds every one still connected.
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    expect((await hub.peers()).filter((peer) => expected.includes(peer))).toHaveLength(60)
    expect((await hub.ping(expected[59]!)).ok).toBe(true)
  }, 90_000)

  it('behind a router that forwards ports on request (UPnP), a home node is public and a node behind a symmetric NAT dials it directly, through no relay', async () => {
    await using net = await createInternet({
      publicHosts: 1,
      homes: [{ nat: 'cone', upnp: true }, { nat: 'symmetric' }],
    })
    const { bootstrap } = await startPublic(net)
    const upnpHome = net.homes[0]!
    const [forwarded, other] = await Promise.all([
      upnpHome.hosts[0]!.startNode({ ...QUIET, bootstrap, upnp: { gateways: [upnpHome.upnp!] } }),
      net.homes[1]!.hosts[0]!.startNode({ ...QUIET, bootstrap }),
    ])
    if (forwarded === undefined || other === undefined) throw new Error('two home nodes expected')
    // The router forwards the node's TCP port: the node announces it at the router's address.
    await expect.poll(async () => (await status(forwarded)).reachability, { timeout: 15_000 }).toBe('public')
    const announced = (await status(forwarded)).announced as string[]
    const mapped = announced.find((a) => a.startsWith('/ip4/11.8.2.1/tcp/'))
    expect(mapped, JSON.stringify(announced)).toMatch(
      new RegExp(`^/ip4/11\\.8\\.2\\.1/tcp/\\d+/p2p/${forwarded.peerId}$`),
    )
    // A node behind a symmetric NAT, which no hole punch reaches, dials it there: no relay.
    expect(await other.request({ cmd: 'dial', address: mapped })).toMatchObject({ ok: true })
    const links = await connectionsTo(other, forwarded)
    expect(links).toContainEqual(
      expect.objectContaining({ kind: 'direct', limited: false, remoteAddr: mapped }),
    )
    expect(links.filter((link) => link.kind !== 'direct')).toEqual([])
    const echo = await other.request({
      cmd: 'echo',
      peerId: forwarded.peerId,
      message: 'through the forward',
    })
    expect(echo).toMatchObject({ ok: true, connection: { kind: 'direct', limited: false } })
  }, 40_000)

  it('in a private swarm, a relay serves members and a stranger without the key cannot even connect to it', async () => {
    const psk = `/key/swarm/psk/1.0.0/\n/base16/\n${'a1'.repeat(32)}`
    await using net = await createInternet({
      publicHosts: 1,
      homes: [{ nat: 'cone' }, { nat: 'symmetric' }, { nat: 'cone' }],
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
    // The key mismatch garbles the handshake: the dial fails at its time limit at the latest.
    expect((await stranger.request({ cmd: 'dial', address: circuit, timeoutMs: 2_000 })).ok).toBe(false)
    expect((await stranger.request({ cmd: 'dial', address: bootstrap[0], timeoutMs: 2_000 })).ok).toBe(false)
    expect((await status(stranger)).relays).toEqual([])
    expect(await seed.peers()).not.toContain(stranger.peerId)
  }, 40_000)
})
