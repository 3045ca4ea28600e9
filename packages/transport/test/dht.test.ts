import { afterEach, describe, expect, it } from 'vitest'
import { createTransport, type Transport, type TransportInit } from '../src/transport.js'

describe('kad-dht discovery beyond mDNS', () => {
  const nodes: Transport[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
  })

  async function start(init: TransportInit = {}): Promise<Transport> {
    const node = await createTransport({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false,
      dht: { clientMode: false, addresses: 'all' },
      ...init,
    })
    nodes.push(node)
    return node
  }

  it('two nodes that only know a common bootstrap peer find each other through the DHT', async () => {
    const seed = await start()
    const bootstrap = seed.getMultiaddrs().map(String)
    const b = await start({ bootstrap })
    const c = await start({ bootstrap })
    expect(c.services.dht).toBeDefined()
    const found = await c.peerRouting.findPeer(b.peerId, { signal: AbortSignal.timeout(15_000) })
    // Its direct addresses; a relay address may join them once its reservation is announced.
    const direct = b.getMultiaddrs().filter((ma) => !ma.toString().includes('/p2p-circuit'))
    expect(found.multiaddrs.map(String)).toEqual(
      expect.arrayContaining(direct.map((ma) => ma.toString().replace(`/p2p/${b.peerId}`, ''))),
    )
    // Peers the DHT reports go through the same pool as mDNS ones.
    await expect.poll(() => c.getConnections(b.peerId).length, { timeout: 15_000 }).toBeGreaterThan(0)
  }, 40_000)

  it('speaks the p2p-ai DHT protocol, not the public IPFS one', async () => {
    const node = await start()
    expect(node.getProtocols()).toContain('/p2p-ai/kad/1.0.0')
    expect(node.getProtocols()).not.toContain('/ipfs/kad/1.0.0')
  })
})
