/**
 * How a node verifies envelopes, whatever stream they come on: one replay cache, one batch cache
 * and one Ed25519 implementation per node, shared by the provider, the requester, relays and the
 * announce protocol. Each check adds the stream's peer (`expectedSender`).
 */
import { defaultEd25519, type Ed25519Provider } from '@p2p-ai/identity'
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

/** Ed25519 signatures a node checked since it started (a batch signature counts once). */
export interface SignatureCounts {
  readonly valid: number
  readonly invalid: number
}

/**
 * The node's Ed25519 implementation, counting every verification it makes: the one place every
 * signature check of the node goes through (requests, results, cancels, forwards, announcements).
 * Counting is an addition; metrics read the totals when scraped.
 */
export function countingEd25519(
  inner: Ed25519Provider = defaultEd25519(),
): Ed25519Provider & { readonly counts: SignatureCounts } {
  const counts = { valid: 0, invalid: 0 }
  return {
    name: inner.name,
    counts,
    generateSeed: () => inner.generateSeed(),
    publicKeyFromSeed: (seed) => inner.publicKeyFromSeed(seed),
    sign: (seed, data) => inner.sign(seed, data),
    verify(publicKey, data, signature) {
      const ok = inner.verify(publicKey, data, signature)
      if (ok) counts.valid++
      else counts.invalid++
      return ok
    },
  }
}
