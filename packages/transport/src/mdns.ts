import { randomInt } from 'node:crypto'
import type { RemoteInfo, Socket } from 'node:dgram'
import type {
  ComponentLogger,
  Libp2pEvents,
  Logger,
  PeerDiscovery,
  PeerDiscoveryEvents,
  PeerId,
  PeerInfo,
  Startable,
} from '@libp2p/interface'
import {
  peerDiscoverySymbol,
  serviceCapabilities,
  TypedEventEmitter,
  type TypedEventTarget,
} from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { intOption } from './config.js'
import {
  DEFAULT_MDNS_INTERVAL_MS,
  DEFAULT_MDNS_SERVICE_TAG,
  MDNS_IPV4_GROUP,
  MDNS_MIN_ANSWER_INTERVAL_MS,
  MDNS_PEER_NAME_LENGTH,
  MDNS_PORT,
} from './constants.js'
import { InvalidTransportOptionError } from './errors.js'
import { InstanceCache } from './mdns-instances.js'
import {
  inSubnets,
  type MdnsInterface,
  type MdnsInterfaceSelector,
  resolveInterfaces,
} from './mdns-interfaces.js'
import { hostOf, openMdnsSocket } from './mdns-socket.js'
import {
  type AnswerRecord,
  decodeMessage,
  encodeAnswer,
  encodeQuery,
  peerFromRecord,
  randomPeerName,
} from './mdns-wire.js'

export interface MdnsInit {
  /**
   * Interface(s) to run on: `'lan'` (all non-loopback IPv4 interfaces, followed as they change),
   * `'loopback'` (nothing leaves the machine), or one interface by name or IPv4 address.
   * @default 'lan'
   */
  interface?: MdnsInterfaceSelector
  /** DNS-SD service name; peers only see each other with the same tag. @default '_p2p._udp.local' */
  serviceTag?: string
  /** Longest gap between two queries, reached by doubling from 1 s after the first (RFC 6762 §5.2). @default 10000 */
  intervalMs?: number
  /** Answer other peers' queries and announce ourselves. `false` makes this node a silent listener. @default true */
  answer?: boolean
  /** UDP port. Only change it to isolate test networks from each other; other implementations use 5353. @default 5353 */
  port?: number
}

/** Events of the mDNS service. */
export interface MdnsEvents extends PeerDiscoveryEvents {
  /**
   * `peer` goes to libp2p (and its peer store) when a peer is new, changes addresses, or every 10
   * minutes; `sighting` fires for those and for every re-sighting at most every 5 s per peer, so a
   * connection pool can re-dial a known peer that came back.
   */
  sighting: CustomEvent<PeerInfo>
}

export interface MdnsComponents {
  addressManager: { getAddresses(): Multiaddr[] }
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
  peerId: PeerId
}

/** Counters of what the service sent, received and dropped. */
export interface MdnsStats {
  queriesSent: number
  answersSent: number
  peersEmitted: number
  /** Datagrams that failed to decode or were not mDNS: logged and dropped. */
  malformed: number
  /** Datagrams from outside the interface's subnets (another interface's traffic): dropped. */
  foreign: number
}

interface Endpoint {
  iface: MdnsInterface
  socket: Socket
  lastAnswerAt: number
  answerTimer: ReturnType<typeof setTimeout> | undefined
  announced: string
}

const LAN_RESCAN_MS = 5_000
const FIRST_REQUERY_MS = 1_000
const ANNOUNCE_DEBOUNCE_MS = 10
const QUERY_CACHE_MS = 10_000
const SERVICE_TAG = /^(?=.{1,255}$)([A-Za-z0-9_-]{1,63}\.)+local$/

/**
 * libp2p peer discovery over multicast DNS, on a chosen interface, wire-compatible with
 * @libp2p/mdns. Discovered peers are emitted as `peer` events; libp2p adds them to its peer store.
 */
export class MdnsDiscovery extends TypedEventEmitter<MdnsEvents> implements PeerDiscovery, Startable {
  readonly [peerDiscoverySymbol] = this
  readonly [Symbol.toStringTag] = '@p2p-ai/transport:mdns'
  readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']

