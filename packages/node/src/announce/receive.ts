/**
 * Receiving the announce protocol (docs/protocol.md §2.2): one signed `capabilities` or `goodbye`
 * per stream, checked and handed to the peer directory. A peer that announces beyond its pace
 * (pace.ts) is not read; one whose frames are malformed or forged is held to account in the
 * reputation book like on the task protocol (`OFFENCE_OF_ERROR`).
 */
import type { Connection, StreamHandler } from '@libp2p/interface'
import { type Capabilities, decodeFrames, openEnvelope, type ReplayCache } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import type { EnvelopeChecks } from '../exchange/trust/checks.js'
import { OFFENCE_OF_ERROR } from '../peers/constants.js'
import type { PeerRate } from '../peers/rate.js'
import type { Offence } from '../peers/reputation.js'
import type { ProtocolTraffic } from '../traffic.js'
import { MAX_ANNOUNCE_FRAME_BYTES } from './constants.js'
import { announcePace } from './pace.js'

export interface AnnounceHandlerInit {
  replayCache: ReplayCache
  /** The node's Ed25519 implementation (which counts signature checks). @default the default one */
  crypto?: EnvelopeChecks['crypto']
  log: Logger
  /** Where announcements received are counted. */
  traffic?: ProtocolTraffic
  /** Records a peer's misbehaviour (the reputation book). @default nothing recorded */
  offence?(peer: string, offence: Offence): void
  /** Peers whose announcements are never paced (`protection.exempt`). @default none */
  isExempt?(peer: string): boolean
  /** How many announcements a peer may send. @default a new one with the defaults */
  pace?: PeerRate
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
  const pace = init.pace ?? announcePace()
  return async (stream, connection) => {
    const remotePeer = connection.remotePeer.toString()
    try {
      for await (const frame of decodeFrames(stream, { maxFrameBytes: MAX_ANNOUNCE_FRAME_BYTES })) {
        if (init.traffic !== undefined) {
          init.traffic.messagesIn++
          // The body and its varint length prefix (announce frames stay below 2 MiB: 3 bytes at most).
          const body = frame.ok ? frame.body.byteLength : 0
          init.traffic.bytesIn += body + (body < 0x80 ? 1 : body < 0x4000 ? 2 : 3)
        }
        if (!frame.ok) throw frame.error
        // Before the signature is verified: that is what a flood would cost.
        if (init.isExempt?.(remotePeer) !== true && pace.take(remotePeer) > 0) {
          init.offence?.(remotePeer, 'announce-flood')
          init.log.debug({ remotePeer }, 'dropped an announcement beyond the peer’s pace, unread')
          stream.abort(new Error('more announcements than a peer may send'))
          return
        }
        const { envelope } = openEnvelope(frame.value, {
          replayCache: init.replayCache,
          expectedSender: remotePeer,
          ...(init.crypto === undefined ? {} : { crypto: init.crypto }),
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
      const offence = OFFENCE_OF_ERROR[(err as { code?: unknown } | null)?.code as string]
      if (offence !== undefined) init.offence?.(remotePeer, offence)
      init.log.debug({ remotePeer, err }, 'announce stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
}
