import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { encode, type Packet } from 'dns-packet'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MDNS_MAX_PACKET_BYTES } from '../src/constants.js'
import {
  type AnsweredPeer,
  type DecodedMessage,
  decodeMessage,
  encodeAnswer,
  encodeQuery,
  MAX_ADDRESSES_PER_PEER,
  MalformedMdnsMessage,
  peerFromRecord,
} from '../src/mdns-wire.js'

/** The peers a decoded answer names, parsed as the service parses them. */
function peersOf(message: DecodedMessage): AnsweredPeer[] {
  if (message.kind !== 'answer') return []
  return message.records.map(peerFromRecord).filter((p): p is AnsweredPeer => p !== undefined)
}

const TAG = '_p2p._udp.local'
const SELF = `self0000.${TAG}`

async function newPeerId(): Promise<string> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
}

/** Exactly what @libp2p/mdns 12 multicasts in answer to a query (src/query.ts, gotQuery). */
function libp2pMdnsAnswer(
  peerName: string,
  addresses: string[],
  where: 'answers' | 'additionals' = 'answers',
): Buffer {
  const txt = addresses.map((a) => ({
    name: `${peerName}.${TAG}`,
    type: 'TXT' as const,
    class: 'IN' as const,
    ttl: 120,
    data: `dnsaddr=${a}`,
  }))
  const ptr = { name: TAG, type: 'PTR' as const, class: 'IN' as const, ttl: 120, data: `${peerName}.${TAG}` }
  const packet: Packet =
    where === 'answers'
      ? { type: 'response', flags: 1024, answers: [ptr, ...txt] }
      : { type: 'response', flags: 1024, answers: [ptr], additionals: txt }
  return encode(packet)
}

