import { randomBytes } from 'node:crypto'
import type { AbortOptions, Connection, Libp2p, NewStreamOptions, PeerId, Stream } from '@libp2p/interface'
import { byteStream } from '@libp2p/utils'

/** libp2p's ping protocol (identical bytes back). */
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32

type Node = Pick<Libp2p, 'getConnections' | 'dialProtocol'>

/**
 * The connection a stream to `peer` should go on: an open direct (unlimited) one first; with
 * `limited: true`, else an open relayed one. Undefined when there is none.
 */
export function bestConnection(
  node: Pick<Libp2p, 'getConnections'>,
  peer: PeerId,
  options: { limited?: boolean } = {},
): Connection | undefined {
  const open = node.getConnections(peer).filter((c) => c.status === 'open')
  return open.find((c) => c.limits === undefined) ?? (options.limited === true ? open[0] : undefined)
}

/**
 * Opens a stream to `peer` on the best connection this node has to it (`bestConnection`), and
 * dials only when there is none. libp2p's own `dialProtocol` never reuses a limited connection:
 * with only a relayed connection to the peer, every call would dial a new circuit through the
 * relay (dropped again as a duplicate), costing a relay slot and a handshake per stream. With
 * `runOnLimitedConnection: true` the stream may go on a relayed connection.
 */
export async function openStream(
  node: Node,
  peer: PeerId,
  protocols: string | string[],
  options: Omit<NewStreamOptions, 'onProgress'> = {},
): Promise<Stream> {
  const connection = bestConnection(node, peer, { limited: options.runOnLimitedConnection === true })
  if (connection !== undefined) return connection.newStream(protocols, options)
  return node.dialProtocol(peer, protocols, options)
}

/**
 * One libp2p ping (32 random bytes, echoed) on `connection`, relayed ones included; resolves with
 * the round trip in milliseconds.
 */
export async function pingConnection(connection: Connection, options: AbortOptions = {}): Promise<number> {
  const started = performance.now()
  const stream = await connection.newStream(PING_PROTOCOL, { ...options, runOnLimitedConnection: true })
  try {
    const data = randomBytes(PING_BYTES)
    const bytes = byteStream(stream)
    await bytes.write(data, options)
    const echoed = await bytes.read({ ...options, bytes: PING_BYTES })
    if (!Buffer.from(echoed.subarray()).equals(data)) throw new Error('ping: the peer echoed other bytes')
    await stream.close(options)
    return performance.now() - started
  } catch (err) {
    stream.abort(err as Error)
    throw err
  }
}

/**
 * Pings `peer` on the best connection this node has to it, a relayed one if that is all there is
 * (libp2p's ping service would dial a new circuit for each ping then); dials only without any.
 */
export async function pingPeer(
  node: Pick<
    Libp2p<{ ping: { ping(peer: PeerId, options?: AbortOptions): Promise<number> } }>,
    'getConnections' | 'services'
  >,
  peer: PeerId,
  options: AbortOptions = {},
): Promise<number> {
  const connection = bestConnection(node, peer, { limited: true })
  if (connection !== undefined && connection.limits !== undefined) return pingConnection(connection, options)
  return node.services.ping.ping(peer, options)
}
