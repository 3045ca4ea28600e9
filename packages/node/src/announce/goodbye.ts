/**
 * Saying goodbye (docs/protocol.md §2.2): a signed `goodbye` to every connected peer when this node
 * shuts down, so they stop routing tasks to it at once.
 */
import type { Connection } from '@libp2p/interface'
import { ANNOUNCE_PROTOCOL, encodeFrame, type Signer, sealEnvelope } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import { announceOn } from './send.js'

/**
 * Tells every connected peer that we are leaving, in parallel, within `signal`: one signed
 * goodbye envelope per stream, then waits for the peer to close its side (it has dropped us from
 * its table by then). Returns the peers that acknowledged and those that did not in time.
 */
export async function sayGoodbye(
  connections: readonly Connection[],
  signer: Signer,
  reason: string,
  signal: AbortSignal,
  log: Logger,
): Promise<{ notified: string[]; failed: string[] }> {
  const byPeer = new Map<string, Connection>()
  for (const c of connections) {
    if (c.status === 'open' && !byPeer.has(c.remotePeer.toString())) byPeer.set(c.remotePeer.toString(), c)
  }
  if (byPeer.size === 0) return { notified: [], failed: [] }
  const frame = encodeFrame(sealEnvelope(signer, 'goodbye', { reason }).envelope)
  const notified: string[] = []
  const failed: string[] = []
  await Promise.all(
    [...byPeer].map(async ([peer, connection]) => {
      try {
        await sendOne(connection, frame, signal)
        notified.push(peer)
      } catch (err) {
        failed.push(peer)
        log.debug({ remotePeer: peer, err }, 'goodbye not acknowledged')
      }
    }),
  )
  return { notified, failed }
}

async function sendOne(connection: Connection, frame: Uint8Array, signal: AbortSignal): Promise<void> {
  const stream = await connection.newStream(ANNOUNCE_PROTOCOL, { signal, runOnLimitedConnection: true })
  await announceOn(stream, frame, signal)
}
