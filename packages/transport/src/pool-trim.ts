import type { Connection } from '@libp2p/interface'

/**
 * Protocols that may be cut short when a connection is trimmed: libp2p's own housekeeping. A
 * connection carrying any other stream (a task in flight) is left alone and looked at again later.
 */
const HOUSEKEEPING = ['/ipfs/id/1.0.0', '/ipfs/id/push/1.0.0', '/ipfs/ping/1.0.0']

export function isIdle(connection: Connection): boolean {
  return connection.streams.every(
    (s) => s.protocol === undefined || s.protocol === '' || HOUSEKEEPING.includes(s.protocol),
  )
}

/**
 * Crossed connections: when two peers dialled each other, the connections dialled by the peer with
 * the larger id go, as long as one dialled by the smaller id remains. Both ends compute the same
 * set from the direction alone (their clocks and connection ids differ), so they never close
 * different ones and end up with none. Two connections dialled by the same side are left alone,
 * and relayed (limited) ones are no duplicates of anything (see `supersededConnections`).
 */
export function duplicateConnections(connections: Connection[], selfId: string): Connection[] {
  const byPeer = new Map<string, Connection[]>()
  for (const connection of connections) {
    if (connection.limits !== undefined) continue
    const id = connection.remotePeer.toString()
    byPeer.set(id, [...(byPeer.get(id) ?? []), connection])
  }
  const victims: Connection[] = []
  for (const [remoteId, conns] of byPeer) {
    // Dialled by the larger id: our outbound ones if we are larger, our inbound ones otherwise.
    const dialledByLarger = selfId > remoteId ? 'outbound' : 'inbound'
    if (conns.some((c) => c.direction !== dialledByLarger)) {
      victims.push(...conns.filter((c) => c.direction === dialledByLarger))
    }
  }
  return victims
}

/**
 * Relayed (limited) connections to peers this node also has a direct connection to: hole punching
 * or a dial-back replaced them, and they only hold a slot on the relay. Closed once idle, so that
 * the streams still running on them (tasks sent before the direct connection came) finish first.
 */
export function supersededConnections(connections: Connection[]): Connection[] {
  const direct = new Set(
    connections
      .filter((c) => c.limits === undefined && c.status === 'open')
      .map((c) => c.remotePeer.toString()),
  )
  return connections.filter((c) => c.limits !== undefined && direct.has(c.remotePeer.toString()))
}

/** Connections beyond `max`, newest inbound ones first. */
export function excessConnections(connections: Connection[], max: number): Connection[] {
  const excess = connections.length - max
  if (excess <= 0) {
    return []
  }
  return [...connections]
    .sort((a, b) => {
      if (a.direction !== b.direction) {
        return a.direction === 'inbound' ? -1 : 1
      }
      return b.timeline.open - a.timeline.open
    })
    .slice(0, excess)
}
