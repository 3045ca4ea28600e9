import type { Connection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Transport } from '@p2p-ai/transport'
import type { Logger } from './logger.js'
import type { PeerNetwork, PeerTable } from './peers.js'

/** The slice of libp2p the peer table uses: ping, hang up, redial at known addresses. */
export function peerNetwork(transport: Transport): PeerNetwork {
  return {
    ping: (peer, options) => transport.services.ping.ping(peer, options),
    hangUp: (peer, options) => transport.hangUp(peer, options),
    redial: async (peer, addresses, options) => {
      await transport.peerStore.merge(peer, { multiaddrs: addresses as Multiaddr[] }, options)
      await transport.dial(peer, options)
    },
  }
}

interface IdentifyDetail {
  peerId: PeerId
  agentVersion?: string
  protocols: string[]
  listenAddrs: Multiaddr[]
}

/**
 * Feeds libp2p's events into the peer table and keeps the connection limit. Returns a function
 * that removes every listener.
 */
export function wireTransport(
  transport: Transport,
  peers: PeerTable,
  options: { onAddressesChanged: () => void; maxConnections: () => number; log: Logger },
): () => void {
  const handlers = {
    'peer:connect': (evt: CustomEvent<PeerId>) => {
      peers.onConnect(evt.detail, transport.getConnections(evt.detail)[0]?.remoteAddr)
    },
    'peer:identify': (evt: CustomEvent<IdentifyDetail>) => peers.onIdentify(evt.detail.peerId, evt.detail),
    'peer:disconnect': (evt: CustomEvent<PeerId>) => peers.onDisconnect(evt.detail),
    'self:peer:update': () => options.onAddressesChanged(),
    'connection:open': (evt: CustomEvent<Connection>) => {
      const max = options.maxConnections()
      if (transport.getConnections().length <= max) return
      const connection = evt.detail
      options.log.debug(
        { remotePeer: connection.remotePeer.toString(), max },
        'over the connection limit: closing',
      )
      connection.close().catch(() => connection.abort(new Error('over the connection limit')))
    },
  }
  const entries = Object.entries(handlers) as Array<[keyof typeof handlers, (evt: Event) => void]>
  for (const [type, handler] of entries) transport.addEventListener(type, handler)
  return () => {
    for (const [type, handler] of entries) transport.removeEventListener(type, handler)
  }
}

/**
 * Changes the connection limit of a running transport. libp2p's connection manager can do it
 * (and prunes the excess) but the method is not on its public interface, so it is reached only
 * if present; new connections over the limit are closed by `wireTransport` either way.
 */
export function setMaxConnections(transport: Transport, max: number, log: Logger): void {
  const components = (transport as unknown as { components?: { connectionManager?: unknown } }).components
  const manager = components?.connectionManager as { setMaxConnections?: (n: number) => void } | undefined
  manager?.setMaxConnections?.(max)
  const excess = transport.getConnections().length - max
  if (excess > 0) log.info({ max, excess }, 'closing connections above the new maximum')
}
