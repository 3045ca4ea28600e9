/**
 * The node's libp2p as Helia sees it: the same connections and streams, but only with peers the
 * node's access policy allows (with an allowlist, strangers neither fetch a block from us nor get
 * our wants), and without the power to start or stop it (the node owns its libp2p). A private
 * network (pnet) keeps strangers from connecting at all, so this gate only matters in a swarm that
 * uses an allowlist. The policy is asked on every stream, so a change at run time takes effect at
 * once.
 */
import type { Libp2p, PeerId, StreamHandler, Topology } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** Refused: the access policy does not allow the peer. */
export class PeerNotAllowedError extends Error {
  static readonly code = 'ERR_ACCESS_DENIED'
  readonly code = PeerNotAllowedError.code
  override readonly name = 'PeerNotAllowedError'
}

/** The PeerId a dial target names, if it names one. */
function peerOf(target: PeerId | Multiaddr | Multiaddr[]): string | undefined {
  if (Array.isArray(target)) return target[0]?.getComponents().find((c) => c.name === 'p2p')?.value
  if ('getComponents' in target) return target.getComponents().find((c) => c.name === 'p2p')?.value
  return target.toString()
}

/** A view of `libp2p` that exchanges nothing with peers `allows` refuses. */
export function gatedLibp2p(libp2p: Libp2p, allows: (peer: string) => boolean): Libp2p {
  const refuse = (target: PeerId | Multiaddr | Multiaddr[]): PeerNotAllowedError | undefined => {
    const peer = peerOf(target)
    return peer !== undefined && !allows(peer)
      ? new PeerNotAllowedError(`${peer} is not allowed by this node's access policy`)
      : undefined
  }
  const view: Partial<Libp2p> = {
    handle: (protocols, handler, options) => {
      const gated: StreamHandler = (stream, connection) => {
        if (!allows(connection.remotePeer.toString())) {
          stream.abort(new PeerNotAllowedError('not allowed by the access policy'))
          return
        }
        return handler(stream, connection)
      }
      return libp2p.handle(protocols, gated, options)
    },
    register: (protocol, topology: Topology) =>
      libp2p.register(protocol, {
        ...topology,
        onConnect: (peer, connection) => {
          if (allows(peer.toString())) topology.onConnect?.(peer, connection)
        },
      }),
    getConnections: (peer) => libp2p.getConnections(peer).filter((c) => allows(c.remotePeer.toString())),
    dial: async (target, options) => {
      const refused = refuse(target)
      if (refused !== undefined) throw refused
      return libp2p.dial(target, options)
    },
    dialProtocol: async (target, protocols, options) => {
      const refused = refuse(target)
      if (refused !== undefined) throw refused
      return libp2p.dialProtocol(target, protocols, options)
    },
    // Helia starts and stops what it is given; this libp2p is the node's.
    start: async () => {},
    stop: async () => {},
  }
  return new Proxy(libp2p, {
    get(target, property) {
      if (Object.hasOwn(view, property)) return view[property as keyof Libp2p]
      const value = Reflect.get(target, property, target) as unknown
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
