import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { autoNATv2 } from '@libp2p/autonat-v2'
import { bootstrap } from '@libp2p/bootstrap'
import {
  type CircuitRelayServerInit,
  type CircuitRelayService,
  circuitRelayServer,
  circuitRelayTransport,
  RELAY_V2_HOP_CODEC,
} from '@libp2p/circuit-relay-v2'
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { dcutr } from '@libp2p/dcutr'
import { type Identify, type IdentifyPush, identify, identifyPush } from '@libp2p/identify'
import type { Libp2p, PeerId, PrivateKey, StreamHandler } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { type Ping, ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import type { UPnPNAT } from '@libp2p/upnp-nat'
import { isPrivate } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { slowAutoNatWalkWhenPrivate } from './autonat-pace.js'
import { boolOption, intOption, objectOption, parseAnnounce, parseBootstrap, parseListen } from './config.js'
import {
  DEFAULT_BOOTSTRAP_DELAY_MS,
  DEFAULT_DHT_PROVIDE_VALIDITY_MS,
  DEFAULT_DHT_REPROVIDE_INTERVAL_MS,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MUXER_MAX_EARLY_STREAMS,
  DEFAULT_MUXER_MAX_STREAMS,
  DHT_PROTOCOL,
  HOLE_PUNCH_RETRIES,
  HOLE_PUNCH_TIMEOUT_MS,
} from './constants.js'
import { InvalidIdentityError, InvalidTransportOptionError, QuicUnavailableError } from './errors.js'
import { type TcpHolePunch, tcpHolePunch } from './hole-punch.js'
import { type MdnsDiscovery, type MdnsInit, mdnsDiscovery } from './mdns.js'
import type { MdnsInterfaceSelector } from './mdns-interfaces.js'
import { type ConnectionPool, connectionPool, type DialBackoff, resolveBackoff } from './pool.js'
import { ensurePromiseWithResolvers } from './promise-with-resolvers.js'
import { checkPsk } from './psk.js'
import { isQuicAddress, loadQuic, type QuicStatus } from './quic.js'
import { type ReachabilityService, reachability } from './reachability.js'
import { resolveRelay, type TransportRelayOptions } from './relay.js'
import { type StreamLimits, streamLimits } from './stream-limits.js'
import { ensureWebSocket } from './websocket-global.js'
import { coalesceWrites, lazyWindowUpdates } from './write-coalescing.js'

/**
 * What the transport needs of an identity: its Ed25519 private key in libp2p's protobuf encoding.
 * An `Identity` of `@p2p-ai/identity` satisfies it.
 */
export interface TransportIdentity {
  privateKeyProtobuf(): Uint8Array
}

/** mDNS options of `createTransport()`; see `MdnsInit`. */
export interface TransportMdnsOptions extends Omit<MdnsInit, 'interface'> {
  /**
   * `'auto'` picks `'loopback'` when every listen address is a loopback one (a test or demo: nothing
   * to announce to the LAN) and `'lan'` otherwise. Other values: see `MdnsInit.interface`.
   * @default 'auto'
   */
  interface?: 'auto' | MdnsInterfaceSelector
}

/** Kademlia DHT options of `createTransport()`. */
export interface TransportDhtOptions {
  /**
   * `'auto'` serves the DHT once the node has a confirmed public address (AutoNAT, UPnP or
   * `announce`) and only queries it otherwise, as nodes behind NAT must; `'server'` always serves
   * (a LAN-only DHT, tests); `'client'` never does.
   * @default 'auto'
   */
  mode?: 'auto' | 'client' | 'server'
  /** Deprecated spelling of `mode`: `true` is `'client'`, `false` is `'server'`. */
  clientMode?: boolean
  /**
   * Which addresses of DHT peers are kept: `'public'` for the internet (private ones are useless
   * there), `'private'` for a LAN-only DHT, `'all'` for mixed networks and tests.
   * @default 'public'
   */
  addresses?: 'public' | 'private' | 'all'
  /** How often the DHT checks which provider records of this node to publish again. @default 3_600_000 (1 h) */
  reprovideIntervalMs?: number
  /** How long a provider record stays valid on the servers; re-provided in its second half. @default 86_400_000 (24 h) */
  provideValidityMs?: number
}

/** UPnP IGD / NAT-PMP port mapping options of `createTransport()`. */
export interface TransportUpnpOptions {
  /**
   * Gateway description URLs to use instead of searching the LAN (an SSDP multicast search on
   * every LAN interface), e.g. `['http://192.168.1.1:5000/rootDesc.xml']`.
   * @default search
   */
  gateways?: string[]
}

export interface TransportInit {
  /** The node's identity; its key becomes the libp2p key, so the PeerId matches. @default a fresh Ed25519 key */
  identity?: TransportIdentity
  /**
   * Multiaddrs to listen on. Use `['/ip4/127.0.0.1/tcp/0']` for tests and demos on one machine.
   * QUIC ones (`/udp/…/quic-v1`) are dropped from the default when QUIC is unavailable.
   * @default ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws', '/ip4/0.0.0.0/udp/0/quic-v1']
   */
  listen?: string[]
  /**
   * Peers to dial at start, for networks mDNS cannot reach: multiaddrs ending in `/p2p/<peerId>`.
   * Entries naming this node itself are dropped, so one list can be shared by every node.
   * @default []
   */
  bootstrap?: string[]
  /** Maximum number of connections held open; the pool stops dialling and inbound ones are refused beyond it. @default 32 */
  maxConnections?: number
  /**
   * Dial discovered peers automatically into the pool. With `false`, discovery only fills the peer
   * store (and `peer:discovery` events); dial yourself or call `node.services.pool.offer()`.
   * @default true
   */
  autoDial?: boolean
  /** Private network: only nodes with this pre-shared key (see `generatePsk()`) can connect. @default none */
  psk?: Uint8Array
  /** Sent to peers by identify, e.g. `p2p-ai/0.1.0`. @default libp2p's user agent */
  agentVersion?: string
  /**
   * Per-protocol stream limits that `handle()` and `dialProtocol()` of the returned node use when
   * the caller passes none. @default DEFAULT_STREAM_LIMITS (1024 inbound, 1024 outbound)
   */
  streamLimits?: Partial<StreamLimits>
  /**
   * mDNS discovery on the local network, wire-compatible with @libp2p/mdns; `false` disables it.
   * @default { interface: 'auto' }
   */
  mdns?: false | TransportMdnsOptions
  /**
   * How the connection pool retries a peer it failed to dial or lost (`pool.redial()`).
   * @default { initialDelayMs: 1_000, maxDelayMs: 30_000, maxAttempts: 6 }
   */
  redial?: Partial<DialBackoff>
  /**
   * libp2p's connection monitor: pings every connection every 10 s and closes those that do not
   * answer. Turn it off when something else watches liveness (a p2p-ai node's peer directory
   * does, with its own configurable heartbeat), so that peers are not pinged twice.
   * @default true
   */
  connectionMonitor?: boolean
  /**
   * Fewer, larger writes (see write-coalescing.ts): what one turn of the event loop writes on a TCP
   * connection leaves in one system call, and yamux streams send window updates once half of the
   * window is used rather than after every frame. The bytes are the same either way.
   * @default true
   */
  coalesceWrites?: boolean
  /** Kademlia DHT for discovery beyond the LAN (protocol `/p2p-ai/kad/1.0.0`). @default false */
  dht?: boolean | TransportDhtOptions
  /**
   * Addresses to announce on top of those the node finds itself, trusted without AutoNAT: the
   * public address of a server whose interface has a private one, or of a router's port forward,
   * e.g. `['/ip4/203.0.113.7/tcp/4001']`. A public one here also makes the node skip relay
   * reservations by default.
   * @default []
   */
  announce?: string[]
  /**
   * AutoNAT v2: peers dial this node's public addresses back to confirm them (a public address is
   * only announced once confirmed), and this node does the same for them.
   * @default true
   */
  autonat?: boolean
  /** Circuit relay v2 client and server; `false` disables both. See `TransportRelayOptions`. @default {} */
  relay?: false | TransportRelayOptions
  /**
   * Hole punching: try to replace a relayed connection by a direct one. libp2p's DCUtR (a NATed
   * node dials a public one back) and, between two NATed nodes, a TCP simultaneous open from a
   * punch port of the node's own (see hole-punch.ts), which works where both NATs map
   * endpoint-independently.
   * @default true
   */
  holePunch?: boolean
  /**
   * QUIC transport (UDP, TLS 1.3, native streams) from the optional dependency
   * `@chainsafe/libp2p-quic`, loaded on first use. Where it cannot load (not installed, no
   * prebuilt binary for the platform), the node runs without it: a process warning says why
   * once, and `reachability.status().quic` tells. `false` never loads it. Always off with `psk`:
   * QUIC encrypts on its own and skips libp2p's pre-shared-key protector, so it would let
   * strangers into a private network. Without QUIC, QUIC listen addresses are left out (an error
   * only if nothing else is left to listen on).
   * @default true, false with `psk`
   */
  quic?: boolean
  /**
   * Ask the home router to forward a port (UPnP IGD, NAT-PMP). Off by default: the gateway search
   * multicasts on the LAN. The mapped address is announced once AutoNAT confirms it.
   * @default false
   */
  upnp?: boolean | TransportUpnpOptions
  /**
   * Peers to refuse, asked by libp2p's connection gater at every dial and every connection (direct
   * or relayed, either way) once the peer's identity is known, and by a relay server for both
   * ends of a circuit: a p2p-ai node passes its bans here. Called often: keep it a lookup.
   * @default none refused
   */
  denyPeer?: (peer: string) => boolean
  /**
   * Whom this node relays for and accepts relayed connections from, asked at each reservation and
   * each relayed connection: a private swarm (an allowlist) keeps strangers from reserving a slot
   * on its relays, from being relayed to or by its members, and from reaching them through any
   * relay. Direct connections are not affected (a stranger's tasks are refused by the access
   * policy above the transport). Live: the function is asked every time.
   * @default everyone
   */
  allowPeer?: (peerId: string) => boolean
  /**
   * libp2p's metrics implementation, e.g. `prometheusMetrics({ registry })` of
   * `@libp2p/prometheus-metrics` (what `@p2p-ai/metrics` passes): connections, streams and bytes
   * by protocol, recorded by libp2p itself. Without it libp2p records nothing.
   * @default none
   */
  metrics?: Libp2pOptions['metrics']
  /** Start the node before returning it. Pass `false` to register protocol handlers first. @default true */
  start?: boolean
}

/** The libp2p services every transport node carries. */
export interface TransportServices extends Record<string, unknown> {
  identify: Identify
  identifyPush: IdentifyPush
  ping: Ping
  /** Reachability (public / private / unknown), observed and announced addresses, relays. */
  reachability: ReachabilityService
  /** Present unless `autonat: false`. */
  autonat?: unknown
  /** The relay server; present unless `relay: false` or `relay.server: false`. */
  relay?: CircuitRelayService
  /** Present unless `holePunch: false` or `relay: false`. */
  dcutr?: unknown
  /**
   * TCP hole punching between two NATed nodes (see hole-punch.ts): present unless `holePunch:
   * false` or `relay: false`.
   */
  tcpPunch?: TcpHolePunch
  /** Present when `upnp` is enabled. */
  upnp?: UPnPNAT
  /** Dials discovered peers up to `maxConnections`. */
  pool: ConnectionPool
  /** Present unless `mdns: false`. */
  mdns?: MdnsDiscovery
  /** Present when `dht` is enabled. */
  dht?: KadDHT
}

/** A libp2p node built by `createTransport()`. */
export type Transport = Libp2p<TransportServices>

/**
 * Builds the libp2p 3 stack of a p2p-ai node: TCP and WebSockets, Noise, Yamux, identify, ping,
 * the identity's key, and the discovery services of `init`. Every option is validated before
 * anything is opened, so a bad option fails here with a coded error.
 *
 * @throws {InvalidListenAddressError | InvalidBootstrapAddressError | InvalidPskError | InvalidIdentityError | InvalidTransportOptionError}
 */
export async function createTransport(init: TransportInit = {}): Promise<Transport> {
  let listen = parseListen(init.listen ?? [...DEFAULT_LISTEN])
  const bootstrapList = parseBootstrap(init.bootstrap ?? [])
  const maxConnections = intOption('maxConnections', init.maxConnections, DEFAULT_MAX_CONNECTIONS, 1, 100_000)
  const limits = streamLimits(init.streamLimits)
  const psk = init.psk === undefined ? undefined : checkPsk(init.psk)
  if (init.agentVersion !== undefined && typeof init.agentVersion !== 'string') {
    throw new InvalidTransportOptionError('agentVersion', 'expected a string')
  }
  if (init.autoDial !== undefined && typeof init.autoDial !== 'boolean') {
    throw new InvalidTransportOptionError('autoDial', 'expected a boolean')
  }
  if (init.connectionMonitor !== undefined && typeof init.connectionMonitor !== 'boolean') {
    throw new InvalidTransportOptionError('connectionMonitor', 'expected a boolean')
  }
  if (init.coalesceWrites !== undefined && typeof init.coalesceWrites !== 'boolean') {
    throw new InvalidTransportOptionError('coalesceWrites', 'expected a boolean')
  }
  if (init.redial !== undefined && (typeof init.redial !== 'object' || init.redial === null)) {
    throw new InvalidTransportOptionError('redial', 'expected an options object')
  }
  const redial = resolveBackoff(init.redial)
  const autoDial = init.autoDial ?? true
  const mdnsInit = resolveMdns(init.mdns, listen)
  const dhtOptions = resolveDht(init.dht)
  const announce = parseAnnounce(init.announce ?? [])
  const announcesPublic = announce.some((address) => !isPrivate(multiaddr(address)))
  const relay = resolveRelay(init.relay, { announcesPublic, autoDial, bootstrap: bootstrapList.length > 0 })
  const autonat = boolOption('autonat', init.autonat, true)
  const holePunch = boolOption('holePunch', init.holePunch, true)
  if (init.denyPeer !== undefined && typeof init.denyPeer !== 'function') {
    throw new InvalidTransportOptionError('denyPeer', 'expected a function')
  }
  const denyPeer = init.denyPeer
  const denied = (peer: PeerId): boolean => denyPeer?.(peer.toString()) === true
  const upnp = resolveUpnp(init.upnp)
  if (init.allowPeer !== undefined && typeof init.allowPeer !== 'function') {
    throw new InvalidTransportOptionError('allowPeer', 'expected a function (peerId) => boolean')
  }
  const allowPeer = init.allowPeer
  const allowed = (peer: { toString(): string }): boolean => allowPeer?.(peer.toString()) ?? true
  // libp2p's pre-shared key protects the connections it upgrades; QUIC brings its own encryption
  // and skips that step, so in a private network a stranger could connect over QUIC.
  const quicWanted = boolOption('quic', init.quic, psk === undefined)
  if (quicWanted && psk !== undefined) {
    throw new InvalidTransportOptionError(
      'quic',
      'QUIC cannot be used in a private network: the pre-shared key only protects TCP and WebSockets connections',
    )
  }
  const privateKey = await loadPrivateKey(init.identity)
  const selfId = privateKey.publicKey.toString()
  const bootstrapAddresses = bootstrapList.filter((entry) => entry.peerId !== selfId).map((e) => e.address)

  ensurePromiseWithResolvers()
  ensureWebSocket()

  const quicLoad = quicWanted ? await loadQuic() : undefined
  const quic: QuicStatus =
    quicLoad === undefined
      ? { available: false, reason: psk === undefined ? 'disabled (quic: false)' : PNET_WITHOUT_QUIC }
      : quicLoad.available
        ? { available: true }
        : { available: false, reason: quicLoad.reason }
  if (!quic.available && listen.some(isQuicAddress)) {
    const remaining = listen.filter((address) => !isQuicAddress(address))
    if (remaining.length === 0) {
      throw new QuicUnavailableError(quic.reason ?? 'unknown')
    }
    listen = remaining
  }

  const peerDiscovery: Array<NonNullable<Libp2pOptions['peerDiscovery']>[number]> = []
  if (bootstrapAddresses.length > 0) {
    peerDiscovery.push(bootstrap({ list: bootstrapAddresses, timeout: DEFAULT_BOOTSTRAP_DELAY_MS }))
  }

  // Set once the node exists: the relay server's gate asks it whether relaying makes sense.
  let reachable: ReachabilityService | undefined
  const options: Libp2pOptions<TransportServices> = {
    privateKey,
    start: false,
    addresses: {
      // Each `/p2p-circuit` listen address is one relay reservation, found and renewed by libp2p.
      listen: [...listen, ...Array.from({ length: relay?.reservations ?? 0 }, () => '/p2p-circuit')],
      appendAnnounce: announce,
    },
    transports: [
      tcp(),
      webSockets(),
      ...(quicLoad?.available === true ? [quicLoad.quic()] : []),
      ...(relay === undefined ? [] : [circuitRelayTransport(relay.transportInit)]),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux({
        maxInboundStreams: DEFAULT_MUXER_MAX_STREAMS,
        maxOutboundStreams: DEFAULT_MUXER_MAX_STREAMS,
        maxEarlyStreams: DEFAULT_MUXER_MAX_EARLY_STREAMS,
      }),
    ],
    connectionManager: {
      maxConnections,
      // libp2p allows 5 inbound connections per second from one IP and 10 upgrading at once, which
      // starves several nodes on one machine (or behind one NAT): they all share an address. One
      // host may fill the pool within a second, no more.
      inboundConnectionThreshold: maxConnections,
      maxIncomingPendingConnections: Math.max(maxConnections, 10),
    },
    connectionMonitor: { enabled: init.connectionMonitor ?? true },
    connectionGater: {
      // A relay nobody can reach directly is useless to the peers reserving on it.
      denyInboundRelayReservation: (source) =>
        denied(source) ||
        (relay?.server === 'auto' && reachable?.reachability === 'private') ||
        !allowed(source),
      // Banned peers are refused everywhere, once their identity is known.
      denyDialPeer: denied,
      denyInboundEncryptedConnection: denied,
      denyOutboundEncryptedConnection: denied,
      // As a relay: both ends of a circuit must be welcome. As its destination: the peer at the
      // other end must be.
      denyOutboundRelayedConnection: (source, destination) =>
        denied(source) || denied(destination) || !allowed(source) || !allowed(destination),
      denyInboundRelayedConnection: (_relay, remotePeer) => denied(remotePeer) || !allowed(remotePeer),
    },
    peerDiscovery,
    services: {
      identify: identify(),
      // Tells connected peers at once when our addresses change (a relay reservation, a confirmed
      // public address), so the bootstrap and DHT peers hand out addresses that work.
      identifyPush: identifyPush(),
      reachability: reachability({ quic }),
      ping: ping({
        maxInboundStreams: limits.maxInboundStreams,
        maxOutboundStreams: limits.maxOutboundStreams,
      }),
      pool: connectionPool({
        maxConnections,
        autoDial,
        backoff: redial,
      }),
    },
  }
  const services = options.services as NonNullable<Libp2pOptions<TransportServices>['services']>
  if (mdnsInit !== undefined) {
    services.mdns = mdnsDiscovery(mdnsInit)
  }
  if (autonat) {
    services.autonat = autoNATv2()
  }
  if (relay !== undefined && relay.server !== false) {
    services.relay = circuitRelayServer(relay.serverInit)
  }
  if (relay !== undefined && holePunch) {
    services.dcutr = dcutr({ timeout: HOLE_PUNCH_TIMEOUT_MS, retries: HOLE_PUNCH_RETRIES })
    services.tcpPunch = tcpHolePunch()
  }
  if (upnp !== undefined) {
    const { uPnPNAT } = await import('@libp2p/upnp-nat')
    services.upnp = uPnPNAT(upnp.gateways === undefined ? {} : { gateways: upnp.gateways })
  }
  if (dhtOptions !== undefined) {
    // Loaded only when asked for: kad-dht is the largest module graph of the stack and adds
    // noticeably to process start-up.
    const dht = await import('@libp2p/kad-dht')
    const mappers = {
      public: dht.removePrivateAddressesMapper,
      private: dht.removePublicAddressesMapper,
      all: dht.passthroughMapper,
    } as const
    const mode = dhtOptions.mode ?? 'auto'
    const validity = dhtOptions.provideValidityMs ?? DEFAULT_DHT_PROVIDE_VALIDITY_MS
    services.dht = dht.kadDHT({
      protocol: DHT_PROTOCOL,
      peerInfoMapper: mappers[dhtOptions.addresses ?? 'public'],
      // Left unset, kad-dht switches between client and server as public addresses come and go.
      ...(mode === 'auto' ? {} : { clientMode: mode === 'client' }),
      providers: { provideValidity: Math.ceil(validity / 1_000) },
      reprovide: {
        interval: dhtOptions.reprovideIntervalMs ?? DEFAULT_DHT_REPROVIDE_INTERVAL_MS,
        validity,
        threshold: Math.floor(validity / 2),
      },
    })
  }
  if (psk !== undefined) {
    const { preSharedKey } = await import('@libp2p/pnet')
    options.connectionProtector = preSharedKey({ psk })
  }
  if (init.metrics !== undefined) {
    if (typeof init.metrics !== 'function') {
      throw new InvalidTransportOptionError('metrics', 'expected a libp2p metrics factory')
    }
    options.metrics = init.metrics
  }
  if (init.agentVersion !== undefined) {
    options.nodeInfo = { userAgent: init.agentVersion }
  }

  const node = await createLibp2p(options)
  reachable = node.services.reachability
  if (relay?.server === 'auto' && node.services.relay !== undefined) {
    withdrawRelayWhenPrivate(node, node.services.relay, relay.serverInit)
  }
  if (node.services.autonat !== undefined)
    slowAutoNatWalkWhenPrivate(node.services.reachability, node.services.autonat)
  if (dhtOptions?.mode === 'server') {
    // kad-dht only serves once it thinks the node is publicly dialable; a LAN or test DHT asks for it.
    await node.services.dht?.setMode('server')
  }
  applyDefaultStreamLimits(node, limits)
  if (init.coalesceWrites !== false) {
    await lazyWindowUpdates()
    node.addEventListener('connection:open', (evt) => {
      coalesceWrites(evt.detail)
    })
  }
  const { mdns, pool } = node.services
  // libp2p only reports a peer the first time it enters the peer store; the pool also wants
  // every later sighting, to re-dial a peer that came back after its connection dropped.
  if (autoDial) {
    mdns?.addEventListener('sighting', (evt) => {
      pool.offer(evt.detail)
    })
  }
  if (mdns !== undefined) {
    node.addEventListener('peer:disconnect', (evt) => {
      mdns.forget(evt.detail)
    })
  }
  if (init.start !== false) {
    await node.start()
  }
  return node
}

const PNET_WITHOUT_QUIC = 'off in a private network: the pre-shared key does not cover QUIC'

const DHT_ADDRESSES = ['public', 'private', 'all']

const LOOPBACK_LISTEN = /^\/(ip4\/127\.\d+\.\d+\.\d+|ip6\/::1)\//

function resolveMdns(option: TransportInit['mdns'], listen: string[]): MdnsInit | undefined {
  if (option === false) {
    return undefined
  }
  if (option !== undefined && (typeof option !== 'object' || option === null)) {
    throw new InvalidTransportOptionError('mdns', 'expected false or an options object')
  }
  const { interface: selector = 'auto', ...rest } = option ?? {}
  if (selector !== 'auto') {
    return { ...rest, interface: selector }
  }
  const loopbackOnly = listen.length > 0 && listen.every((address) => LOOPBACK_LISTEN.test(address))
  return { ...rest, interface: loopbackOnly ? 'loopback' : 'lan' }
}

const DHT_MODES = ['auto', 'client', 'server']

function resolveDht(option: TransportInit['dht']): TransportDhtOptions | undefined {
  const value = objectOption<TransportDhtOptions>('dht', option)
  if (value === undefined || value === false) {
    return undefined
  }
  if (value === true) {
    return { mode: 'auto' }
  }
  if (value.addresses !== undefined && !DHT_ADDRESSES.includes(value.addresses)) {
    throw new InvalidTransportOptionError('dht.addresses', "expected 'public', 'private' or 'all'")
  }
  if (value.mode !== undefined && !DHT_MODES.includes(value.mode)) {
    throw new InvalidTransportOptionError('dht.mode', "expected 'auto', 'client' or 'server'")
  }
  const clientMode = boolOption('dht.clientMode', value.clientMode, false)
  if (value.mode !== undefined && value.clientMode !== undefined) {
    throw new InvalidTransportOptionError(
      'dht.clientMode',
      'give either dht.mode or dht.clientMode, not both',
    )
  }
  const mode = value.mode ?? (value.clientMode === undefined ? 'auto' : clientMode ? 'client' : 'server')
  const day = 24 * 60 * 60_000
  const resolved: TransportDhtOptions = {
    mode,
    reprovideIntervalMs: intOption(
      'dht.reprovideIntervalMs',
      value.reprovideIntervalMs,
      DEFAULT_DHT_REPROVIDE_INTERVAL_MS,
      1_000,
      day,
    ),
    provideValidityMs: intOption(
      'dht.provideValidityMs',
      value.provideValidityMs,
      DEFAULT_DHT_PROVIDE_VALIDITY_MS,
      10_000,
      7 * day,
    ),
  }
  if (value.addresses !== undefined) {
    resolved.addresses = value.addresses
  }
  return resolved
}

function resolveUpnp(option: TransportInit['upnp']): TransportUpnpOptions | undefined {
  const value = objectOption<TransportUpnpOptions>('upnp', option)
  if (value === undefined || value === false) {
    return undefined
  }
  if (value === true) {
    return {}
  }
  if (value.gateways === undefined) {
    return {}
  }
  if (!Array.isArray(value.gateways) || value.gateways.length === 0) {
    throw new InvalidTransportOptionError('upnp.gateways', 'expected a non-empty array of http(s) URLs')
  }
  for (const gateway of value.gateways) {
    let url: URL
    try {
      url = new URL(String(gateway))
    } catch {
      throw new InvalidTransportOptionError('upnp.gateways', `not a URL: ${String(gateway)}`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidTransportOptionError(
        'upnp.gateways',
        `expected an http(s) URL, got ${String(gateway)}`,
      )
    }
  }
  return { gateways: value.gateways.map(String) }
}

async function loadPrivateKey(identity: TransportIdentity | undefined): Promise<PrivateKey> {
  if (identity === undefined) {
    return generateKeyPair('Ed25519')
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(identity.privateKeyProtobuf())
  } catch (err) {
    throw new InvalidIdentityError(`identity key is not a libp2p private key: ${(err as Error).message}`)
  }
  if (key.type !== 'Ed25519') {
    throw new InvalidIdentityError(`identity key must be Ed25519, got ${key.type}`)
  }
  return key
}

/**
 * A node that learns it is behind NAT stops offering the relay protocol (peers would only try to
 * reserve a slot nobody can reach, and clients looking for relays keep dialling such peers); it
 * offers it again if it becomes publicly reachable. Identify push tells connected peers at once.
 */
function withdrawRelayWhenPrivate(
  node: Transport,
  server: CircuitRelayService,
  init: CircuitRelayServerInit,
): void {
  const onHop = (server as unknown as { onHop?: StreamHandler }).onHop
  if (typeof onHop !== 'function') {
    return
  }
  let offered = true
  node.services.reachability.addEventListener('change', (evt) => {
    const wanted = evt.detail.reachability !== 'private'
    if (wanted === offered || node.status !== 'started') {
      return
    }
    offered = wanted
    const change = wanted
      ? node.handle(RELAY_V2_HOP_CODEC, onHop, {
          ...(init.maxInboundHopStreams === undefined
            ? {}
            : { maxInboundStreams: init.maxInboundHopStreams }),
          runOnLimitedConnection: true,
        })
      : node.unhandle(RELAY_V2_HOP_CODEC)
    change.catch(() => {
      offered = !wanted
    })
  })
}

/**
 * libp2p has no node-wide default for per-protocol stream limits, and its built-in ones (32/64)
 * reset streams under load. Defaulting them here protects every protocol the node registers,
 * while explicit options still win.
 */
function applyDefaultStreamLimits(node: Transport, limits: StreamLimits): void {
  const handle = node.handle.bind(node)
  const dialProtocol = node.dialProtocol.bind(node)
  node.handle = async (protocols, handler, options) => handle(protocols, handler, { ...limits, ...options })
  node.dialProtocol = async (peer, protocols, options) =>
    dialProtocol(peer, protocols, { maxOutboundStreams: limits.maxOutboundStreams, ...options })
}
