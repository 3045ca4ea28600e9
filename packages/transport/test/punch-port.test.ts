import type { Connection, IdentifyResult, PeerId, Upgrader } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { PunchPort, publicTcp } from '../src/punch-port.js'

// The punch port's bookkeeping without a network: identify results in, dials from the port out.

const SEED = peerIdFromString('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
const OTHER = peerIdFromString('12D3KooWPnaoheHZSKDnEheUxnszQ4GQZL2NW7tw7QV4RBqXdP8V')
const PORT = 40_000

let ids = 0

function connection(remoteAddr: string, init: Partial<Connection> = {}): Connection {
  return { id: `c${++ids}`, remoteAddr: multiaddr(remoteAddr), direction: 'outbound', ...init } as Connection
}

function identify(
  conn: Connection,
  peer: PeerId,
  observed: string | undefined,
  listen: string[] = [],
): IdentifyResult {
  return {
    peerId: peer,
    connection: conn,
    listenAddrs: listen.map((a) => multiaddr(a)),
    protocols: [],
    ...(observed === undefined ? {} : { observedAddr: multiaddr(observed) }),
  } as IdentifyResult
}

/** A punch port whose dials are recorded and answered with made-up connections. */
function port(ownHosts = ['10.201.1.2']) {
  const dials: Array<{ ma: string; options: Record<string, unknown>; connection: Connection }> = []
  const punch = new PunchPort(
    {
      transportManager: {
        dialTransportForMultiaddr: () => ({
          dial: async (ma: Multiaddr, options: object) => {
            const conn = connection(ma.toString())
            dials.push({ ma: ma.toString(), options: { ...options }, connection: conn })
            return conn
          },
        }),
      },
      upgrader: {} as Upgrader,
      ownHosts: () => new Set(ownHosts),
      log: Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false }) as never,
    },
    PORT,
  )
  return { punch, dials }
}

const settle = async (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0))

describe('the punch port', () => {
  it('takes only public IPv4 TCP addresses as punch targets', () => {
    expect(publicTcp(multiaddr('/ip4/11.8.1.1/tcp/4001'))?.toString()).toBe('/ip4/11.8.1.1/tcp/4001')
    expect(publicTcp(multiaddr(`/ip4/11.8.1.1/tcp/4001/p2p/${SEED}`))?.toString()).toBe(
      '/ip4/11.8.1.1/tcp/4001',
    )
    for (const address of [
      '/ip4/10.201.1.2/tcp/4001',
      '/ip4/127.0.0.1/tcp/4001',
      '/ip4/11.8.1.1/udp/4001/quic-v1',
      '/ip4/11.8.1.1/tcp/4001/ws',
      `/ip4/11.8.1.1/tcp/4001/p2p/${SEED}/p2p-circuit`,
    ]) {
      expect(publicTcp(multiaddr(address)), address).toBeUndefined()
    }
  })

  it('behind NAT, has a public peer observe it from the punch port; one observer means an endpoint-independent mapping', async () => {
    const { punch, dials } = port()
    expect(punch.mapping).toBe('unknown')
    // The bootstrap connection shows a NAT: the seed sees the router's address, not ours.
    punch.onIdentify(
      identify(connection(`/ip4/11.8.1.1/tcp/4001/p2p/${SEED}`), SEED, '/ip4/11.8.2.1/tcp/51234'),
    )
    await settle()
    expect(dials).toEqual([
      expect.objectContaining({
        ma: `/ip4/11.8.1.1/tcp/4001/p2p/${SEED}`,
        options: expect.objectContaining({ localAddress: '0.0.0.0', localPort: PORT }),
      }),
    ])
    // identify on the observation connection tells where the NAT maps the port.
    punch.onIdentify(identify(dials[0]!.connection, SEED, '/ip4/11.8.2.1/tcp/40000'))
    expect(punch.status()).toEqual({
      port: PORT,
      observed: ['/ip4/11.8.2.1/tcp/40000'],
      mapping: 'endpoint-independent',
    })
    expect(punch.addresses().map(String)).toEqual(['/ip4/11.8.2.1/tcp/40000'])
    // The observation connection closes: so does what it told.
    punch.onClose(dials[0]!.connection)
    expect(punch.mapping).toBe('unknown')
  })

  it('two observers seeing two ports mean an endpoint-dependent (symmetric) mapping: nothing to punch to', async () => {
    const { punch, dials } = port()
    punch.onIdentify(
      identify(connection(`/ip4/11.8.1.1/tcp/4001/p2p/${SEED}`), SEED, '/ip4/11.8.2.3/tcp/1111'),
    )
    // A peer first met over QUIC observes too, once it turns out to listen on TCP.
    punch.onIdentify(
      identify(
        connection(`/ip4/11.8.1.2/udp/4001/quic-v1/p2p/${OTHER}`),
        OTHER,
        '/ip4/11.8.2.3/udp/2222/quic-v1',
      ),
    )
    punch.onPeerAddresses(OTHER, [multiaddr('/ip4/11.8.1.2/tcp/4001')])
    await settle()
    expect(dials.map((d) => d.ma)).toEqual([
      `/ip4/11.8.1.1/tcp/4001/p2p/${SEED}`,
      `/ip4/11.8.1.2/tcp/4001/p2p/${OTHER}`,
    ])
    punch.onIdentify(identify(dials[0]!.connection, SEED, '/ip4/11.8.2.3/tcp/30001'))
    punch.onIdentify(identify(dials[1]!.connection, OTHER, '/ip4/11.8.2.3/tcp/30002'))
    expect(punch.mapping).toBe('endpoint-dependent')
    expect(punch.addresses()).toEqual([])
    expect(punch.wantsObserver).toBe(false)
  })

  it('a node on a public address has no NAT to observe: mapping none, and no second connection to its peers', async () => {
    const { punch, dials } = port(['11.8.1.1'])
    punch.onIdentify(
      identify(
        connection('/ip4/11.8.2.1/tcp/40000', { direction: 'inbound' }),
        OTHER,
        '/ip4/11.8.1.1/tcp/4001',
        ['/ip4/11.8.1.2/tcp/4001'],
      ),
    )
    await settle()
    expect(punch.mapping).toBe('none')
    expect(dials).toEqual([])
  })

  it('ignores relayed connections, and a relay address is never a punch target', async () => {
    const { punch, dials } = port()
    const relayed = connection(`/ip4/11.8.1.1/tcp/4001/p2p/${SEED}/p2p-circuit/p2p/${OTHER}`, { limits: {} })
    punch.onIdentify(
      identify(relayed, OTHER, '/ip4/11.8.2.1/tcp/1234', [`/ip4/11.8.1.1/tcp/4001/p2p/${SEED}/p2p-circuit`]),
    )
    await settle()
    expect(punch.mapping).toBe('unknown')
    expect(dials).toEqual([])
  })
})
