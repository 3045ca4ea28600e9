import type { Connection } from '@libp2p/interface'
import { relayOf } from './reachability.js'

/** How a connection reaches its peer. */
export interface ConnectionKind {
  /** `'direct'`: a socket to the peer itself; `'relayed'`: through a circuit relay. */
  kind: 'direct' | 'relayed'
  /** PeerId of the relay carrying a relayed connection. */
  relay?: string
  /**
   * The relay caps this connection (duration and bytes): only protocols registered with
   * `runOnLimitedConnection: true` may open streams on it, and big transfers should wait for a
   * direct connection (hole punching replaces a relayed connection when it can).
   */
  limited: boolean
}

/** Whether `connection` is direct or relayed (and through which relay), and whether it is limited. */
export function connectionKind(connection: Pick<Connection, 'remoteAddr' | 'limits'>): ConnectionKind {
  const relay = relayOf(connection.remoteAddr)
  return {
    kind: relay === undefined ? 'direct' : 'relayed',
    ...(relay === undefined ? {} : { relay }),
    limited: connection.limits !== undefined,
  }
}