  readonly stats: MdnsStats = { queriesSent: 0, answersSent: 0, peersEmitted: 0, malformed: 0, foreign: 0 }

  private readonly components: MdnsComponents
  private readonly log: Logger
  private readonly selector: MdnsInterfaceSelector
  private readonly serviceTag: string
  private readonly instance: string
  /** Non-zero DNS id of our queries, so we do not answer ourselves. */
  private readonly queryId = randomInt(1, 65_536)
  private readonly intervalMs: number
  private readonly answer: boolean
  private readonly port: number
  private readonly endpoints = new Map<string, Endpoint>()
  private readonly known = new InstanceCache()
  private queryCache: { datagram: Buffer; version: number; at: number } | undefined
  private readonly fixed: MdnsInterface[] | undefined
  private started = false
  private queryTimer?: ReturnType<typeof setTimeout>
  private rescanTimer?: ReturnType<typeof setInterval>
  private announceTimer?: ReturnType<typeof setTimeout>

  constructor(components: MdnsComponents, init: MdnsInit = {}) {
    super()
    this.components = components
    this.log = components.logger.forComponent('p2p-ai:transport:mdns')
    this.selector = init.interface ?? 'lan'
    if (typeof this.selector !== 'string' || this.selector === '') {
      throw new InvalidTransportOptionError('mdns.interface', 'expected a non-empty string')
    }
    this.serviceTag = init.serviceTag ?? DEFAULT_MDNS_SERVICE_TAG
    if (typeof this.serviceTag !== 'string' || !SERVICE_TAG.test(this.serviceTag)) {
      throw new InvalidTransportOptionError(
        'mdns.serviceTag',
        `expected a DNS name ending in .local with labels of 1-63 characters, got ${JSON.stringify(this.serviceTag)}`,
      )
    }
    this.intervalMs = intOption('mdns.intervalMs', init.intervalMs, DEFAULT_MDNS_INTERVAL_MS, 100, 3_600_000)
    this.port = intOption('mdns.port', init.port, MDNS_PORT, 1, 65_535)
    if (init.answer !== undefined && typeof init.answer !== 'boolean') {
      throw new InvalidTransportOptionError('mdns.answer', 'expected a boolean')
    }
    this.answer = init.answer ?? true
    this.instance = `${randomPeerName(MDNS_PEER_NAME_LENGTH)}.${this.serviceTag}`
    // An explicit interface must exist now: a typo should fail at construction, not go quiet.
    this.fixed = this.selector === 'lan' ? undefined : resolveInterfaces(this.selector)
  }

  isStarted(): boolean {
    return this.started
  }

  /** Names of the interfaces mDNS currently runs on. */
  get interfaces(): string[] {
    return [...this.endpoints.values()].map((e) => e.iface.name)
  }

  async start(): Promise<void> {
    if (this.started) {
      return
    }
    this.started = true
    this.components.events.addEventListener('transport:listening', this.onAddressesChanged)
    this.components.events.addEventListener('self:peer:update', this.onAddressesChanged)
    try {
      await this.syncEndpoints(this.fixed ?? resolveInterfaces('lan'), this.fixed !== undefined)
    } catch (err) {
      await this.stop()
      throw err
    }
    this.scheduleQuery(FIRST_REQUERY_MS)
    if (this.fixed === undefined) {
      this.rescanTimer = setInterval(() => {
        this.syncEndpoints(resolveInterfaces('lan'), false).catch((err: unknown) => {
          this.log.error('rescanning interfaces failed - %e', err)
        })
      }, LAN_RESCAN_MS)
    }
  }

  /**
   * The connection to `peer` is gone: stop listing it as a known answer (RFC 6762 §7.1), so it
   * answers our next query and is seen again at once, rather than once half its record's TTL
   * (a minute) has passed.
   */
  forget(peer: PeerId): void {
    this.known.forgetPeer(peer.toString())
  }

