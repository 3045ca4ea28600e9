import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { capabilityCid, findCapabilityProviders, provideCapability } from '../src/capabilities.js'
import { connectionKind } from '../src/connection-kind.js'
import { DhtDisabledError, InvalidAnnounceAddressError, InvalidCapabilityKeyError } from '../src/errors.js'
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

    await provideCapability(provider, 'task/embed', { signal: AbortSignal.timeout(10_000) })
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
})
