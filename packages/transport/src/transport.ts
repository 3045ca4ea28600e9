import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { type Identify, identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { type Ping, ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { intOption, parseBootstrap, parseListen } from './config.js'
import {
  DEFAULT_BOOTSTRAP_DELAY_MS,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MUXER_MAX_EARLY_STREAMS,
  DEFAULT_MUXER_MAX_STREAMS,
  DHT_PROTOCOL,
} from './constants.js'
import { InvalidIdentityError, InvalidTransportOptionError } from './errors.js'
import { type MdnsDiscovery, type MdnsInit, mdnsDiscovery } from './mdns.js'
import type { MdnsInterfaceSelector } from './mdns-interfaces.js'
import { type ConnectionPool, connectionPool, type DialBackoff, resolveBackoff } from './pool.js'
import { ensurePromiseWithResolvers } from './promise-with-resolvers.js'
import { checkPsk } from './psk.js'
import { type StreamLimits, streamLimits } from './stream-limits.js'
import { ensureWebSocket } from './websocket-global.js'

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
   * Only query the DHT, never serve it. Nodes behind NAT should be clients; the default lets
   * kad-dht switch to server mode once it learns the node is publicly dialable.
   * @default libp2p's automatic choice
   */
  clientMode?: boolean
  /**
   * Which addresses of DHT peers are kept: `'public'` for the internet (private ones are useless
   * there), `'private'` for a LAN-only DHT, `'all'` for mixed networks and tests.
   * @default 'public'
   */
  addresses?: 'public' | 'private' | 'all'
}

export interface TransportInit {
  /** The node's identity; its key becomes the libp2p key, so the PeerId matches. @default a fresh Ed25519 key */
  identity?: TransportIdentity
  /**
   * Multiaddrs to listen on. Use `['/ip4/127.0.0.1/tcp/0']` for tests and demos on one machine.
   * @default ['/ip4/0.0.0.0/tcp/0', '/ip4/0.0.0.0/tcp/0/ws']
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
  /** Kademlia DHT for discovery beyond the LAN (protocol `/p2p-ai/kad/1.0.0`). @default false */
  dht?: boolean | TransportDhtOptions
  /** Start the node before returning it. Pass `false` to register protocol handlers first. @default true */
  start?: boolean
}

/** The libp2p services every transport node carries. */
export interface TransportServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
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
  const listen = parseListen(init.listen ?? [...DEFAULT_LISTEN])
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
  if (init.redial !== undefined && (typeof init.redial !== 'object' || init.redial === null)) {
    throw new InvalidTransportOptionError('redial', 'expected an options object')
  }
  const redial = resolveBackoff(init.redial)
  const autoDial = init.autoDial ?? true
  const mdnsInit = resolveMdns(init.mdns, listen)
  const dhtOptions = resolveDht(init.dht)
  const privateKey = await loadPrivateKey(init.identity)
  const selfId = privateKey.publicKey.toString()
  const bootstrapAddresses = bootstrapList.filter((entry) => entry.peerId !== selfId).map((e) => e.address)

  ensurePromiseWithResolvers()
  ensureWebSocket()

  const peerDiscovery: Array<NonNullable<Libp2pOptions['peerDiscovery']>[number]> = []
  if (bootstrapAddresses.length > 0) {
    peerDiscovery.push(bootstrap({ list: bootstrapAddresses, timeout: DEFAULT_BOOTSTRAP_DELAY_MS }))
  }

  const options: Libp2pOptions<TransportServices> = {
    privateKey,
    start: false,
    addresses: { listen },
    transports: [tcp(), webSockets()],
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
    peerDiscovery,
    services: {
      identify: identify(),
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
  if (dhtOptions !== undefined) {
    // Loaded only when asked for: kad-dht is the largest module graph of the stack and adds
    // noticeably to process start-up.
    const dht = await import('@libp2p/kad-dht')
    const mappers = {
      public: dht.removePrivateAddressesMapper,
      private: dht.removePublicAddressesMapper,
      all: dht.passthroughMapper,
    } as const
    services.dht = dht.kadDHT({
      protocol: DHT_PROTOCOL,
      peerInfoMapper: mappers[dhtOptions.addresses ?? 'public'],
      ...(dhtOptions.clientMode === undefined ? {} : { clientMode: dhtOptions.clientMode }),
    })
  }
  if (psk !== undefined) {
    const { preSharedKey } = await import('@libp2p/pnet')
    options.connectionProtector = preSharedKey({ psk })
  }
  if (init.agentVersion !== undefined) {
    options.nodeInfo = { userAgent: init.agentVersion }
  }

  const node = await createLibp2p(options)
  applyDefaultStreamLimits(node, limits)
  const { mdns, pool } = node.services
  // libp2p only reports a peer the first time it enters the peer store; the pool also wants
  // every later sighting, to re-dial a peer that came back after its connection dropped.
  if (autoDial) {
    mdns?.addEventListener('sighting', (evt) => {
      pool.offer(evt.detail)
    })
  }
  if (init.start !== false) {
    await node.start()
  }
  return node
}

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

function resolveDht(option: TransportInit['dht']): TransportDhtOptions | undefined {
  if (option === undefined || option === false) {
    return undefined
  }
  if (option === true) {
    return {}
  }
  if (typeof option !== 'object' || option === null) {
    throw new InvalidTransportOptionError('dht', 'expected a boolean or an options object')
  }
  if (option.addresses !== undefined && !DHT_ADDRESSES.includes(option.addresses)) {
    throw new InvalidTransportOptionError('dht.addresses', "expected 'public', 'private' or 'all'")
  }
  if (option.clientMode !== undefined && typeof option.clientMode !== 'boolean') {
    throw new InvalidTransportOptionError('dht.clientMode', 'expected a boolean')
  }
  return option
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
