/**
 * How a node verifies envelopes, whatever stream they come on: one replay cache, one batch cache
 * and one Ed25519 implementation per node, shared by the provider, the requester, relays and the
 * announce protocol. Each check adds the stream's peer (`expectedSender`).
 */
import { batchCache, type OpenEnvelopeOptions, type ReplayCache, replayCache } from '@p2p-ai/protocol'

export type EnvelopeChecks = Omit<OpenEnvelopeOptions, 'expectedSender' | 'now' | 'maxSkewMs'>

/** A node's envelope checks. */
export function envelopeChecks(
  init: { replayCache?: ReplayCache; crypto?: OpenEnvelopeOptions['crypto'] } = {},
): EnvelopeChecks {
  return {
    replayCache: init.replayCache ?? replayCache(),
    batchCache: batchCache(),
    ...(init.crypto === undefined ? {} : { crypto: init.crypto }),
  }
}