describe('mDNS wire format', () => {
  it('reads the answers @libp2p/mdns sends, TXT records in answers or additionals', async () => {
    const id = await newPeerId()
    for (const where of ['answers', 'additionals'] as const) {
      const datagram = libp2pMdnsAnswer(
        'x'.repeat(63),
        [`/ip4/127.0.0.1/tcp/4001/p2p/${id}`, `/ip4/127.0.0.1/tcp/4002/ws/p2p/${id}`],
        where,
      )
      const message = decodeMessage(datagram, TAG, SELF)
      expect(message.kind).toBe('answer')
      if (message.kind !== 'answer') return
      expect(peersOf(message)).toHaveLength(1)
      expect(peersOf(message)[0]?.peerId.toString()).toBe(id)
      expect(peersOf(message)[0]?.multiaddrs.map(String)).toEqual([
        '/ip4/127.0.0.1/tcp/4001',
        '/ip4/127.0.0.1/tcp/4002/ws',
      ])
      expect(peersOf(message)[0]?.ttl).toBe(120)
    }
  })

  it('round-trips our own answers and queries', async () => {
    const id = await newPeerId()
    const datagram = encodeAnswer(TAG, `peer1.${TAG}`, [`/ip4/10.0.0.1/tcp/1/p2p/${id}`])
    expect(datagram).toBeDefined()
    const message = decodeMessage(datagram as Buffer, TAG, SELF)
    expect(peersOf(message)).toMatchObject([{ instance: `peer1.${TAG}` }])

    expect(decodeMessage(encodeQuery(TAG, [], 4242), TAG, SELF)).toEqual({
      kind: 'query',
      id: 4242,
      asksForService: true,
      knowsInstance: false,
    })
    expect(decodeMessage(encodeQuery('_other._udp.local'), TAG, SELF)).toMatchObject({
      asksForService: false,
    })
  })

  it('reads the query @libp2p/mdns sends (service-tag PTR question)', () => {
    const query = encode({ type: 'query', questions: [{ name: TAG, type: 'PTR' }] })
    expect(decodeMessage(query, TAG, SELF)).toMatchObject({ kind: 'query', asksForService: true })
  })

  it('lists known answers in our queries, and keeps queries within 9000 bytes', () => {
    const known = [
      { instance: `a.${TAG}`, ttl: 100 },
      { instance: SELF, ttl: 90 },
    ]
    expect(decodeMessage(encodeQuery(TAG, known), TAG, SELF)).toEqual({
      kind: 'query',
      id: 0,
      asksForService: true,
      knowsInstance: true,
    })
    const many = Array.from({ length: 500 }, (_, i) => ({
      instance: `${'p'.repeat(32)}${i}.${TAG}`,
      ttl: 100,
    }))
    const big = encodeQuery(TAG, many)
    expect(big.length).toBeLessThanOrEqual(MDNS_MAX_PACKET_BYTES)
    expect(decodeMessage(big, TAG, SELF)).toMatchObject({ kind: 'query', asksForService: true })
  })

  it('honours known-answer suppression (RFC 6762 §7.1) only for fresh records', () => {
    const withKnown = (ttl: number): Buffer =>
      encode({
        type: 'query',
        questions: [{ name: TAG, type: 'PTR' }],
        answers: [{ name: TAG, type: 'PTR', class: 'IN', ttl, data: SELF }],
      })
    expect(decodeMessage(withKnown(120), TAG, SELF)).toMatchObject({ knowsInstance: true })
    expect(decodeMessage(withKnown(10), TAG, SELF)).toMatchObject({ knowsInstance: false })
  })

  it('skips our own answers, other services, and answers without a usable peer id', async () => {
    const id = await newPeerId()
    const own = encodeAnswer(TAG, SELF, [`/ip4/127.0.0.1/tcp/1/p2p/${id}`]) as Buffer
    expect(decodeMessage(own, TAG, SELF)).toEqual({ kind: 'answer', records: [] })
    const other = encodeAnswer('_other._udp.local', `p.${'_other._udp.local'}`, [
      `/ip4/127.0.0.1/tcp/1/p2p/${id}`,
    ]) as Buffer
    expect(decodeMessage(other, TAG, SELF)).toEqual({ kind: 'answer', records: [] })
    const noId = libp2pMdnsAnswer('p', ['/ip4/127.0.0.1/tcp/1'])
    expect(peersOf(decodeMessage(noId, TAG, SELF))).toEqual([])
    const badId = libp2pMdnsAnswer('p', ['/ip4/127.0.0.1/tcp/1/p2p/QmNotAPeerId'])
    expect(peersOf(decodeMessage(badId, TAG, SELF))).toEqual([])
  })

  it('drops malformed TXT entries but keeps the good ones of the same peer', async () => {
    const id = await newPeerId()
    const other = await newPeerId()
    const datagram = libp2pMdnsAnswer('p', [
      'dnsaddr=/not/a/multiaddr',
      'garbage-without-prefix',
      `/ip4/127.0.0.1/tcp/1/p2p/${id}`,
      `/ip4/127.0.0.1/tcp/2/p2p/${other}`,
    ])
    const message = decodeMessage(datagram, TAG, SELF)
    expect(message).toMatchObject({ kind: 'answer' })
    if (message.kind !== 'answer') return
    expect(peersOf(message)[0]?.peerId.toString()).toBe(id)
    // The entry with another peer's id is not attributed to this instance.
    expect(peersOf(message)[0]?.multiaddrs.map(String)).toEqual(['/ip4/127.0.0.1/tcp/1'])
  })

  it(`caps the addresses taken from one peer at ${MAX_ADDRESSES_PER_PEER}`, async () => {
    const id = await newPeerId()
    const addrs = Array.from({ length: 60 }, (_, i) => `/ip4/127.0.0.1/tcp/${1000 + i}/p2p/${id}`)
    const message = decodeMessage(libp2pMdnsAnswer('p', addrs), TAG, SELF)
    expect(peersOf(message)[0]?.multiaddrs.length).toBe(MAX_ADDRESSES_PER_PEER)
  })

  it('leaves out TXT strings over 255 bytes and keeps packets within 9000 bytes', async () => {
    const id = await newPeerId()
    const long = `/dns4/${'a'.repeat(250)}.example/tcp/1/p2p/${id}`
    expect(encodeAnswer(TAG, `p.${TAG}`, [long])).toBeUndefined()
    const many = Array.from({ length: 200 }, (_, i) => `/ip4/10.0.${i % 250}.1/tcp/${i + 1}/p2p/${id}`)
    const datagram = encodeAnswer(TAG, `p.${TAG}`, many) as Buffer
    expect(datagram.length).toBeLessThanOrEqual(MDNS_MAX_PACKET_BYTES)
  })

  it('reports truncated, oversized and random datagrams as MalformedMdnsMessage, never anything else', async () => {
    const id = await newPeerId()
    const good = libp2pMdnsAnswer('p', [`/ip4/127.0.0.1/tcp/1/p2p/${id}`])
    // Every truncation is either rejected or yields no peer: never a peer with shortened data.
    for (let cut = 1; cut < good.length; cut++) {
      let outcome: string
      try {
        const message = decodeMessage(good.subarray(0, cut), TAG, SELF)
        outcome = peersOf(message).length === 0 ? 'no peer' : JSON.stringify(message)
      } catch (err) {
        outcome = err instanceof MalformedMdnsMessage ? 'rejected' : String(err)
      }
      expect(['rejected', 'no peer']).toContain(outcome)
    }
    expect(() => decodeMessage(new Uint8Array(MDNS_MAX_PACKET_BYTES + 1), TAG, SELF)).toThrow(
      MalformedMdnsMessage,
    )
    // A compression pointer to itself must not loop.
    const loop = Buffer.from([
      0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 120, 0, 0,
    ])
    expect(() => decodeMessage(loop, TAG, SELF)).toThrow(MalformedMdnsMessage)

    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        try {
          decodeMessage(bytes, TAG, SELF)
        } catch (err) {
          return err instanceof MalformedMdnsMessage
        }
        return true
      }),
      { numRuns: 2000 },
    )
  })

  it('survives mutations of a valid answer (bit flips in every position)', async () => {
    const id = await newPeerId()
    const good = libp2pMdnsAnswer('p', [
      `/ip4/127.0.0.1/tcp/1/p2p/${id}`,
      `/ip4/127.0.0.1/tcp/2/ws/p2p/${id}`,
    ])
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (index, xor) => {
        const mutated = Buffer.from(good)
        mutated[index] = (mutated[index] ?? 0) ^ xor
        try {
          const message = decodeMessage(mutated, TAG, SELF)
          if (message.kind === 'answer') {
            for (const peer of peersOf(message)) {
              expect(peer.multiaddrs.length).toBeLessThanOrEqual(MAX_ADDRESSES_PER_PEER)
            }
          }
        } catch (err) {
          return err instanceof MalformedMdnsMessage
        }
        return true
      }),
      { numRuns: 3000 },
    )
  })
})
