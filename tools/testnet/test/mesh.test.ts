import { beforeAll, describe, expect, it } from 'vitest'
import { assertTestnetAvailable } from '../src/ip.js'
import type { HostNode } from '../src/node-process.js'
import { createTestnet } from '../src/testnet.js'

// Transport nodes on separate hosts find each other by real multicast mDNS across the bridge.
describe('transport nodes on separate hosts (needs root and iproute2)', () => {
  beforeAll(async () => {
    await assertTestnetAvailable()
  })

  it('discover each other by mDNS across the bridge, connect, and a link cut stops then resumes traffic', async () => {
    await using net = await createTestnet({ hosts: 3 })
    const nodes: HostNode[] = await Promise.all(net.hosts.map(async (host) => host.startNode()))
    const [a, b, c] = nodes
    if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes expected')

    // Every node discovers the two others, with their bridge addresses only (no loopback ones,
    // which would point into the wrong namespace).
    for (const node of nodes) {
      for (const other of nodes) {
        if (other === node) continue
        const seen = await node.waitFor((e) => e.event === 'mdns' && e.peerId === other.peerId)
        const addresses = seen.addresses as string[]
        expect(addresses.length).toBeGreaterThan(0)
        for (const address of addresses) {
          expect(address).toMatch(new RegExp(`^/ip4/${other.host.address.replaceAll('.', '\\.')}/tcp/\\d+$`))
        }
        await node.waitFor((e) => e.event === 'connect' && e.peerId === other.peerId)
      }
    }
    expect((await a.ping(c.peerId)).ok).toBe(true)

    await c.host.cut()
    const duringCut = await a.ping(c.peerId, 1_500)
    expect(duringCut.ok).toBe(false)
    // The rest of the mesh is unaffected.
    expect((await a.ping(b.peerId)).ok).toBe(true)

    await c.host.restore()
    await expect
      .poll(async () => (await a.ping(c.peerId, 1_000)).ok, { timeout: 15_000, interval: 250 })
      .toBe(true)

    await Promise.all(nodes.map(async (node) => node.stop()))
  }, 60_000)
})
