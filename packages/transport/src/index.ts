/**
 * @packageDocumentation
 *
 * The libp2p 3 stack of a p2p-ai node: TCP and WebSockets listeners, Noise encryption, Yamux
 * multiplexing, identify and ping, the node's Ed25519 identity as its libp2p key, and peer
 * discovery (bootstrap list; mDNS on a chosen interface). Works on Node.js 20.19+ and 22+.
 *
 * ```ts
 * import { createTransport } from '@p2p-ai/transport'
 *
 * const node = await createTransport({ listen: ['/ip4/127.0.0.1/tcp/0'] })
 * console.log(node.peerId.toString(), node.getMultiaddrs())
 * await node.stop()
 * ```
 */

export {
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MDNS_INTERVAL_MS,
  DEFAULT_MDNS_SERVICE_TAG,
  DEFAULT_MUXER_MAX_STREAMS,
  DEFAULT_STREAM_LIMITS,
} from './constants.js'
export {
  InvalidBootstrapAddressError,
  InvalidIdentityError,
  InvalidListenAddressError,
  InvalidPskError,
  InvalidTransportOptionError,
  MdnsSocketError,
  UnknownInterfaceError,
} from './errors.js'
export {
  type MdnsComponents,
  MdnsDiscovery,
  type MdnsEvents,
  type MdnsInit,
  type MdnsStats,
  mdnsDiscovery,
} from './mdns.js'
export type { MdnsInterfaceSelector } from './mdns-interfaces.js'
export {
  ConnectionPool,
  type ConnectionPoolComponents,
  type ConnectionPoolEvents,
  type ConnectionPoolInit,
  type ConnectionPoolStats,
  connectionPool,
  type DialBackoff,
  type DialGaveUp,
  type DialRetry,
  resolveBackoff,
} from './pool.js'
export { ensurePromiseWithResolvers } from './promise-with-resolvers.js'
export { generatePsk } from './psk.js'
export { type StreamLimits, streamLimits } from './stream-limits.js'
export {
  createTransport,
  type Transport,
  type TransportDhtOptions,
  type TransportIdentity,
  type TransportInit,
  type TransportMdnsOptions,
  type TransportServices,
} from './transport.js'
export { ensureWebSocket } from './websocket-global.js'
