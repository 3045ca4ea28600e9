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

  it('redials a lost peer at once, then with backoff, reporting each retry, and gives up after maxAttempts', async () => {
    const node = await start({ redial: { initialDelayMs: 100, maxDelayMs: 400, maxAttempts: 3 } })
    const lost = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const retries: Array<{ attempts: number; wait: number }> = []
    const gaveUp: number[] = []
    node.services.pool.addEventListener('dial:retry', (evt) => {
      retries.push({ attempts: evt.detail.attempts, wait: evt.detail.delay })
    })
    node.services.pool.addEventListener('dial:gave-up', (evt) => {
      expect(evt.detail.peer.equals(lost)).toBe(true)
      gaveUp.push(evt.detail.attempts)
    })
    node.services.pool.redial({ id: lost, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/9')] })
    await expect.poll(() => gaveUp, { timeout: 15_000 }).toEqual([3])
    expect(node.services.pool.stats.dialsStarted).toBe(3)
    // 100 ms, then 200 ms (doubled), each within the ±20 % jitter; the third failure gives up.
    expect(retries.map((r) => r.attempts)).toEqual([1, 2])
    expect(retries[0]?.wait).toBeGreaterThanOrEqual(80)
    expect(retries[0]?.wait).toBeLessThanOrEqual(120)
    expect(retries[1]?.wait).toBeGreaterThanOrEqual(160)
    expect(retries[1]?.wait).toBeLessThanOrEqual(240)
    // A new redial starts over, whatever came before.
    node.services.pool.redial({ id: lost, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/9')] })
    await expect.poll(() => node.services.pool.stats.dialsStarted).toBe(4)
  })

  it('stops retrying a peer it was told to forget, and takes a new retry policy at run time', async () => {
    const node = await start({ redial: { initialDelayMs: 200, maxAttempts: 5 } })
    const gone = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    node.services.pool.redial({ id: gone, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/9')] })
    await expect.poll(() => node.services.pool.stats.dialsFailed).toBe(1)
    node.services.pool.forget(gone)
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(node.services.pool.stats.dialsStarted).toBe(1)
    node.services.pool.configure({ backoff: { maxAttempts: 1 } })
    expect(node.services.pool.backoffSettings).toEqual({
      initialDelayMs: 200,
      maxDelayMs: 30_000,
      maxAttempts: 1,
    })
    expect(() => node.services.pool.configure({ backoff: { initialDelayMs: 0 } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_TRANSPORT_OPTION' }),
    )
    expect(node.services.pool.backoffSettings.initialDelayMs).toBe(200)
  })
})
