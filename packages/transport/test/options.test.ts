import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { describe, expect, it } from 'vitest'
import { DEFAULT_STREAM_LIMITS } from '../src/constants.js'
import {
  InvalidIdentityError,
  InvalidListenAddressError,
  InvalidTransportOptionError,
} from '../src/errors.js'
import { streamLimits } from '../src/stream-limits.js'
import { createTransport, type TransportInit } from '../src/transport.js'

async function rejection(init: TransportInit): Promise<unknown> {
  return createTransport({ mdns: false, ...init }).then(
    async (node) => {
      await node.stop()
      return undefined
    },
    (err: unknown) => err,
  )
}

describe('option validation', () => {
  it('names a malformed listen address', async () => {
    const err = await rejection({ listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/notaport'] })
    expect(err).toBeInstanceOf(InvalidListenAddressError)
    expect(err).toMatchObject({ code: 'ERR_INVALID_LISTEN_ADDRESS', address: '/ip4/127.0.0.1/tcp/notaport' })
  })

  it('rejects out-of-range numbers and wrong types with the option path', async () => {
    const cases: Array<[TransportInit, string]> = [
      [{ maxConnections: 0 }, 'maxConnections'],
      [{ maxConnections: 1.5 }, 'maxConnections'],
      [{ streamLimits: { maxInboundStreams: 0 } }, 'streamLimits.maxInboundStreams'],
      [{ streamLimits: { maxOutboundStreams: Number.NaN } }, 'streamLimits.maxOutboundStreams'],
      [{ agentVersion: 7 as unknown as string }, 'agentVersion'],
      [{ listen: 'x' as unknown as string[] }, 'listen'],
      [{ bootstrap: 'x' as unknown as string[] }, 'bootstrap'],
      [{ dht: { addresses: 'lan' as 'all' } }, 'dht.addresses'],
      [{ dht: 'yes' as unknown as boolean }, 'dht'],
      [{ dht: { mode: 'always' as 'auto' } }, 'dht.mode'],
      [{ dht: { mode: 'client', clientMode: true } }, 'dht.clientMode'],
      [{ dht: { reprovideIntervalMs: 10 } }, 'dht.reprovideIntervalMs'],
      [{ dht: { provideValidityMs: 1.5 } }, 'dht.provideValidityMs'],
      [{ relay: 'on' as unknown as false }, 'relay'],
      [{ relay: { server: 'maybe' as 'auto' } }, 'relay.server'],
      [{ relay: { reservations: -1 } }, 'relay.reservations'],
      [{ relay: { maxReservations: 0 } }, 'relay.maxReservations'],
      [{ relay: { reservationTtlMs: 1_000 } }, 'relay.reservationTtlMs'],
      [{ relay: { circuitDurationMs: 0 } }, 'relay.circuitDurationMs'],
      [{ relay: { circuitBytes: 10 } }, 'relay.circuitBytes'],
      [{ relay: { maxCircuitsPerPeer: 0 } }, 'relay.maxCircuitsPerPeer'],
      [{ relay: { maxCircuits: 0 } }, 'relay.maxCircuits'],
      [{ relay: { maxCircuitsToPeer: 5_000 } }, 'relay.maxCircuitsToPeer'],
      [{ autonat: 'yes' as unknown as boolean }, 'autonat'],
      [{ holePunch: 1 as unknown as boolean }, 'holePunch'],
      [{ upnp: 'yes' as unknown as boolean }, 'upnp'],
      [{ upnp: { gateways: [] } }, 'upnp.gateways'],
      [{ upnp: { gateways: ['ftp://192.168.1.1/'] } }, 'upnp.gateways'],
      [{ announce: '/ip4/1.2.3.4/tcp/1' as unknown as string[] }, 'announce'],
      [{ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { port: 70_000 } }, 'mdns.port'],
      [{ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { answer: 'no' as unknown as boolean } }, 'mdns.answer'],
    ]
    for (const [init, option] of cases) {
      const err = await rejection(init)
      expect(err, option).toBeInstanceOf(InvalidTransportOptionError)
      expect(err).toMatchObject({
        code: 'ERR_INVALID_TRANSPORT_OPTION',
        name: 'InvalidTransportOptionError',
        option,
      })
    }
  })

  it('rejects identities whose key is not an Ed25519 libp2p key', async () => {
    const secp = await generateKeyPair('secp256k1')
    const cases: TransportInit['identity'][] = [
      { privateKeyProtobuf: () => new Uint8Array([1, 2, 3]) },
      { privateKeyProtobuf: () => privateKeyToProtobuf(secp) },
      {
        privateKeyProtobuf: () => {
          throw new Error('locked')
        },
      },
    ]
    for (const identity of cases) {
      const err = await rejection({ listen: ['/ip4/127.0.0.1/tcp/0'], ...(identity ? { identity } : {}) })
      expect(err).toBeInstanceOf(InvalidIdentityError)
      expect(err).toMatchObject({ code: 'ERR_INVALID_IDENTITY' })
    }
  })

  it('streamLimits() fills in the defaults and checks overrides', () => {
    expect(streamLimits()).toEqual(DEFAULT_STREAM_LIMITS)
    expect(streamLimits({ maxInboundStreams: 8 })).toEqual({ ...DEFAULT_STREAM_LIMITS, maxInboundStreams: 8 })
    expect(() => streamLimits({ maxOutboundStreams: -1 })).toThrow(InvalidTransportOptionError)
  })

  it('picks the loopback interface for mDNS when every listen address is loopback', async () => {
    const node = await createTransport({
      listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'],
      mdns: { serviceTag: `_p2pai-opt-${process.pid}._udp.local` },
    })
    try {
      expect(node.services.mdns?.interfaces).toHaveLength(1)
      expect(node.services.mdns?.interfaces[0]).toMatch(/^lo/)
    } finally {
      await node.stop()
    }
  })
})
