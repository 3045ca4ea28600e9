/**
 * Verifying batch-signed envelopes (docs/protocol.md §4.5), and what a receiver remembers so that
 * the envelopes of one batch cost one Ed25519 verification together and, after the first, two or
 * three hashes each.
 */
import { Buffer } from 'node:buffer'
import { type IdentityInit, verifySignature } from '@p2p-ai/identity'
import { BATCH_SIGNING_PREFIX } from './constants.js'
import { BadSignatureError, InvalidMessageError, InvalidOptionError } from './errors.js'
import { auditSteps, leafHash, nodeHash, nodeKey } from './merkle.js'
import type { BatchProof } from './messages.js'

/** Batch signatures remembered: a batch's envelopes arrive together, so a thousand is plenty. */
export const DEFAULT_BATCH_CACHE_MAX_ENTRIES = 1024

/**
 * Batches whose authenticated tree nodes are kept, newest first: up to 2 × 1,024 nodes each, so
 * few, as the envelopes of one batch arrive together.
 */
const TREES_KEPT = 32

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
 * Remembers what batch verification proved: (signer, root, signature) triples whose signature
 * verified, and for the latest batches the tree nodes an inclusion proof led through to such a
 * root. A hit only ever stands for exactly what was proven (that signer signed a tree holding that
 * node), so the cache can save work but never admit anything that would not verify.
 */
export interface BatchCache {
  has(from: string, root: Uint8Array, sig: string): boolean
  add(from: string, root: Uint8Array, sig: string): void
  /** The authenticated nodes of a batch (by {@link nodeKey}), created empty when `create` is set. */
  tree(from: string, sig: string, size: number, create: true): Map<number, Buffer>
  tree(from: string, sig: string, size: number, create?: false): Map<number, Buffer> | undefined
  readonly size: number
}

export function batchCache(init: BatchCacheInit = {}): BatchCache {
  const maxEntries = init.maxEntries ?? DEFAULT_BATCH_CACHE_MAX_ENTRIES
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new InvalidOptionError(`maxEntries must be a positive integer, got ${String(maxEntries)}`)
  }
  // Sets and Maps iterate in insertion order: the first key is the oldest.
  const verified = new Set<string>()
  const trees = new Map<string, Map<number, Buffer>>()
  const key = (from: string, root: Uint8Array, sig: string): string =>
    `${from}/${Buffer.from(root.buffer, root.byteOffset, root.byteLength).toString('base64url')}/${sig}`
  function tree(from: string, sig: string, size: number, create?: boolean): Map<number, Buffer> | undefined {
    const id = `${from}/${sig}/${size}`
    let nodes = trees.get(id)
    if (nodes === undefined && create === true) {
      nodes = new Map()
      trees.set(id, nodes)
      if (trees.size > TREES_KEPT) trees.delete(trees.keys().next().value as string)
    }
    return nodes
  }
  return {
    has: (from, root, sig) => verified.has(key(from, root, sig)),
    add: (from, root, sig) => {
      verified.add(key(from, root, sig))
      if (verified.size > maxEntries) verified.delete(verified.values().next().value as string)
    },
    tree: tree as BatchCache['tree'],
    get size() {
      return verified.size
    },
  }
}

/**
 * Checks that the envelope whose digest is `digest` belongs to a batch `from` signed (§4.5,
 * replacing check 8 of §4.3). With a cache, a proof that meets nodes already authenticated for the
 * same batch stops hashing there: its remaining steps must then match those nodes exactly, so an
 * envelope passes here exactly when it would pass a fresh verifier.
 *
 * @throws {InvalidMessageError} the proof has the wrong shape for `index` and `size`.
 * @throws {BadSignatureError} the proof does not lead to a root `from` signed.
 */
export function verifyBatchMember(
  from: string,
  publicKey: Uint8Array,
  digest: Uint8Array,
  batch: BatchProof,
  cache: BatchCache | undefined,
  init: IdentityInit | undefined,
): void {
  const steps = auditSteps(batch.index, batch.size, batch.path.length)
  if (steps === undefined) {
    throw new InvalidMessageError(
      'batch.path',
      `not an inclusion proof for leaf ${batch.index} of a batch of ${batch.size}`,
    )
  }
  const path = batch.path.map((node) => Buffer.from(node, 'base64url'))
  const known = cache?.tree(from, batch.sig, batch.size)
  const leaf = leafHash(digest)
  // The nodes this proof claims, by key: authenticated once the proof is.
  const claimed = new Map<number, Buffer>([[nodeKey(0, batch.index), leaf]])
  let r = leaf
  let proven = known !== undefined && vouches(known, nodeKey(0, batch.index), r, steps, path, 0)
  for (let i = 0; i < steps.length && !proven; i++) {
    const step = steps[i] as (typeof steps)[number]
    const p = path[i] as Buffer
    r = step.left ? nodeHash(p, r) : nodeHash(r, p)
    claimed.set(step.sibling, p)
    claimed.set(step.parent, r)
    proven = known !== undefined && vouches(known, step.parent, r, steps, path, i + 1)
  }
  if (!proven) {
    // r is the root the proof leads to: the signature must cover it.
    if (cache === undefined || !cache.has(from, r, batch.sig)) {
      if (!verifySignature(publicKey, batchSigningInput(r), Buffer.from(batch.sig, 'base64url'), init)) {
        throw new BadSignatureError(`batch signature does not verify under the key of ${from}`)
      }
      cache?.add(from, r, batch.sig)
    }
  }
  if (cache !== undefined) {
    const nodes = known ?? cache.tree(from, batch.sig, batch.size, true)
    for (const [key, hash] of claimed) nodes.set(key, hash)
  }
}

/**
 * Whether `node` at `key` is an authenticated node and every later step of the proof names the
 * authenticated sibling at its place: then the proof, followed to the end, reaches the signed root.
 */
function vouches(
  known: Map<number, Buffer>,
  key: number,
  node: Buffer,
  steps: readonly { readonly sibling: number }[],
  path: readonly Buffer[],
  from: number,
): boolean {
  if (known.get(key)?.equals(node) !== true) return false
  for (let j = from; j < steps.length; j++) {
    if (known.get((steps[j] as { sibling: number }).sibling)?.equals(path[j] as Buffer) !== true) return false
  }
  return true
}
