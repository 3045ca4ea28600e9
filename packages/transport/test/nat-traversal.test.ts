import { createHash } from 'node:crypto'
import type { Multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { capabilityCid, findCapabilityProviders, provideCapability } from '../src/capabilities.js'
import { connectionKind } from '../src/connection-kind.js'
import { DhtDisabledError, InvalidAnnounceAddressError, InvalidCapabilityKeyError } from '../src/errors.js'
import { openStream, pingPeer } from '../src/peer-streams.js'
import { overCircuitBudget } from '../src/relay.js'
import { createTransport, type Transport, type TransportInit } from '../src/transport.js'

// The NAT traversal pieces that loopback can show; the simulated internet of tools/testnet
// (nat-traversal.test.ts there) shows them across real NAT routers.
const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const LIMITED_ONLY = '/p2p-ai/test/limited/1.0.0'
const DIRECT_ONLY = '/p2p-ai/test/direct-only/1.0.0'

describe('NAT traversal on loopback', () => {
  const nodes: Transport[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
  })

  async function start(init: TransportInit = {}): Promise<Transport> {
    const node = await createTransport({ listen: LOOPBACK, mdns: false, ...init })
    nodes.push(node)
    return node
  }

  it('reaches a peer through a relay; connectionKind() says relayed, through whom, and limited', async () => {
    const relay = await start()
    const target = await start({ bootstrap: relay.getMultiaddrs().map(String) })
    await target.handle(LIMITED_ONLY, async (stream) => stream.close(), { runOnLimitedConnection: true })
    await target.handle(DIRECT_ONLY, async (stream) => stream.close())
    // The target reserves a slot on the relay it bootstrapped from and announces the circuit address.
    await expect
      .poll(
        () =>
          target
            .getMultiaddrs()
            .map(String)
            .filter((a) => a.includes('/p2p-circuit')),
        { timeout: 10_000 },
      )
      .toEqual(expect.arrayContaining([`${relay.getMultiaddrs()[0]}/p2p-circuit/p2p/${target.peerId}`]))
    expect(target.services.reachability.status().relays).toEqual([relay.peerId.toString()])

    const visitor = await start({ relay: { server: false } })
    const circuit = target.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit'))!
    const connection = await visitor.dial(circuit)
    expect(connectionKind(connection)).toEqual({
      kind: 'relayed',
      relay: relay.peerId.toString(),
      limited: true,
    })
    expect(connectionKind(visitor.getConnections(relay.peerId)[0]!)).toEqual({
      kind: 'direct',
      limited: false,
    })

    // Only protocols that opted in run over the relay; ping does.
    const stream = await connection.newStream(LIMITED_ONLY, { runOnLimitedConnection: true })
    await stream.close()
    await expect(connection.newStream(DIRECT_ONLY)).rejects.toThrow(/limited/i)
    expect(await visitor.services.ping.ping(target.peerId)).toBeGreaterThanOrEqual(0)
  }, 30_000)

  it('announces operator-given addresses at once, counts as public, and then reserves no relay slot', async () => {
    const node = await start({ announce: ['/ip4/11.8.9.9/tcp/4001'] })
    await expect
      .poll(() => node.getMultiaddrs().map(String))
      .toContain(`/ip4/11.8.9.9/tcp/4001/p2p/${node.peerId}`)
    await expect.poll(() => node.services.reachability.reachability).toBe('public')
    expect(node.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))).toBe(false)
    expect(node.services.relay).toBeDefined()
  })

  it('names a malformed announce address', async () => {
    for (const address of ['not a multiaddr', '/ip4/1.2.3.4', 42]) {
      const err = await createTransport({ mdns: false, announce: [address as string] }).catch(
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(InvalidAnnounceAddressError)
      expect(err).toMatchObject({ code: 'ERR_INVALID_ANNOUNCE_ADDRESS', address: String(address) })
    }
  })

  it('can leave out relays, AutoNAT and hole punching, and configure UPnP with a known gateway', async () => {
    const bare = await start({ relay: false, autonat: false, holePunch: false })
    expect(bare.services.relay).toBeUndefined()
    expect(bare.services.autonat).toBeUndefined()
    expect(bare.services.dcutr).toBeUndefined()
    const full = await start()
    expect(full.services.relay).toBeDefined()
    expect(full.services.autonat).toBeDefined()
    expect(full.services.dcutr).toBeDefined()
    expect(full.services.upnp).toBeUndefined()
    // A gateway given by URL is asked directly (here: nothing listens on loopback port 9), so no
    // SSDP search is multicast; the node runs on without a mapping.
    const mapped = await start({ upnp: { gateways: ['http://127.0.0.1:9/rootDesc.xml'] } })
    expect(mapped.services.upnp).toBeDefined()
    expect(
      await full.services.ping.ping(mapped.peerId, { signal: AbortSignal.timeout(5_000) }).catch(() => -1),
    ).toBe(-1)
    await full.dial(mapped.getMultiaddrs())
    expect(await full.services.ping.ping(mapped.peerId)).toBeGreaterThanOrEqual(0)
  })

  it('derives capability keys as CIDs of sha256("p2p-ai/capability/v1\\n" + key)', async () => {
    const cid = await capabilityCid('task/embed')
    const expected = createHash('sha256').update('p2p-ai/capability/v1\ntask/embed').digest()
    expect(Buffer.from(cid.multihash.digest)).toEqual(expected)
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x55)
    expect((await capabilityCid('task/embed')).equals(cid)).toBe(true)
    expect((await capabilityCid('task/ocr')).equals(cid)).toBe(false)
    for (const bad of ['', 42, 'x'.repeat(1_025)]) {
      await expect(capabilityCid(bad as string)).rejects.toBeInstanceOf(InvalidCapabilityKeyError)
    }
  })

  it('finds the providers of a capability through the DHT, and says when there is no DHT', async () => {
    const seed = await start({ dht: { mode: 'server', addresses: 'all' } })
    const bootstrap = seed.getMultiaddrs().map(String)
    const provider = await start({ bootstrap, dht: { mode: 'server', addresses: 'all' } })
    const requester = await start({ bootstrap, dht: { mode: 'server', addresses: 'all' } })
    await expect.poll(() => provider.getConnections(seed.peerId).length).toBeGreaterThan(0)
    await expect.poll(() => requester.getConnections(seed.peerId).length).toBeGreaterThan(0)

    // Stored on the seed and on the provider itself (a DHT server answers for its own records);
    // the requester too, once the DHT walk found it.
    const provided = await provideCapability(provider, 'task/embed', { signal: AbortSignal.timeout(10_000) })
    expect(provided.storedOn).toEqual(
      expect.arrayContaining([seed.peerId.toString(), provider.peerId.toString()]),
    )
    const found: string[] = []
    for await (const peer of findCapabilityProviders(requester, 'task/embed', {
      signal: AbortSignal.timeout(10_000),
    })) {
      found.push(peer.id.toString())
      break
    }
    expect(found).toEqual([provider.peerId.toString()])

    const noDht = await start()
    await expect(provideCapability(noDht, 'task/embed')).rejects.toBeInstanceOf(DhtDisabledError)
    await expect(findCapabilityProviders(noDht, 'task/embed').next()).rejects.toMatchObject({
      code: 'ERR_DHT_DISABLED',
    })
  }, 30_000)

  /** A relay, a target holding a reservation on it, and the target's circuit address. */
  async function relayed(
    init: TransportInit = {},
  ): Promise<{ relay: Transport; target: Transport; circuit: Multiaddr }> {
    const relay = await start(init)
    const target = await start({ ...init, bootstrap: relay.getMultiaddrs().map(String) })
    await target.handle(LIMITED_ONLY, async (stream) => stream.close(), { runOnLimitedConnection: true })
    await expect
      .poll(() => target.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit')), {
        timeout: 10_000,
      })
      .toBeDefined()
    const circuit = target.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit'))!
    return { relay, target, circuit }
  }

  it('relays at most relay.maxCircuits connections at once over all peers, and takes new ones as old ones close', async () => {
    const { circuit } = await relayed({ relay: { maxCircuits: 1 } })
    const first = await start({ relay: { server: false } })
    const second = await start({ relay: { server: false } })
    const carried = await first.dial(circuit)
    expect(connectionKind(carried).kind).toBe('relayed')
    // The relay refuses the second circuit (PERMISSION_DENIED), whoever asks.
    await expect(second.dial(circuit)).rejects.toThrow()
    await carried.close()
    await expect
      .poll(async () => second.dial(circuit).then((c) => connectionKind(c).kind, String), { timeout: 5_000 })
      .toBe('relayed')
  }, 30_000)

  it('opens streams and pings on the relayed connection it has, instead of dialling a new circuit each time', async () => {
    const { target, circuit } = await relayed()
    const opened: string[] = []
    target.addEventListener('connection:open', (evt) => opened.push(evt.detail.id))
    const visitor = await start({ relay: { server: false } })
    await visitor.dial(circuit)
    for (let i = 0; i < 3; i++) {
      const stream = await openStream(visitor, target.peerId, LIMITED_ONLY, { runOnLimitedConnection: true })
      await stream.close()
    }
    expect(await pingPeer(visitor, target.peerId)).toBeGreaterThanOrEqual(0)
    expect(visitor.getConnections(target.peerId)).toHaveLength(1)
    expect(opened).toHaveLength(1)
    // A protocol that did not opt in is not put on a relayed connection.
    await expect(openStream(visitor, target.peerId, DIRECT_ONLY)).rejects.toThrow()
  }, 30_000)

  it('closes a relayed connection once a direct one to the same peer exists and nothing runs on it', async () => {
    const { target, circuit } = await relayed()
    const visitor = await start({ relay: { server: false } })
    const viaRelay = await visitor.dial(circuit)
    const stream = await viaRelay.newStream(LIMITED_ONLY, { runOnLimitedConnection: true })
    const direct = await visitor.dial(
      target.getMultiaddrs().find((a) => !a.toString().includes('/p2p-circuit'))!,
      {
        force: true,
      },
    )
    expect(connectionKind(direct)).toEqual({ kind: 'direct', limited: false })
    // A stream still open on it keeps it: what runs there finishes first.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(viaRelay.status).toBe('open')
    await stream.close()
    await expect.poll(() => viaRelay.status, { timeout: 5_000 }).toBe('closed')
    expect(visitor.getConnections(target.peerId).map((c) => connectionKind(c).kind)).toEqual(['direct'])
  }, 30_000)

  it('in a private swarm (allowPeer), a relay reserves and relays for members only, and members refuse strangers through any relay', async () => {
    const members = new Set<string>()
    const allowPeer = (peer: string): boolean => members.has(peer)
    const relay = await start({ allowPeer })
    const bootstrap = relay.getMultiaddrs().map(String)
    const member = await start({ allowPeer, bootstrap, start: false })
    const stranger = await start({ bootstrap, start: false })
    const visitor = await start({ allowPeer, relay: { server: false } })
    for (const peer of [relay, member, visitor]) members.add(peer.peerId.toString())
    await Promise.all([member.start(), stranger.start()])
    await member.handle(LIMITED_ONLY, async (s) => s.close(), { runOnLimitedConnection: true })
    await expect
      .poll(() => member.services.reachability.status().relays, { timeout: 10_000 })
      .toEqual([relay.peerId.toString()])
    const circuit = member.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit'))!

    // The stranger is connected to the relay (a public DHT or bootstrap node), yet gets no slot
    // and no circuit to a member.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(stranger.getConnections(relay.peerId)).not.toHaveLength(0)
    expect(stranger.services.reachability.status().relays).toEqual([])
    await expect(stranger.dial(circuit)).rejects.toThrow()
    // A member is relayed as before.
    const connection = await visitor.dial(circuit)
    expect(connectionKind(connection).kind).toBe('relayed')

    // Through a relay open to anyone, a member still refuses the stranger's relayed connection.
    const open = await start()
    const other = await start({ allowPeer, bootstrap: open.getMultiaddrs().map(String), start: false })
    members.add(other.peerId.toString())
    await other.start()
    await expect
      .poll(() => other.services.reachability.status().relays, { timeout: 10_000 })
      .toEqual([open.peerId.toString()])
    const otherCircuit = other.getMultiaddrs().find((a) => a.toString().includes('/p2p-circuit'))!
    await expect(stranger.dial(otherCircuit)).rejects.toThrow()
    expect(other.getConnections(stranger.peerId)).toEqual([])
  }, 30_000)
})

