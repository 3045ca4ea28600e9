/**
 * The peer directory on a libp2p node: libp2p's connection events, the connection pool's redials
 * and the announce protocol feed it; it pings, hangs up and redials through the same node.
 */
import type { Connection, IdentifyResult, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { ANNOUNCE_PROTOCOL, type ReplayCache } from '@p2p-ai/protocol'
import { type DialGaveUp, type DialRetry, pingPeer, type Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import { type AnnounceHandlerInit, announceHandler } from '../announce/receive.js'
import type { PeerDirectory } from './directory.js'
import type { PeerConnection, PeerNetwork } from './types.js'

/** The slice of a libp2p node the directory uses. */
export function peerNetwork(transport: Transport): PeerNetwork {
  return {
    // On a relayed connection when that is all there is: libp2p's ping would dial a new circuit.
    ping: (peer, options) => pingPeer(transport, peer, options),
    hangUp: (peer, options) => transport.hangUp(peer, options),
    redial: (peer, addresses) => {
      transport.services.pool.redial({ id: peer, multiaddrs: addresses as Multiaddr[] })
    },
    forget: (peer) => transport.services.pool.forget(peer),
    connections: (peer) => transport.getConnections(peer).filter(isOpen).map(describeConnection),
  }
}

/** How a libp2p connection reaches its peer: straight, or through a circuit relay. */
export function describeConnection(connection: Connection): PeerConnection {
  const address = connection.remoteAddr.toString()
  const circuit = address.indexOf('/p2p-circuit')
  const limited = connection.limits !== undefined
  if (circuit === -1) {
    return { kind: 'direct', limited, remoteAddr: address, direction: connection.direction }
  }
  // `/ip4/…/tcp/…/p2p/<relay>/p2p-circuit/p2p/<peer>`: the relay is the last `/p2p/` before the circuit.
  const before = address.slice(0, circuit)
  const at = before.lastIndexOf('/p2p/')
  const via = at === -1 ? undefined : before.slice(at + 5)
  return {
    kind: 'relayed',
    ...(via === undefined ? {} : { via }),
    limited,
    remoteAddr: address,
    direction: connection.direction,
  }
}

function isOpen(connection: Connection): boolean {
  return connection.status === 'open'
}

export interface AttachPeerDirectoryInit {
  /** The node's replay cache: announcements are signed envelopes like any other. */
  replayCache: ReplayCache
  /** The node's Ed25519 implementation, to verify announcements with. @default the default one */
  crypto?: AnnounceHandlerInit['crypto']
  log: Logger
  /** Where announcements received are counted. */
  traffic?: AnnounceHandlerInit['traffic']
}

/**
 * Feeds `directory` from `transport` (connections, identify, redials, announcements) until the
 * returned function is called. Registers the announce protocol's handler.
 */
export async function attachPeerDirectory(
  transport: Transport,
  directory: PeerDirectory,
  init: AttachPeerDirectoryInit,
): Promise<() => Promise<void>> {
  const handlers = {
    'peer:connect': (evt: CustomEvent<PeerId>) => {
      directory.onConnect(evt.detail, transport.getConnections(evt.detail)[0]?.remoteAddr)
    },
    'peer:identify': (evt: CustomEvent<IdentifyResult>) =>
      directory.onIdentify(evt.detail.peerId, evt.detail),
    'peer:disconnect': (evt: CustomEvent<PeerId>) => directory.onDisconnect(evt.detail),
    'connection:open': (evt: CustomEvent<Connection>) =>
      directory.onConnectionsChanged(evt.detail.remotePeer),
    'connection:close': (evt: CustomEvent<Connection>) =>
      directory.onConnectionsChanged(evt.detail.remotePeer),
  }
  const entries = Object.entries(handlers) as Array<[keyof typeof handlers, (evt: Event) => void]>
  for (const [type, handler] of entries) transport.addEventListener(type, handler)
  const pool = transport.services.pool
  const onRetry = (evt: CustomEvent<DialRetry>): void =>
    directory.onRedialScheduled(evt.detail.peer, evt.detail.attempts, evt.detail.at)
  const onGaveUp = (evt: CustomEvent<DialGaveUp>): void =>
    directory.onRedialGaveUp(evt.detail.peer, evt.detail.attempts)
  pool.addEventListener('dial:retry', onRetry)
  pool.addEventListener('dial:gave-up', onGaveUp)
  await transport.handle(
    ANNOUNCE_PROTOCOL,
    announceHandler({
      replayCache: init.replayCache,
      log: init.log,
      ...(init.crypto === undefined ? {} : { crypto: init.crypto }),
      ...(init.traffic === undefined ? {} : { traffic: init.traffic }),
      offence: (peer, offence) => directory.book.recordOffence(peer, offence),
      isExempt: (peer) => directory.book.isExempt(peer),
      onGoodbye: (connection, reason) => directory.onGoodbye(connection.remotePeer, reason),
      onCapabilities: (connection, capabilities) =>
        directory.onCapabilities(connection.remotePeer, capabilities),
    }),
    // Announcements are small: peers reached only through a relay learn what each other runs.
    { runOnLimitedConnection: true },
  )
  // Peers connected before we listened.
  for (const connection of transport.getConnections()) {
    if (directory.get(connection.remotePeer.toString()) === undefined) {
      directory.onConnect(connection.remotePeer, connection.remoteAddr)
    }
  }
  return async () => {
    for (const [type, handler] of entries) transport.removeEventListener(type, handler)
    pool.removeEventListener('dial:retry', onRetry)
    pool.removeEventListener('dial:gave-up', onGaveUp)
    await transport.unhandle(ANNOUNCE_PROTOCOL).catch(() => {})
  }
}
