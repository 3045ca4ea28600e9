import { randomBytes } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { type Answer, AUTHORITATIVE_ANSWER, decode, encode, type Packet } from 'dns-packet'
import { MDNS_MAX_PACKET_BYTES, MDNS_MAX_TXT_BYTES, MDNS_RECORD_TTL_S } from './constants.js'

/**
 * The libp2p mDNS wire format (https://github.com/libp2p/specs/blob/master/discovery/mdns.md), as
 * @libp2p/mdns, go-libp2p and rust-libp2p speak it: a PTR query for the service tag; answers with a
 * PTR `<service> -> <peer-name>.<service>` and one TXT string `dnsaddr=<multiaddr>/p2p/<id>` per
 * address. TXT records go in the answer section, where every implementation looks.
 */

/** Most addresses we take from one peer's answer; a real node has a handful. */
export const MAX_ADDRESSES_PER_PEER = 32

const DNSADDR_PREFIX = 'dnsaddr='
const PEER_NAME_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789'

/** A random DNS label naming this node's instance of the service. */
export function randomPeerName(length: number): string {
  const bytes = randomBytes(length)
  let name = ''
  for (const byte of bytes) {
    name += PEER_NAME_ALPHABET[byte % PEER_NAME_ALPHABET.length]
  }
  return name
}

/** A record we already hold, listed in our queries so its owner need not answer (RFC 6762 §7.1). */
export interface KnownAnswer {
  instance: string
  /** Remaining TTL in seconds. */
  ttl: number
}

/**
 * A PTR query for the service. Known answers are listed until the packet would pass 9000 bytes;
 * peers left out simply answer. `id` lets a node recognise its own queries, which multicast
 * loopback hands back to it (RFC 6762 §18.1 allows a non-zero id; responders ignore it).
 */
export function encodeQuery(serviceTag: string, known: KnownAnswer[] = [], id = 0): Buffer {
  const packet: Packet = {
    type: 'query',
    id,
    flags: 0,
    questions: [{ name: serviceTag, type: 'PTR', class: 'IN' }],
    answers: known.map((k) => ({ name: serviceTag, type: 'PTR', class: 'IN', ttl: k.ttl, data: k.instance })),
  }
  let buf = encode(packet)
  while (buf.length > MDNS_MAX_PACKET_BYTES && packet.answers !== undefined && packet.answers.length > 0) {
    packet.answers = packet.answers.slice(0, Math.floor(packet.answers.length * 0.9))
    buf = encode(packet)
  }
  return buf
}

/**
 * An answer announcing `addresses` (multiaddr strings ending in `/p2p/<id>`). Addresses whose TXT
 * string would exceed 255 bytes, or that would push the packet past 9000 bytes, are left out.
 */
export function encodeAnswer(
  serviceTag: string,
  instance: string,
  addresses: string[],
  ttl = MDNS_RECORD_TTL_S,
): Buffer | undefined {
  const answers: Answer[] = [{ name: serviceTag, type: 'PTR', class: 'IN', ttl, data: instance }]
  for (const address of addresses) {
    const data = DNSADDR_PREFIX + address
    if (Buffer.byteLength(data) > MDNS_MAX_TXT_BYTES) {
      continue
    }
    answers.push({ name: instance, type: 'TXT', class: 'IN', ttl, data })
  }
  if (answers.length === 1) {
    return undefined
  }
  const packet: Packet = { type: 'response', id: 0, flags: AUTHORITATIVE_ANSWER, answers }
  let buf = encode(packet)
  while (buf.length > MDNS_MAX_PACKET_BYTES && answers.length > 2) {
    answers.pop()
    buf = encode(packet)
  }
  return buf
}

/** One service instance in an answer, before its TXT strings are parsed. */
export interface AnswerRecord {
  /** `<peer-name>.<service>` of the answering instance. */
  instance: string
  /** The TXT strings of the instance, as received. */
  txt: string[]
  /** Record TTL in seconds; 0 is a goodbye. */
  ttl: number
}

/** A peer found in an answer. */
export interface AnsweredPeer {
  /** `<peer-name>.<service>` of the answering instance. */
  instance: string
  peerId: PeerId
  /** Addresses without the `/p2p/<id>` suffix, as libp2p's PeerInfo carries them. */
  multiaddrs: Multiaddr[]
  /** Record TTL in seconds; 0 is a goodbye. */
  ttl: number
}

export type DecodedMessage =
  | { kind: 'query'; id: number; asksForService: boolean; knowsInstance: boolean }
  | { kind: 'answer'; records: AnswerRecord[] }

/** Why a datagram was ignored; logged, never thrown at the caller's event loop. */
export class MalformedMdnsMessage extends Error {
  override readonly name = 'MalformedMdnsMessage'
}

function sameName(a: unknown, b: string): boolean {
  return typeof a === 'string' && a.toLowerCase() === b.toLowerCase()
}

