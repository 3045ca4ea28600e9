import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_STREAM_LIMITS } from '../src/constants.js'
import { createTransport, type Transport } from '../src/transport.js'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

describe('createTransport', () => {
  const nodes: Transport[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
  })

  async function start(init: Parameters<typeof createTransport>[0] = {}): Promise<Transport> {
    const node = await createTransport({ listen: LOOPBACK, mdns: false, ...init })
    nodes.push(node)
    return node
  }

  it('connects two nodes on 127.0.0.1 and pings over Noise + Yamux (Node 20 included)', async () => {
    const a = await start()
    const b = await start()
    expect(a.status).toBe('started')
    const connection = await a.dial(b.getMultiaddrs())
    expect(connection.remotePeer.equals(b.peerId)).toBe(true)
    expect(connection.encryption).toBe('/noise')
    expect(connection.multiplexer).toBe('/yamux/1.0.0')
    const rtt = await a.services.ping.ping(b.peerId)
    expect(rtt).toBeGreaterThanOrEqual(0)
    expect(typeof (Promise as { withResolvers?: unknown }).withResolvers).toBe('function')
  })

  it('uses the identity key, so the PeerId is the identity one', async () => {
    const key = await generateKeyPair('Ed25519')
    const node = await start({ identity: { privateKeyProtobuf: () => privateKeyToProtobuf(key) } })
    expect(node.peerId.toString()).toBe(key.publicKey.toString())
  })

  it('connects over WebSockets too', async () => {
    const a = await start({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const b = await start({ listen: ['/ip4/127.0.0.1/tcp/0/ws'] })
    const wsAddrs = b.getMultiaddrs().filter((ma) => ma.toString().includes('/ws/'))
    expect(wsAddrs).toHaveLength(1)
    const connection = await a.dial(wsAddrs)
    expect(connection.remoteAddr.toString()).toContain('/ws')
    expect(await a.services.ping.ping(b.peerId)).toBeGreaterThanOrEqual(0)
  })

  it('returns a stopped node with start: false, so handlers can be registered first', async () => {
    const node = await start({ start: false })
    expect(node.status).toBe('stopped')
    await node.handle('/test/1.0.0', () => {})
    await node.start()
    expect(node.getProtocols()).toContain('/test/1.0.0')
  })

  it('sends agentVersion through identify', async () => {
    const a = await start({ agentVersion: 'p2p-ai-test/9.9.9' })
    const b = await start()
    await b.dial(a.getMultiaddrs())
    await expect
      .poll(async () => (await b.peerStore.get(a.peerId)).metadata.get('AgentVersion'))
      .toBeDefined()
    const agent = (await b.peerStore.get(a.peerId)).metadata.get('AgentVersion')
    expect(new TextDecoder().decode(agent)).toBe('p2p-ai-test/9.9.9')
  })

  it('defaults handle() and dialProtocol() to the transport stream limits', async () => {
    const a = await start()
    const b = await start()
    let inbound = 0
    let release = (): void => {}
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    await b.handle('/test/many/1.0.0', async (stream) => {
      inbound++
      await released
      await stream.close()
    })
    await a.dial(b.getMultiaddrs())
    // 100 concurrent streams of one protocol: above libp2p's 32 inbound / 64 outbound defaults.
    const streams = await Promise.all(
      Array.from({ length: 100 }, async () => a.dialProtocol(b.peerId, '/test/many/1.0.0')),
    )
    await expect.poll(() => inbound).toBe(100)
    release()
    await Promise.all(streams.map(async (s) => s.close()))
    expect(DEFAULT_STREAM_LIMITS.maxInboundStreams).toBeGreaterThanOrEqual(100)
  })
})