  async stop(): Promise<void> {
    this.started = false
    this.components.events.removeEventListener('transport:listening', this.onAddressesChanged)
    this.components.events.removeEventListener('self:peer:update', this.onAddressesChanged)
    clearTimeout(this.queryTimer)
    clearInterval(this.rescanTimer)
    clearTimeout(this.announceTimer)
    await Promise.all([...this.endpoints.keys()].map(async (key) => this.closeEndpoint(key)))
    this.known.clear()
  }

  /** Opens sockets for new interfaces and closes those of vanished ones. */
  private async syncEndpoints(ifaces: MdnsInterface[], strict: boolean): Promise<void> {
    const wanted = new Map(ifaces.map((iface) => [iface.key, iface]))
    await Promise.all(
      [...this.endpoints.keys()]
        .filter((key) => !wanted.has(key))
        .map(async (key) => this.closeEndpoint(key)),
    )
    for (const [key, iface] of wanted) {
      if (this.endpoints.has(key) || !this.started) {
        continue
      }
      try {
        const endpoint = await this.openEndpoint(iface)
        if (!this.started) {
          endpoint.socket.close()
          return
        }
        this.endpoints.set(key, endpoint)
        this.log('mDNS running on %s (%s)', iface.name, iface.address)
        this.send(endpoint, this.buildQuery(), 'query')
        this.announce(endpoint)
      } catch (err) {
        if (strict) {
          throw err
        }
        this.log.error('cannot run mDNS on %s - %e', iface.name, err)
      }
    }
  }

  private async openEndpoint(iface: MdnsInterface): Promise<Endpoint> {
    const socket = await openMdnsSocket(iface, this.port)
    const endpoint: Endpoint = {
      iface,
      socket,
      lastAnswerAt: Number.NEGATIVE_INFINITY,
      answerTimer: undefined,
      announced: '',
    }
    socket.on('message', (msg, rinfo) => {
      this.onMessage(endpoint, msg, rinfo)
    })
    socket.on('error', (err) => {
      this.log.error('mDNS socket on %s - %e', iface.name, err)
    })
    return endpoint
  }

  private async closeEndpoint(key: string): Promise<void> {
    const endpoint = this.endpoints.get(key)
    if (endpoint === undefined) {
      return
    }
    this.endpoints.delete(key)
    clearTimeout(endpoint.answerTimer)
    await new Promise<void>((resolve) => {
      endpoint.socket.close(() => resolve())
    })
  }

  /** Queries at once, then after 1 s, doubling up to `intervalMs` (RFC 6762 §5.2). */
  private scheduleQuery(delay: number): void {
    this.queryTimer = setTimeout(() => {
      for (const endpoint of this.endpoints.values()) {
        this.send(endpoint, this.buildQuery(), 'query')
      }
      this.scheduleQuery(Math.min(delay * 2, this.intervalMs))
    }, delay)
  }

  private send(endpoint: Endpoint, datagram: Uint8Array, kind: 'query' | 'answer'): void {
    endpoint.socket.send(datagram, this.port, MDNS_IPV4_GROUP, (err) => {
      if (err != null) {
        this.log.error('sending mDNS %s on %s failed - %e', kind, endpoint.iface.name, err)
      }
    })
    if (kind === 'query') {
      this.stats.queriesSent++
    } else {
      this.stats.answersSent++
    }
  }

  /** Our addresses reachable through this interface, as TXT-ready strings. */
  private addressesFor(endpoint: Endpoint): string[] {
    return this.components.addressManager
      .getAddresses()
      .filter((ma) => {
        const host = hostOf(ma)
        return host !== undefined && inSubnets(endpoint.iface, host)
      })
      .map((ma) => ma.toString())
  }

  private readonly onAddressesChanged = (): void => {
    // TCP and WebSockets listeners come up a few ms apart: announce once for both.
    clearTimeout(this.announceTimer)
    this.announceTimer = setTimeout(() => {
      for (const endpoint of this.endpoints.values()) {
        this.announce(endpoint)
      }
    }, ANNOUNCE_DEBOUNCE_MS)
  }

  /** Unsolicited answer when our addresses on this interface change (RFC 6762 §8.3). */
  private announce(endpoint: Endpoint): void {
    if (!this.answer || !this.started) {
      return
    }
    const addresses = this.addressesFor(endpoint)
    const key = addresses.join(' ')
    if (addresses.length === 0 || key === endpoint.announced) {
      return
    }
    endpoint.announced = key
    this.sendAnswer(endpoint, addresses)
  }

