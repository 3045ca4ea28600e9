/**
 * @packageDocumentation
 *
 * The libp2p 3 stack of a p2p-ai node: TCP, WebSockets and (optional) QUIC listeners, Noise
 * encryption, Yamux multiplexing, identify and ping, the node's Ed25519 identity as its libp2p key, peer discovery
 * (bootstrap list; mDNS on a chosen interface; Kademlia DHT), and NAT traversal: reachability
 * (AutoNAT v2, identify's observed addresses, optional UPnP), circuit relay v2 (client and server),
 * hole punching (DCUtR) and capability discovery on the DHT. Works on Node.js 20.19+ and 22+.
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
  capabilityCid,
  findCapabilityProviders,
  type ProvidedCapability,
  provideCapability,
  stopProvidingCapability,
} from './capabilities.js'
export { type ConnectionKind, connectionKind } from './connection-kind.js'
export {
  CAPABILITY_KEY_PREFIX,
  DEFAULT_DHT_PROVIDE_VALIDITY_MS,
  DEFAULT_DHT_REPROVIDE_INTERVAL_MS,
  DEFAULT_LISTEN,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MDNS_INTERVAL_MS,
  DEFAULT_MDNS_SERVICE_TAG,
  DEFAULT_MUXER_MAX_STREAMS,
  DEFAULT_RELAY_CIRCUIT_BYTES,
  DEFAULT_RELAY_CIRCUIT_DURATION_MS,
  DEFAULT_RELAY_MAX_CIRCUITS,
  DEFAULT_RELAY_MAX_CIRCUITS_PER_PEER,
  DEFAULT_RELAY_MAX_CIRCUITS_TO_PEER,
  DEFAULT_RELAY_MAX_RESERVATIONS,
  DEFAULT_RELAY_RESERVATION_TTL_MS,
  DEFAULT_RELAY_RESERVATIONS,
  DEFAULT_STREAM_LIMITS,
  QUIC_UNAVAILABLE_WARNING,
  RELAY_HOP_PROTOCOL,
  TCP_PUNCH_PROTOCOL,
} from './constants.js'
export {
  CapabilityNotStoredError,
  DhtDisabledError,
  InvalidAnnounceAddressError,
  InvalidBootstrapAddressError,
  InvalidCapabilityKeyError,
  InvalidIdentityError,
  InvalidListenAddressError,
  InvalidPskError,
  InvalidTransportOptionError,
  MdnsSocketError,
  QuicUnavailableError,
  UnknownInterfaceError,
} from './errors.js'
export {
  type TcpHolePunch,
  type TcpHolePunchInit,
  type TcpHolePunchStatus,
  tcpHolePunch,
} from './hole-punch.js'
export {
  type MdnsComponents,
  MdnsDiscovery,
  type MdnsEvents,
  type MdnsInit,
  type MdnsStats,
  mdnsDiscovery,
} from './mdns.js'
export type { MdnsInterfaceSelector } from './mdns-interfaces.js'
export { bestConnection, openStream, pingConnection, pingPeer } from './peer-streams.js'
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
export type { PortMapping, PunchPortStatus } from './punch-port.js'
export type { QuicStatus } from './quic.js'
export {
  type Reachability,
  type ReachabilityEvents,
  type ReachabilityInit,
  ReachabilityService,
  type ReachabilityStatus,
  relayOf,
} from './reachability.js'
export type { TransportRelayOptions } from './relay.js'
export { type StreamLimits, streamLimits } from './stream-limits.js'
export {
  createTransport,
  type Transport,
  type TransportDhtOptions,
  type TransportIdentity,
  type TransportInit,
  type TransportMdnsOptions,
  type TransportServices,
  type TransportUpnpOptions,
} from './transport.js'
export { ensureWebSocket } from './websocket-global.js'
export { coalesceWrites, lazyWindowUpdates } from './write-coalescing.js'