describe('the relay circuit budget', () => {
  const peer = (id: string) => ({ toString: () => id, equals: (other: unknown) => String(other) === id })
  const hop = (status = 'open', direction = 'inbound') => ({
    protocol: '/libp2p/circuit/relay/0.2.0/hop',
    direction,
    status,
  })
  const connection = (id: string, streams: unknown[]) => ({ remotePeer: peer(id), streams })

  it('counts open inbound hop streams, the asking one included, over all peers and per peer over all its connections', () => {
    const a = peer('a') as unknown as Parameters<typeof overCircuitBudget>[1]
    // A has two circuits open (over two connections) and asks for a third; B has one.
    const connections = [
      connection('a', [hop(), hop(), { protocol: '/ipfs/ping/1.0.0', direction: 'inbound', status: 'open' }]),
      connection('a', [hop(), hop('closed'), hop('open', 'outbound')]),
      connection('b', [hop()]),
    ] as unknown as Parameters<typeof overCircuitBudget>[0]
    expect(overCircuitBudget(connections, a, { total: 4, perPeer: 3 })).toBe(false)
    expect(overCircuitBudget(connections, a, { total: 4, perPeer: 2 })).toBe(true)
    expect(overCircuitBudget(connections, a, { total: 3, perPeer: 16 })).toBe(true)
  })
})
