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
type Packet_ = ReturnType<typeof decode>

/**
 * Memo of recent decodes: every node on a machine receives the same multicast datagram, so in a
 * process hosting many nodes (tests, demos, benchmarks) one decode serves all of them. Decoded
 * packets are only read, never modified.
 */
const recentPackets = new Map<string, Packet_ | MalformedMdnsMessage>()
const RECENT_PACKETS = 64

function decodePacket(datagram: Uint8Array): Packet_ {
  const bytes = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength)
  const key = bytes.toString('latin1')
  let result = recentPackets.get(key)
  if (result === undefined) {
    result = decodeFresh(bytes)
    if (recentPackets.size >= RECENT_PACKETS) {
      recentPackets.delete(recentPackets.keys().next().value as string)
    }
    recentPackets.set(key, result)
  }
  if (result instanceof MalformedMdnsMessage) {
    throw result
  }
  return result
}

function decodeFresh(bytes: Buffer): Packet_ | MalformedMdnsMessage {
  let packet: Packet_
  try {
    packet = decode(bytes)
  } catch (err) {
    return new MalformedMdnsMessage(`undecodable DNS message: ${(err as Error).message}`)
  }
  // dns-packet slices record data without bounds checks, so a truncated datagram can decode into
  // shortened strings; it then reports having read past the end.
  if (decode.bytes > bytes.byteLength) {
    return new MalformedMdnsMessage(`truncated DNS message: ${bytes.byteLength} of ${decode.bytes} bytes`)
  }
  return packet
}

/**
 * What a packet says, independent of who reads it: computed once per packet (packets are shared
 * between the nodes of a process, see `recentPackets`), then filtered cheaply by each node.
 */
interface Analysis {
  kind: 'query' | 'answer'
  id: number
  /** Query: lower-cased names asked for with type PTR or ANY. */
  asked: Set<string>
  /** Query: known answers, lower-cased `service\ninstance` with TTL > half. */
  known: Set<string>
  /** Answer: PTR records with their TXT strings, first occurrence of each instance. */
  ptrs: Array<{ service: string; instance: string; instanceKey: string; ttl: number; txt: string[] }>
}

const analyses = new WeakMap<Packet_, Analysis>()

function analyse(packet: Packet_): Analysis {
  const cached = analyses.get(packet)
  if (cached !== undefined) {
    return cached
  }
  const analysis: Analysis = {
    kind: packet.type === 'query' ? 'query' : 'answer',
    id: typeof packet.id === 'number' ? packet.id : 0,
    asked: new Set(),
    known: new Set(),
    ptrs: [],
  }
  if (packet.type === 'query') {
    for (const q of asRecords(packet.questions)) {
      if (typeof q.name === 'string' && (q.type === 'PTR' || q.type === 'ANY')) {
        analysis.asked.add(q.name.toLowerCase())
      }
    }
    for (const a of asRecords(packet.answers)) {
      if (
        a.type === 'PTR' &&
        typeof a.name === 'string' &&
        typeof a.data === 'string' &&
        typeof a.ttl === 'number' &&
        a.ttl > MDNS_RECORD_TTL_S / 2
      ) {
        analysis.known.add(`${a.name.toLowerCase()}\n${a.data.toLowerCase()}`)
      }
    }
  } else if (packet.type === 'response') {
    const records = [...asRecords(packet.answers), ...asRecords(packet.additionals)]
    const txtByName = new Map<string, string[]>()
    for (const r of records) {
      if (r.type === 'TXT' && typeof r.name === 'string') {
        const key = r.name.toLowerCase()
        txtByName.set(key, [...(txtByName.get(key) ?? []), ...txtStrings(r.data)])
      }
    }
    const seen = new Set<string>()
    for (const ptr of records) {
      if (ptr.type !== 'PTR' || typeof ptr.name !== 'string' || typeof ptr.data !== 'string') {
        continue
      }
      const instanceKey = ptr.data.toLowerCase()
      const service = ptr.name.toLowerCase()
      if (seen.has(`${service}\n${instanceKey}`)) {
        continue
      }
      seen.add(`${service}\n${instanceKey}`)
      const ttl = typeof ptr.ttl === 'number' && Number.isFinite(ptr.ttl) ? ptr.ttl : MDNS_RECORD_TTL_S
      analysis.ptrs.push({
        service,
        instance: ptr.data,
        instanceKey,
        ttl,
        txt: txtByName.get(instanceKey) ?? [],
      })
    }
  }
  analyses.set(packet, analysis)
  return analysis
}

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
  const packet = decodePacket(datagram)
  if (packet.type !== 'query' && packet.type !== 'response') {
    throw new MalformedMdnsMessage('DNS message is neither a query nor a response')
  }
  const analysis = analyse(packet)
  const service = serviceTag.toLowerCase()
  const self = selfInstance.toLowerCase()
  if (analysis.kind === 'query') {
    return {
      kind: 'query',
      id: analysis.id,
      asksForService: analysis.asked.has(service),
      // RFC 6762 §7.1 known-answer suppression: the querier already has our record.
      knowsInstance: analysis.known.has(`${service}\n${self}`),
    }
  }
  const records: AnswerRecord[] = []
  for (const ptr of analysis.ptrs) {
    if (ptr.service === service && ptr.instanceKey !== self) {
      records.push({ instance: ptr.instance, txt: ptr.txt, ttl: ptr.ttl })
    }
  }
  return { kind: 'answer', records }
}

/**
 * The peer an answer record describes: `dnsaddr=` entries parsed as multiaddrs ending in the same
 * `/p2p/<id>`; anything else is skipped. Undefined when no entry names a valid peer.
 */
export function peerFromRecord(record: AnswerRecord): AnsweredPeer | undefined {
  const key = `${record.instance}\n${record.txt.join('\n')}`
  let parsed = recentPeers.get(key)
  if (parsed === undefined) {
    parsed = parseTxt(record.instance, record.txt) ?? null
    if (recentPeers.size >= RECENT_PEERS) {
      recentPeers.delete(recentPeers.keys().next().value as string)
    }
    recentPeers.set(key, parsed)
  }
  return parsed === null ? undefined : { ...parsed, ttl: record.ttl }
}

/**
 * Memo of recent parses, for the same reason as `recentPackets`: PeerIds and Multiaddrs are
 * immutable, so nodes in one process can share them.
 */
const recentPeers = new Map<string, Omit<AnsweredPeer, 'ttl'> | null>()
const RECENT_PEERS = 1024

function parseTxt(instance: string, txt: string[]): Omit<AnsweredPeer, 'ttl'> | undefined {
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
  return { instance, peerId, multiaddrs }
}
