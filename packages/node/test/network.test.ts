import { PROTOCOL_MINOR } from '@p2p-ai/protocol'
import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import { VERSION } from '../src/metadata.js'
import type { PeerInfo } from '../src/peers/types.js'
import { localInit, nextEvent, tempDir, uniqueServiceTag, waitUntil } from './helpers.js'

const FAST = { heartbeat: { intervalMs: 300, timeoutMs: 200 } }

describe('two nodes on 127.0.0.1', () => {
  it('dialled directly, see each other with RTT, addresses and agent version', async () => {
    await using dirA = await tempDir('p2p-ai-net-a-')
    await using dirB = await tempDir('p2p-ai-net-b-')
    const a = await createNode(localInit(dirA.path, FAST))
    const b = await createNode(localInit(dirB.path, FAST))
    try {
      const bSeesA = nextEvent<PeerInfo>(
        b,
        'peer:update',
        (p) => p.peerId === a.peerId && p.agentVersion !== undefined,
      )
      await a.connect(b.getMultiaddrs()[0]!)
      await bSeesA
      // Heartbeats fill in the RTT within one interval.
      await waitUntil(() => a.peer(b.peerId)?.rttMs !== undefined && b.peer(a.peerId)?.rttMs !== undefined)
      for (const [self, other] of [
        [a, b],
        [b, a],
      ] as const) {
        const entry = self.peer(other.peerId)
        expect(entry).toMatchObject({ status: 'connected', agentVersion: `p2p-ai/${VERSION}` })
        expect(entry?.rttMs).toBeGreaterThanOrEqual(0)
        expect(entry?.rttMs).toBeLessThan(1_000)
        expect(entry?.lastSeen).toBeGreaterThan(Date.now() - 5_000)
        expect(entry?.addresses.some((x) => x.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
        expect(entry?.protocols).toContain('/p2p-ai/announce/1.0.0')
      }
      expect(a.metadata().connectedPeers).toBe(1)
      // Each learns what the other runs from its capability announcement, and how it reaches it.
      await waitUntil(() => a.peer(b.peerId)?.capabilities !== undefined, 5_000)
      expect(a.peer(b.peerId)).toMatchObject({
        capabilities: { taskTypes: expect.arrayContaining(['chunk']) },
        protocolMinor: PROTOCOL_MINOR,
        connection: { kind: 'direct', limited: false },
      })
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('discover each other by mDNS on the loopback interface', async () => {
    await using dirA = await tempDir('p2p-ai-mdns-a-')
    await using dirB = await tempDir('p2p-ai-mdns-b-')
    const mdns = { enabled: true, interface: 'loopback', serviceTag: uniqueServiceTag() }
    const a = await createNode(localInit(dirA.path, { network: { mdns } }))
    const b = await createNode(localInit(dirB.path, { network: { mdns } }))
    try {
      await waitUntil(
        () => a.peer(b.peerId)?.status === 'connected' && b.peer(a.peerId)?.status === 'connected',
        10_000,
      )
      expect(a.peers().map((p) => p.peerId)).toEqual([b.peerId])
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })

  it('reports the network degraded while no bootstrap peer answered, and healthy as soon as a peer connects (not a health interval later)', async () => {
    await using dirA = await tempDir('p2p-ai-health-a-')
    await using dirB = await tempDir('p2p-ai-health-b-')
    // A bootstrap peer nobody listens for: the first health round finds no peer.
    const gone = '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
    const a = await createNode(localInit(dirA.path, { network: { bootstrap: [gone] } }))
    const b = await createNode(localInit(dirB.path))
    try {
      const network = () => a.health()?.components.find((c) => c.name === 'network')
      expect(network()).toMatchObject({ status: 'degraded', detail: expect.stringContaining('bootstrap') })
      await a.connect(b.getMultiaddrs()[0]!)
      // health.intervalMs is 30 s: only the connection can have brought the new round.
      await waitUntil(() => network()?.status === 'healthy', 5_000)
    } finally {
      await Promise.all([a.stop(), b.stop()])
    }
  })
})
