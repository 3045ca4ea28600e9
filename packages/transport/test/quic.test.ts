import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { connectionKind } from '../src/connection-kind.js'
import { DEFAULT_LISTEN, QUIC_UNAVAILABLE_WARNING } from '../src/constants.js'
import { QuicUnavailableError } from '../src/errors.js'
import { generatePsk } from '../src/psk.js'
import { createTransport, type Transport } from '../src/transport.js'

const run = promisify(execFile)
const QUIC_LOOPBACK = ['/ip4/127.0.0.1/udp/0/quic-v1']
const WITHOUT_QUIC = fileURLToPath(new URL('./fixtures/without-quic.mjs', import.meta.url))

describe('QUIC transport (@chainsafe/libp2p-quic, optional)', () => {
  const nodes: Transport[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
  })

  async function start(init: Parameters<typeof createTransport>[0] = {}): Promise<Transport> {
    const node = await createTransport({ listen: QUIC_LOOPBACK, mdns: false, ...init })
    nodes.push(node)
    return node
  }

  it('listens on UDP and connects two nodes over QUIC, with its own encryption and streams (Node 20 included)', async () => {
    const a = await start()
    const b = await start()
    expect(a.services.reachability.status().quic).toEqual({ available: true })
    const addresses = b.getMultiaddrs().map(String)
    expect(addresses).toEqual([expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/udp\/\d+\/quic-v1\/p2p\//)])

    const connection = await a.dial(b.getMultiaddrs())
    expect(connection.remoteAddr.toString()).toMatch(/\/udp\/\d+\/quic-v1\/p2p\//)
    expect(connectionKind(connection)).toEqual({ kind: 'direct', limited: false })
    // QUIC brings TLS 1.3 and native streams: no Noise or Yamux on top.
    expect(connection.encryption).not.toBe('/noise')
    expect(await a.services.ping.ping(b.peerId)).toBeGreaterThanOrEqual(0)
  })

  it('listens on QUIC by default next to TCP and WebSockets', () => {
    expect(DEFAULT_LISTEN).toEqual([
      '/ip4/0.0.0.0/tcp/0',
      '/ip4/0.0.0.0/tcp/0/ws',
      '/ip4/0.0.0.0/udp/0/quic-v1',
    ])
  })

  it('a TCP-only node still dials a peer that listens on QUIC only', async () => {
    const tcpOnly = await start({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const quicOnly = await start()
    const connection = await tcpOnly.dial(quicOnly.getMultiaddrs())
    expect(connection.remoteAddr.toString()).toContain('/quic-v1/')
  })

  it('quic: false loads nothing and leaves QUIC listen addresses out; with nothing else to listen on it is an error', async () => {
    const node = await start({ listen: ['/ip4/127.0.0.1/tcp/0', ...QUIC_LOOPBACK], quic: false })
    expect(node.services.reachability.status().quic).toEqual({
      available: false,
      reason: 'disabled (quic: false)',
    })
    expect(node.getMultiaddrs().map(String)).toEqual([expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\//)])
    await expect(createTransport({ listen: QUIC_LOOPBACK, quic: false, mdns: false })).rejects.toBeInstanceOf(
      QuicUnavailableError,
    )
    await expect(
      createTransport({ quic: 'yes' as unknown as boolean, mdns: false, start: false }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_TRANSPORT_OPTION', option: 'quic' })
  })

  it('stays off in a private network, whose pre-shared key QUIC would bypass', async () => {
    const psk = generatePsk()
    const node = await start({ listen: ['/ip4/127.0.0.1/tcp/0'], psk })
    expect(node.services.reachability.status().quic).toEqual({
      available: false,
      reason: 'off in a private network: the pre-shared key does not cover QUIC',
    })
    const member = await start({ listen: ['/ip4/127.0.0.1/tcp/0'], psk })
    await expect(member.dial(node.getMultiaddrs())).resolves.toBeDefined()
    // The default listen list (which a node passes on explicitly) loses its QUIC address; asking
    // for QUIC itself is an error.
    const defaults = await start({ psk, listen: ['/ip4/127.0.0.1/tcp/0', ...QUIC_LOOPBACK] })
    expect(
      defaults
        .getMultiaddrs()
        .map(String)
        .filter((a) => a.includes('/quic-v1')),
    ).toEqual([])
    await expect(createTransport({ psk, quic: true, mdns: false, start: false })).rejects.toMatchObject({
      code: 'ERR_INVALID_TRANSPORT_OPTION',
      option: 'quic',
    })
  })

  it('where the package cannot load, nodes run on TCP, say why in their status and warn once per process', async () => {
    const { stdout } = await run(process.execPath, [WITHOUT_QUIC], { timeout: 30_000 })
    const seen = JSON.parse(stdout) as {
      addresses: string[]
      remoteAddr: string
      quic: Array<{ available: boolean; reason?: string }>
      quicOnly?: { code: string; message: string }
      warnings: Array<{ code: string; message: string }>
    }
    expect(seen.addresses).toEqual([expect.stringMatching(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)])
    expect(seen.remoteAddr).toMatch(/\/tcp\//)
    expect(seen.quic).toEqual([
      { available: false, reason: '@chainsafe/libp2p-quic is not installed' },
      { available: false, reason: '@chainsafe/libp2p-quic is not installed' },
    ])
    // Listening on nothing but QUIC cannot work: a coded error, not a node without listeners.
    expect(seen.quicOnly).toMatchObject({ code: 'ERR_QUIC_UNAVAILABLE' })
    expect(seen.warnings).toEqual([
      {
        code: QUIC_UNAVAILABLE_WARNING,
        message: expect.stringContaining('npm install @chainsafe/libp2p-quic'),
      },
    ])
  }, 40_000)
})
