/**
 * The Merkle tree of batch signatures (docs/protocol.md §4.5): RFC 9162 §2.1 exactly, with
 * SHA-256, so that an implementer can take any Certificate Transparency library. A leaf is the
 * 32-byte digest of one envelope; the tree's root is what the batch signature covers, and each
 * envelope carries its inclusion proof (the audit path) to that root.
 */
import { Buffer } from 'node:buffer'
import { hash } from 'node:crypto'

/** RFC 9162 domain separation: leaves and interior nodes can never be mistaken for each other. */
const LEAF_PREFIX = Buffer.of(0x00)
const NODE_PREFIX = Buffer.of(0x01)

/** SHA-256 of the concatenated parts (one-shot: no hash object per call). */
export function sha256(...parts: Uint8Array[]): Buffer {
  return hash('sha256', parts.length === 1 ? (parts[0] as Uint8Array) : Buffer.concat(parts), 'buffer')
}

/** `HASH(0x00 || data)`: the hash of a leaf. */
export function leafHash(data: Uint8Array): Buffer {
  return sha256(LEAF_PREFIX, data)
}

/** `HASH(0x01 || left || right)`: the hash of an interior node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return sha256(NODE_PREFIX, left, right)
}

/** The tree over `leafHashes`: its root, and the audit path of every leaf (bottom first). */
export interface MerkleTree {
  readonly root: Buffer
  readonly paths: readonly (readonly Buffer[])[]
}

/**
 * Builds the RFC 9162 tree (`MTH`) over at least one leaf hash and the inclusion proof (`PATH`)
 * of each leaf, in one pass: n − 1 node hashes in all.
 */
export function merkleTree(leafHashes: readonly Buffer[]): MerkleTree {
  if (leafHashes.length === 0) throw new RangeError('a Merkle tree needs at least one leaf')
  const paths: Buffer[][] = leafHashes.map(() => [])
  const root = subtree(leafHashes, 0, leafHashes.length, paths)
  return { root, paths }
}

function subtree(leaves: readonly Buffer[], lo: number, hi: number, paths: Buffer[][]): Buffer {
  const n = hi - lo
  if (n === 1) return leaves[lo] as Buffer
  // RFC 9162: split at the largest power of two smaller than n.
  const k = 2 ** Math.floor(Math.log2(n - 1))
  const left = subtree(leaves, lo, lo + k, paths)
  const right = subtree(leaves, lo + k, hi, paths)
  // Deeper levels were appended by the recursive calls, so every path stays bottom-first.
  for (let i = lo; i < lo + k; i++) paths[i]?.push(right)
  for (let i = lo + k; i < hi; i++) paths[i]?.push(left)
  return nodeHash(left, right)
}

/**
 * One step of an inclusion proof: the sibling it combines with and the node it computes, each
 * named by {@link nodeKey}. The same key always names the same subtree of a tree of one size, so
 * nodes authenticated while checking one envelope of a batch can vouch for the next.
 */
export interface AuditStep {
  readonly sibling: number
  readonly parent: number
  /** The sibling is the left child: the parent is `HASH(0x01 || sibling || node)`. */
  readonly left: boolean
}

/** Keys a node of a tree by its level (leaves are 0) and its position in that level. */
export function nodeKey(level: number, position: number): number {
  // Positions stay below 2^20 for any tree this protocol allows, so the key stays exact.
  return level * 2 ** 20 + position
}

/**
 * The shape of the inclusion proof of leaf `index` in a tree of `size` leaves (RFC 9162
 * §2.1.3.2, with a right-edge node lifted to the level where it gets a sibling before it is
 * combined rather than after: the same hashes, with coordinates that name real subtrees), or
 * `undefined` when a proof of `length` steps cannot belong to such a tree.
 */
export function auditSteps(index: number, size: number, length: number): AuditStep[] | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return undefined
  }
  const steps: AuditStep[] = []
  let fn = index
  let sn = size - 1
  let level = 0
  for (let i = 0; i < length; i++) {
    if (sn === 0) return undefined
    if (fn === sn) {
      // The last node of its level has no right sibling: it moves up unchanged.
      while (fn % 2 === 0) {
        fn /= 2
        sn /= 2
        level++
      }
    }
    const left = fn % 2 === 1
    steps.push({ sibling: nodeKey(level, left ? fn - 1 : fn + 1), parent: nodeKey(level + 1, fn >> 1), left })
    fn >>= 1
    sn >>= 1
    level++
  }
  return sn === 0 ? steps : undefined
}

/**
 * The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or `undefined` when the path cannot
 * belong to a tree of `size` leaves (too short, too long, or `index` out of range). Comparing the
 * result with a signed root completes the verification.
 */
export function rootFromPath(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
): Buffer | undefined {
  const steps = auditSteps(index, size, path.length)
  if (steps === undefined) return undefined
  let r = Buffer.from(leaf.buffer, leaf.byteOffset, leaf.byteLength)
  steps.forEach((step, i) => {
    const p = path[i] as Uint8Array
    r = step.left ? nodeHash(p, r) : nodeHash(r, p)
  })
  return r
}
