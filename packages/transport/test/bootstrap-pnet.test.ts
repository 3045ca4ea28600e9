import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { InvalidBootstrapAddressError, InvalidPskError } from '../src/errors.js'
import { checkPsk, generatePsk } from '../src/psk.js'
import { createTransport, type Transport, type TransportInit } from '../src/transport.js'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

describe('bootstrap list and private networks', () => {
  const nodes: Transport[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
  })

  async function start(init: TransportInit = {}): Promise<Transport> {
    const node = await createTransport({ listen: LOOPBACK, mdns: false, ...init })
    nodes.push(node)
    return node
  }

  it('dials bootstrap peers at start, without mDNS', async () => {
    const seed = await start()
    const node = await start({ bootstrap: seed.getMultiaddrs().map(String) })
    await expect.poll(() => node.getConnections(seed.peerId).length).toBeGreaterThan(0)
  })

  it('drops entries naming the node itself, so one list can serve every node', async () => {
    const seed = await start()
    const key = await generateKeyPair('Ed25519')
    const self = peerIdFromPrivateKey(key).toString()
    const node = await start({
      identity: { privateKeyProtobuf: () => privateKeyToProtobuf(key) },
      bootstrap: [`/ip4/127.0.0.1/tcp/9/p2p/${self}`, ...seed.getMultiaddrs().map(String)],
    })
    await expect.poll(() => node.getConnections(seed.peerId).length).toBeGreaterThan(0)
    expect(node.getConnections().every((c) => !c.remotePeer.equals(node.peerId))).toBe(true)
  })

  it('names the bad bootstrap entry and its position in a coded error', async () => {
    const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const cases: Array<[unknown, RegExp]> = [
      ['not a multiaddr', /not a multiaddr/],
      ['/ip4/10.0.0.1/tcp/4001', /must end with \/p2p\/<peerId>/],
      [`/p2p/${id}`, /needs an address before/],
      ['/ip4/10.0.0.1/tcp/4001/p2p/QmNotReallyAPeerIdAtAll', /QmNotReallyAPeerIdAtAll/],
      ['/ip4/999.0.0.1/tcp/1', /999\.0\.0\.1/],
      [42, /not a string/],
    ]
    for (const [entry, message] of cases) {
      const list = [`/ip4/10.0.0.1/tcp/1/p2p/${id}`, entry] as string[]
      const error = await createTransport({ listen: LOOPBACK, mdns: false, bootstrap: list }).catch(
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(InvalidBootstrapAddressError)
      expect(error).toMatchObject({ code: 'ERR_INVALID_BOOTSTRAP_ADDRESS', index: 1, address: String(entry) })
      expect((error as Error).message).toMatch(message)
    }
  })

  it('generates pnet keys in the swarm.key format', () => {
    const text = new TextDecoder().decode(generatePsk())
    expect(text).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}$/)
    expect(generatePsk()).not.toEqual(generatePsk())
  })

  it('connects nodes sharing a pre-shared key and refuses nodes without it', async () => {
    const psk = generatePsk()
    const a = await start({ psk })
    const b = await start({ psk })
    const outsider = await start()
    const otherKey = await start({ psk: generatePsk() })

    await b.dial(a.getMultiaddrs())
    expect(await b.services.ping.ping(a.peerId)).toBeGreaterThanOrEqual(0)

    await Promise.all([
      expect(outsider.dial(a.getMultiaddrs())).rejects.toThrow(),
      expect(otherKey.dial(a.getMultiaddrs())).rejects.toThrow(),
      expect(a.dial(outsider.getMultiaddrs())).rejects.toThrow(),
    ])
    expect(a.getConnections(outsider.peerId)).toHaveLength(0)
    expect(a.getConnections(otherKey.peerId)).toHaveLength(0)
  })

  it('rejects keys that are not pnet keys with ERR_INVALID_PSK', async () => {
    const hex = 'ab'.repeat(32)
    const bad = [
      new Uint8Array(32),
      new TextEncoder().encode(`/key/swarm/psk/2.0.0/\n/base16/\n${hex}`),
      new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base64/\n${hex}`),
      new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(2)}`),
      new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}\nextra`),
      new Uint8Array([0xff, 0xfe, 0xfd]),
      'a string' as unknown as Uint8Array,
    ]
    for (const psk of bad) {
      expect(() => checkPsk(psk)).toThrow(InvalidPskError)
      await expect(createTransport({ listen: LOOPBACK, mdns: false, psk })).rejects.toMatchObject({
        code: 'ERR_INVALID_PSK',
      })
    }
    // Windows line endings are accepted, as @libp2p/pnet accepts them.
    expect(() =>
      checkPsk(new TextEncoder().encode(`/key/swarm/psk/1.0.0/\r\n/base16/\r\n${hex}`)),
    ).not.toThrow()
  })
})
