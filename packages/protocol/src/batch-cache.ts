/**
 * Batch signatures already verified, so that the envelopes of one batch cost one Ed25519
 * verification together (docs/protocol.md §4.5).
 */
import { Buffer } from 'node:buffer'
import { BATCH_SIGNING_PREFIX } from './constants.js'
import { InvalidOptionError } from './errors.js'

/** Batches seen at once: a batch's envelopes arrive together, so a few hundred are plenty. */
export const DEFAULT_BATCH_CACHE_MAX_ENTRIES = 1024

const PREFIX = Buffer.from(BATCH_SIGNING_PREFIX, 'utf8')

/** The bytes a batch signature covers: {@link BATCH_SIGNING_PREFIX}, then the 32-byte root. */
export function batchSigningInput(root: Uint8Array): Uint8Array {
  return Buffer.concat([PREFIX, root])
}

export interface BatchCacheInit {
  /**
   * Verified batch signatures remembered; the oldest is forgotten first.
   *
   * @default 1024
   */
  maxEntries?: number
}

/**
 * Remembers (signer, root, signature) triples whose signature verified. A hit says exactly that
 * signer signed exactly that root: the cache can only save work, never admit anything new.
 */
export interface BatchCache {
  has(from: string, root: Uint8Array, sig: string): boolean
  add(from: string, root: Uint8Array, sig: string): void
  readonly size: number
}

export function batchCache(init: BatchCacheInit = {}): BatchCache {
  const maxEntries = init.maxEntries ?? DEFAULT_BATCH_CACHE_MAX_ENTRIES
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new InvalidOptionError(`maxEntries must be a positive integer, got ${String(maxEntries)}`)
  }
  // A Set iterates in insertion order: its first key is the oldest.
  const verified = new Set<string>()
  const key = (from: string, root: Uint8Array, sig: string): string =>
    `${from}/${Buffer.from(root.buffer, root.byteOffset, root.byteLength).toString('base64url')}/${sig}`
  return {
    has: (from, root, sig) => verified.has(key(from, root, sig)),
    add: (from, root, sig) => {
      verified.add(key(from, root, sig))
      if (verified.size > maxEntries) {
        const oldest = verified.values().next().value
        if (oldest !== undefined) verified.delete(oldest)
      }
    },
    get size() {
      return verified.size
    },
  }
}
