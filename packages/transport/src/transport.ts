import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPair, privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { type Identify, identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { type Ping, ping } from '@libp2p/ping'
import { preSharedKey } from '@libp2p/pnet'
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
} from './constants.js'
import { InvalidIdentityError, InvalidTransportOptionError } from './errors.js'
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
  /** Private network: only nodes with this pre-shared key (see `generatePsk()`) can connect. @default none */
  psk?: Uint8Array
  /** Sent to peers by identify, e.g. `p2p-ai/0.1.0`. @default libp2p's user agent */
  agentVersion?: string
  /**
   * Per-protocol stream limits that `handle()` and `dialProtocol()` of the returned node use when
   * the caller passes none. @default DEFAULT_STREAM_LIMITS (1024 inbound, 1024 outbound)
   */
  streamLimits?: Partial<StreamLimits>
  /** Start the node before returning it. Pass `false` to register protocol handlers first. @default true */
  start?: boolean
}

/** The libp2p services every transport node carries. */
export interface TransportServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
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
    connectionManager: { maxConnections },
    peerDiscovery,
    services: {
      identify: identify(),
      ping: ping({
        maxInboundStreams: limits.maxInboundStreams,
        maxOutboundStreams: limits.maxOutboundStreams,
      }),
    },
  }
  if (psk !== undefined) {
    options.connectionProtector = preSharedKey({ psk })
  }
  if (init.agentVersion !== undefined) {
    options.nodeInfo = { userAgent: init.agentVersion }
  }

  const node = await createLibp2p(options)
  applyDefaultStreamLimits(node, limits)
  if (init.start !== false) {
    await node.start()
  }
  return node
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
