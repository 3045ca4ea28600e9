import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { createTransport, type Transport, type TransportInit } from '../src/transport.js'
import { uniqueServiceTag } from './helpers/loopback-mdns.js'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

describe('connection pool', () => {
  const nodes: Transport[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
  })

  async function start(init: TransportInit = {}): Promise<Transport> {
    const node = await createTransport({ listen: LOOPBACK, mdns: false, ...init })
    nodes.push(node)
    return node
  }

  it('fills up to maxConnections from mDNS and no further', async () => {
    const tag = uniqueServiceTag()
    const mdns = { interface: 'loopback', serviceTag: tag } as const
    const hub = await start({ mdns, maxConnections: 2 })
    const leaves = await Promise.all(Array.from({ length: 4 }, async () => start({ mdns })))
    // Leaves have room for everyone: wait until they are fully meshed among themselves.
    await expect
      .poll(
        () =>
          leaves.every((leaf) => leaves.every((o) => o === leaf || leaf.getConnections(o.peerId).length > 0)),
        {
          timeout: 10_000,
        },
      )
      .toBe(true)
    await expect.poll(() => hub.getConnections().length).toBeGreaterThan(0)
    // The hub dials no further; libp2p refuses inbound connections beyond the maximum, and its
    // pruner closes the ones that raced past the check while being upgraded.
    await expect.poll(() => hub.getConnections().length).toBeLessThanOrEqual(2)
    expect(hub.services.pool.stats.dialsStarted).toBeLessThanOrEqual(2)
  })

  it('with autoDial: false, discovery only fills the peer store until the pool is offered a peer', async () => {
    const tag = uniqueServiceTag()
    const mdns = { interface: 'loopback', serviceTag: tag } as const
    const a = await start({ mdns, autoDial: false })
    const b = await start({ mdns, autoDial: false })
    await expect.poll(async () => a.peerStore.has(b.peerId)).toBe(true)
    await expect.poll(async () => b.peerStore.has(a.peerId)).toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(a.getConnections()).toHaveLength(0)
    expect(a.services.pool.stats.dialsStarted + b.services.pool.stats.dialsStarted).toBe(0)
    const known = await a.peerStore.get(b.peerId)
    a.services.pool.offer({ id: b.peerId, multiaddrs: known.addresses.map((addr) => addr.multiaddr) })
    await expect.poll(() => a.getConnections(b.peerId).length).toBe(1)
  })

  it('backs off from a peer whose dial failed instead of retrying at every sighting', async () => {
    const node = await start()
    const ghost = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    // Port 9 on loopback: nothing listens there, the dial is refused at once.
    const peer = { id: ghost, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/9')] }
    node.services.pool.offer(peer)
    await expect.poll(() => node.services.pool.stats.dialsFailed).toBe(1)
    node.services.pool.offer(peer)
    node.services.pool.offer(peer)
    expect(node.services.pool.stats.dialsStarted).toBe(1)
    // It tries again by itself when the 1 s backoff ends (mDNS may have gone quiet by then).
    await expect.poll(() => node.services.pool.stats.dialsFailed, { timeout: 5_000 }).toBe(2)
    expect(node.services.pool.stats.dialsStarted).toBe(2)
  })

  it('does not dial a peer it is already connected to, nor itself', async () => {
    const a = await start()
    const b = await start()
    await a.dial(b.getMultiaddrs())
    a.services.pool.offer({ id: b.peerId, multiaddrs: b.getMultiaddrs() })
    a.services.pool.offer({ id: a.peerId, multiaddrs: a.getMultiaddrs() })
    expect(a.services.pool.stats.dialsStarted).toBe(0)
  })

  it('re-dials a peer mDNS sees again after its connection was closed', async () => {
    const tag = uniqueServiceTag()
    const mdns = { interface: 'loopback', serviceTag: tag, intervalMs: 1_000 } as const
    const a = await start({ mdns })
    const b = await start({ mdns })
    await expect.poll(() => a.getConnections(b.peerId).length).toBe(1)
    await a.hangUp(b.peerId)
    expect(a.getConnections(b.peerId)).toHaveLength(0)
    // Queries repeat every second here; the next answer brings the peer back into the pool.
    await expect.poll(() => a.getConnections(b.peerId).length, { timeout: 8_000 }).toBe(1)
  })
})