  private sendAnswer(endpoint: Endpoint, addresses = this.addressesFor(endpoint)): void {
    const datagram = encodeAnswer(this.serviceTag, this.instance, addresses)
    if (datagram !== undefined) {
      this.send(endpoint, datagram, 'answer')
    }
  }

  /**
   * Answers at once unless we answered on this interface less than a second ago (RFC 6762 §6);
   * then one answer at the end of that second serves every query that arrived meanwhile.
   */
  private onQuery(endpoint: Endpoint): void {
    if (endpoint.answerTimer !== undefined) {
      return
    }
    const wait = endpoint.lastAnswerAt + MDNS_MIN_ANSWER_INTERVAL_MS - Date.now()
    const answerNow = (): void => {
      endpoint.answerTimer = undefined
      if (!this.started) {
        return
      }
      endpoint.lastAnswerAt = Date.now()
      this.sendAnswer(endpoint)
    }
    if (wait <= 0) {
      answerNow()
    } else {
      endpoint.answerTimer = setTimeout(answerNow, wait)
    }
  }

  private onMessage(endpoint: Endpoint, datagram: Buffer, rinfo: RemoteInfo): void {
    if (!inSubnets(endpoint.iface, rinfo.address)) {
      this.stats.foreign++
      return
    }
    let message: ReturnType<typeof decodeMessage>
    try {
      message = decodeMessage(datagram, this.serviceTag, this.instance)
    } catch (err) {
      this.stats.malformed++
      this.log(
        'ignoring mDNS datagram from %s:%d on %s - %s',
        rinfo.address,
        rinfo.port,
        endpoint.iface.name,
        err,
      )
      return
    }
    if (message.kind === 'query') {
      if (message.asksForService && !message.knowsInstance && message.id !== this.queryId && this.answer) {
        this.onQuery(endpoint)
      }
      return
    }
    for (const record of message.records) {
      this.onRecord(endpoint, record)
    }
  }

  /** Our query, listing the instances we hold with more than half their TTL left (RFC 6762 §7.1). */
  private buildQuery(): Buffer {
    const now = Date.now()
    const cached = this.queryCache
    // Re-encoding up to a hundred known answers per query is measurable; TTLs in the list may be
    // a few seconds stale (they only need to be above half the record TTL).
    if (cached !== undefined && cached.version === this.known.version && now - cached.at < QUERY_CACHE_MS) {
      return cached.datagram
    }
    const datagram = encodeQuery(this.serviceTag, this.known.knownAnswers(now), this.queryId)
    this.queryCache = { datagram, version: this.known.version, at: now }
    return datagram
  }

  private onRecord(endpoint: Endpoint, record: AnswerRecord): void {
    const seen = this.known.observe(record, Date.now(), () => this.usablePeer(endpoint, record))
    if (seen === undefined) {
      return
    }
    if (seen.announce) {
      this.stats.peersEmitted++
      this.safeDispatchEvent<PeerInfo>('peer', { detail: seen.info })
    }
    this.safeDispatchEvent<PeerInfo>('sighting', { detail: seen.info })
  }

  /** The peer of a record with only the addresses reachable through the receiving interface. */
  private usablePeer(endpoint: Endpoint, record: AnswerRecord): PeerInfo | undefined {
    const peer = peerFromRecord(record)
    if (peer === undefined || peer.peerId.equals(this.components.peerId)) {
      return undefined
    }
    const multiaddrs = peer.multiaddrs.filter((ma) => {
      const host = hostOf(ma)
      return host !== undefined && inSubnets(endpoint.iface, host)
    })
    return multiaddrs.length === 0 ? undefined : { id: peer.peerId, multiaddrs }
  }
}

/** The mDNS discovery service, for `peerDiscovery` or `services` of a libp2p config. */
export function mdnsDiscovery(init: MdnsInit = {}): (components: MdnsComponents) => MdnsDiscovery {
  return (components) => new MdnsDiscovery(components, init)
}