function asRecords(value: unknown): Array<Record<string, unknown>> {
  return Array.isArray(value)
    ? value.filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
    : []
}

function txtStrings(data: unknown): string[] {
  const parts = Array.isArray(data) ? data : [data]
  const out: string[] = []
  for (const part of parts) {
    if (typeof part === 'string') {
      out.push(part)
    } else if (part instanceof Uint8Array) {
      out.push(Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('utf8'))
    }
  }
  return out
}

/**
 * Decodes one datagram from the network. Anything that is not a well-formed mDNS message is
 * reported as `MalformedMdnsMessage` (answers about other services decode to no records). Never
 * throws anything else. TXT strings are not parsed here: a receiver that already knows an instance
 * with the same strings can skip that work (see `peerFromRecord`).
 *
 * @param selfInstance our own `<peer-name>.<service>`, so our own answers are skipped
 */
export function decodeMessage(
  datagram: Uint8Array,
  serviceTag: string,
  selfInstance: string,
): DecodedMessage {
  if (datagram.byteLength > MDNS_MAX_PACKET_BYTES) {
    throw new MalformedMdnsMessage(
      `datagram of ${datagram.byteLength} bytes exceeds ${MDNS_MAX_PACKET_BYTES}`,
    )
  }
  let packet: ReturnType<typeof decode>
  try {
    packet = decode(Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength))
  } catch (err) {
    throw new MalformedMdnsMessage(`undecodable DNS message: ${(err as Error).message}`)
  }
  // dns-packet slices record data without bounds checks, so a truncated datagram can decode into
  // shortened strings; it then reports having read past the end.
  if (decode.bytes > datagram.byteLength) {
    throw new MalformedMdnsMessage(`truncated DNS message: ${datagram.byteLength} of ${decode.bytes} bytes`)
  }
  if (packet.type === 'query') {
    const asksForService = asRecords(packet.questions).some(
      (q) => sameName(q.name, serviceTag) && (q.type === 'PTR' || q.type === 'ANY'),
    )
    // RFC 6762 §7.1 known-answer suppression: the querier already has our record.
    const knowsInstance = asRecords(packet.answers).some(
      (a) =>
        a.type === 'PTR' &&
        sameName(a.name, serviceTag) &&
        sameName(a.data, selfInstance) &&
        typeof a.ttl === 'number' &&
        a.ttl > MDNS_RECORD_TTL_S / 2,
    )
    return { kind: 'query', id: typeof packet.id === 'number' ? packet.id : 0, asksForService, knowsInstance }
  }
  if (packet.type !== 'response') {
    throw new MalformedMdnsMessage('DNS message is neither a query nor a response')
  }
  const records = [...asRecords(packet.answers), ...asRecords(packet.additionals)]
  const answers: AnswerRecord[] = []
  const seen = new Set<string>()
  for (const ptr of records) {
    if (ptr.type !== 'PTR' || !sameName(ptr.name, serviceTag) || typeof ptr.data !== 'string') {
      continue
    }
    const instance = ptr.data
    const key = instance.toLowerCase()
    if (seen.has(key) || sameName(instance, selfInstance)) {
      continue
    }
    seen.add(key)
    const ttl = typeof ptr.ttl === 'number' && Number.isFinite(ptr.ttl) ? ptr.ttl : MDNS_RECORD_TTL_S
    const txt = records
      .filter((r) => r.type === 'TXT' && sameName(r.name, instance))
      .flatMap((r) => txtStrings(r.data))
    answers.push({ instance, txt, ttl })
  }
  return { kind: 'answer', records: answers }
}

/**
 * The peer an answer record describes: `dnsaddr=` entries parsed as multiaddrs ending in the same
 * `/p2p/<id>`; anything else is skipped. Undefined when no entry names a valid peer.
 */
export function peerFromRecord(record: AnswerRecord): AnsweredPeer | undefined {
  const { instance, txt, ttl } = record
  let peerIdText: string | undefined
  const multiaddrs: Multiaddr[] = []
  for (const entry of txt) {
    if (!entry.startsWith(DNSADDR_PREFIX) || multiaddrs.length >= MAX_ADDRESSES_PER_PEER) {
      continue
    }
    let ma: Multiaddr
    try {
      ma = multiaddr(entry.slice(DNSADDR_PREFIX.length))
    } catch {
      continue
    }
    const last = ma.getComponents().at(-1)
    if (last?.code !== CODE_P2P || last.value === undefined) {
      continue
    }
    peerIdText ??= last.value
    if (last.value !== peerIdText) {
      // One instance, one peer: an answer mixing ids is not trusted beyond its first id.
      continue
    }
    multiaddrs.push(ma.decapsulateCode(CODE_P2P))
  }
  if (peerIdText === undefined) {
    return undefined
  }
  let peerId: PeerId
  try {
    peerId = peerIdFromString(peerIdText)
  } catch {
    return undefined
  }
  return { instance, peerId, multiaddrs, ttl }
}
