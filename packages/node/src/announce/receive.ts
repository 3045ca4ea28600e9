import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import {
  ANNOUNCE_PROTOCOL,
  type Capabilities,
  decodeFrames,
  encodeFrame,
  openEnvelope,
  type ReplayCache,
  type Signer,
  sealEnvelope,
} from '@p2p-ai/protocol'
import type { Logger } from 'pino'

/** Announcements are small; a bigger frame on this protocol is an attack or a bug. */
export const MAX_ANNOUNCE_FRAME_BYTES = 256 * 1024

export interface AnnounceHandlerInit {
  replayCache: ReplayCache
  log: Logger
  onGoodbye(connection: Connection, reason: string | undefined): void
  onCapabilities(connection: Connection, capabilities: Capabilities): void
}

/**
 * The handler of the announce protocol: reads signed envelopes until the sender closes, checks
 * each (signature, sender = the connection's authenticated peer, clock, replay), and dispatches
 * `goodbye` and `capabilities`. It closes its side only after handling everything, which is the
 * sender's acknowledgement that a goodbye was processed.
 */
export function announceHandler(init: AnnounceHandlerInit): StreamHandler {
  return async (stream, connection) => {
    const remotePeer = connection.remotePeer.toString()
    try {
      for await (const frame of decodeFrames(stream, { maxFrameBytes: MAX_ANNOUNCE_FRAME_BYTES })) {
        if (!frame.ok) throw frame.error
        const { envelope } = openEnvelope(frame.value, {
          replayCache: init.replayCache,
          expectedSender: remotePeer,
        })
        if (envelope.type === 'goodbye') init.onGoodbye(connection, envelope.payload.reason)
        else if (envelope.type === 'capabilities') init.onCapabilities(connection, envelope.payload)
        else
          init.log.debug(
            { remotePeer, type: envelope.type },
            'ignored a message that does not belong on the announce protocol',
          )
      }
      await stream.close()
    } catch (err) {
      init.log.debug({ remotePeer, err }, 'announce stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}

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
  const stream: Stream = await connection.newStream(ANNOUNCE_PROTOCOL, { signal })
  const onAbort = (): void => stream.abort(new Error('goodbye timed out'))
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (!stream.send(frame)) await stream.onDrain({ signal })
    await stream.close({ signal })
    // The peer closes its side once it has handled the goodbye: that is our acknowledgement.
    for await (const _ of stream) {
      // nothing is expected back
    }
    signal.throwIfAborted()
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
