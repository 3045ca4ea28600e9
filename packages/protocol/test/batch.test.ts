import { createHash } from 'node:crypto'
import {
  defaultEd25519,
  type Ed25519Provider,
  generateIdentity,
  type Identity,
  verifySignature,
} from '@p2p-ai/identity'
import { beforeAll, describe, expect, it } from 'vitest'
import { batchCache, batchSigningInput } from '../src/batch-cache.js'
import { MAX_BATCH_SIZE } from '../src/constants.js'
import {
  MAX_SIGNATURE_JSON_BYTES,
  type PreparedEnvelope,
  prepareEnvelope,
  sealEnvelope,
  sealPrepared,
} from '../src/envelope.js'
import { sealForward } from '../src/forward.js'
import { auditSteps, leafHash, merkleTree, nodeHash, nodeKey, rootFromPath } from '../src/merkle.js'
import type { Envelope, TaskResult } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { assertResultMatches, createTaskRequest } from '../src/task.js'
import { NOW, open } from './helpers.js'

let alice: Identity
let mallory: Identity

beforeAll(() => {
  alice = generateIdentity()
  mallory = generateIdentity()
})

const sha256 = (...parts: Uint8Array[]) => createHash('sha256').update(Buffer.concat(parts)).digest()

/** RFC 9162 §2.1.1 MTH, written out as the RFC states it, independently of src/merkle.ts. */
function referenceRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 1) return leaves[0] as Buffer
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return sha256(Buffer.of(1), referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)))
}

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)))

function results(n: number, signer = alice): PreparedEnvelope<'task.result'>[] {
  return Array.from({ length: n }, (_, i) =>
    prepareEnvelope(
      signer,
      'task.result',
      {
        id: `task-${String(i).padStart(4, '0')}`,
        requestHash: createHash('sha256').update(`request ${i}`).digest('base64url'),
        status: 'completed',
        output: { echo: i },
        timings: { queuedMs: 0, runMs: 0.1, totalMs: 0.2 },
      } satisfies TaskResult,
      { now: NOW },
    ),
  )
}

/** A sealed envelope as a receiver's decoder yields it: parsed from the JSON on the wire. */
const wire = (json: string) => JSON.parse(json) as Envelope

/** The default Ed25519, counting its verifications. */
function countingCrypto(): { crypto: Ed25519Provider; verifies: () => number } {
  const real = defaultEd25519()
  let verifies = 0
  const crypto: Ed25519Provider = {
    ...real,
    verify: (publicKey, data, signature) => {
      verifies++
      return real.verify(publicKey, data, signature)
    },
  }
  return { crypto, verifies: () => verifies }
}

describe('the batch Merkle tree (RFC 9162)', () => {
  it('has the root RFC 9162 defines, for every size from 1 to 70', () => {
    for (let n = 1; n <= 70; n++) {
      expect(merkleTree(leaves(n)).root.equals(referenceRoot(leaves(n)))).toBe(true)
    }
  })

  it('gives every leaf a path that leads back to the root, and no other leaf or place does', () => {
    for (const n of [2, 3, 5, 7, 8, 13, 64, 100]) {
      const hashes = leaves(n)
      const tree = merkleTree(hashes)
      hashes.forEach((leaf, index) => {
        const path = tree.paths[index] ?? []
        expect(path.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)))
        expect(rootFromPath(leaf, index, n, path)?.equals(tree.root)).toBe(true)
        const other = hashes[(index + 1) % n] as Buffer
        expect(rootFromPath(other, index, n, path)?.equals(tree.root) ?? false).toBe(false)
        expect(rootFromPath(leaf, (index + 1) % n, n, path)?.equals(tree.root) ?? false).toBe(false)
      })
    }
  })

  it('names every node the same way from every leaf: one key, one subtree', () => {
    for (let n = 1; n <= 70; n++) {
      const hashes = leaves(n)
      const tree = merkleTree(hashes)
      const seen = new Map<number, string>()
      hashes.forEach((leaf, index) => {
        const path = tree.paths[index] ?? []
        const steps = auditSteps(index, n, path.length)
        expect(steps).toBeDefined()
        let r = leaf
        const note = (key: number, hash: Buffer) => {
          const hex = hash.toString('hex')
          expect(seen.get(key) ?? hex, `n=${n} key=${key}`).toBe(hex)
          seen.set(key, hex)
        }
        note(nodeKey(0, index), r)
        steps?.forEach((step, i) => {
          const p = path[i] as Buffer
          note(step.sibling, p)
          r = step.left ? nodeHash(p, r) : nodeHash(r, p)
          note(step.parent, r)
        })
        expect(r.equals(tree.root)).toBe(true)
      })
    }
  })

  it('refuses paths that cannot belong to the tree size', () => {
    const tree = merkleTree(leaves(5))
    const leaf = leaves(5)[4] as Buffer
    expect(rootFromPath(leaf, 5, 5, tree.paths[4] ?? [])).toBeUndefined()
    expect(rootFromPath(leaf, 4, 5, [...(tree.paths[4] ?? []), tree.root])).toBeUndefined()
    expect(rootFromPath(leaf, 0, 5, [])).toBeUndefined()
  })

  it('keeps leaves and interior nodes apart', () => {
    const [a, b] = leaves(2) as [Buffer, Buffer]
    expect(nodeHash(a, b).equals(sha256(Buffer.of(1), a, b))).toBe(true)
    expect(leafHash(a).equals(sha256(Buffer.of(0), a))).toBe(true)
  })
})

describe('sealPrepared', () => {
  it('signs a single envelope on its own, exactly as sealEnvelope does', () => {
    const [prepared] = results(1)
    const [signed] = sealPrepared(alice, [prepared as PreparedEnvelope<'task.result'>])
    expect(signed?.envelope.sig).toMatch(/^[A-Za-z0-9_-]{86}$/)
    expect(signed?.envelope.batch).toBeUndefined()
    expect(signed?.digest).toBe(prepared?.digest)
    expect(open(wire(signed?.json as string)).digest).toBe(prepared?.digest)
  })

  it('signs a batch once: each envelope carries its proof and opens on its own, with its digest', () => {
    const prepared = results(37)
    const signed = sealPrepared(alice, prepared)
    const sigs = new Set(signed.map((s) => s.envelope.batch?.sig))
    expect(sigs.size).toBe(1)
    const cache = replayCache()
    signed.forEach((s, index) => {
      expect(s.envelope.sig).toBeUndefined()
      expect(s.envelope.batch).toMatchObject({ size: 37, index })
      expect(s.digest).toBe(prepared[index]?.digest)
      // No batch cache: every envelope verifies the batch signature itself.
      const opened = open(wire(s.json), { replayCache: cache, expectedSender: alice.peerId })
      expect(opened.digest).toBe(prepared[index]?.digest)
      expect(opened.envelope.payload).toEqual(prepared[index]?.unsigned.payload)
    })
  })

  it('signs the batch root under its own prefix', () => {
    const signed = sealPrepared(alice, results(4))
    const tree = merkleTree(signed.map((s) => leafHash(Buffer.from(s.digest, 'base64url'))))
    const sig = Buffer.from(signed[0]?.envelope.batch?.sig as string, 'base64url')
    expect(Buffer.from(batchSigningInput(tree.root)).toString('latin1')).toBe(
      `p2p-ai/batch/v1\n${tree.root.toString('latin1')}`,
    )
    expect(verifySignature(alice.publicKey, batchSigningInput(tree.root), sig)).toBe(true)
  })

  it('refuses envelopes prepared for another signer, and batches over the limit', () => {
    expect(() => sealPrepared(mallory, results(2))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    )
    expect(() => sealPrepared(alice, results(MAX_BATCH_SIZE + 1))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    )
    expect(sealPrepared(alice, results(MAX_BATCH_SIZE))).toHaveLength(MAX_BATCH_SIZE)
  })
})

describe('opening batch-signed envelopes', () => {
  it('verifies the batch signature once per batch with a batch cache', () => {
    const { crypto, verifies } = countingCrypto()
    const cache = batchCache()
    const replays = replayCache()
    for (const s of sealPrepared(alice, results(64))) {
      open(wire(s.json), { crypto, batchCache: cache, replayCache: replays })
    }
    expect(verifies()).toBe(1)
    for (const s of sealPrepared(alice, results(3))) {
      open(wire(s.json), { crypto, batchCache: cache, replayCache: replays })
    }
    expect(verifies()).toBe(2)
  })

  it('catches a changed payload even after the batch signature was verified and cached', () => {
    const cache = batchCache()
    const replays = replayCache()
    const [first, second] = sealPrepared(alice, results(2))
    open(wire(first?.json as string), { batchCache: cache, replayCache: replays })
    const forged = wire(second?.json as string) as Envelope<'task.result'>
    ;(forged.payload as { output: unknown }).output = { echo: 'forged' }
    expect(() => open(forged, { batchCache: cache, replayCache: replays })).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }),
    )
  })

  it('refuses a batch signature by another key, a wrong proof, and a proof of the wrong shape', () => {
    const [genuine] = sealPrepared(alice, results(3))
    const [other] = sealPrepared(mallory, results(3, mallory))
    const stolen = wire(genuine?.json as string) as Envelope & { batch: { sig: string } }
    stolen.batch.sig = other?.envelope.batch?.sig as string
    expect(() => open(stolen)).toThrow(expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }))

    const swapped = wire(genuine?.json as string) as Envelope & { batch: { index: number } }
    swapped.batch.index = 1
    expect(() => open(swapped)).toThrow(expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }))

    const short = wire(genuine?.json as string) as Envelope & { batch: { path: string[] } }
    short.batch.path = short.batch.path.slice(0, 1)
    expect(() => open(short)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'batch.path' }),
    )

    const outOfRange = wire(genuine?.json as string) as Envelope & { batch: { index: number } }
    outOfRange.batch.index = 3
    expect(() => open(outOfRange)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_MESSAGE' }))
  })

  it('wants exactly one of sig and batch', () => {
    const [genuine] = sealPrepared(alice, results(2))
    const single = sealEnvelope(alice, 'task.result', results(1)[0]?.unsigned.payload as TaskResult, {
      now: NOW,
    })
    const both = { ...wire(genuine?.json as string), sig: single.envelope.sig }
    expect(() => open(both)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'sig' }))
    const { batch: _, ...neither } = wire(genuine?.json as string) as Record<string, unknown>
    expect(() => open(neither)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'sig' }))
  })

  it('accepts a whole batch in any order through the cache, and still refuses a proof that only its start matches', () => {
    const cache = batchCache()
    const replays = replayCache()
    const { crypto, verifies } = countingCrypto()
    const signed = sealPrepared(alice, results(100))
    const order = signed.map((_, i) => (i * 37) % 100)
    const [first, second, ...rest] = order
    open(wire(signed[first as number]?.json as string), { batchCache: cache, replayCache: replays, crypto })
    // Same leaf position as a genuine envelope, genuine first steps, a forged step further up: a
    // fresh verifier would refuse it, so the cache must not vouch for it either.
    const forged = wire(signed[second as number]?.json as string) as Envelope & { batch: { path: string[] } }
    const top = forged.batch.path.length - 1
    forged.batch.path[top] = createHash('sha256').update('not a node').digest('base64url')
    expect(() => open(forged, { batchCache: cache, replayCache: replays, crypto })).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }),
    )
    for (const i of [second, ...rest]) {
      open(wire(signed[i as number]?.json as string), { batchCache: cache, replayCache: replays, crypto })
    }
    // One check for the batch, one for the forgery that led elsewhere.
    expect(verifies()).toBe(2)
  })

  it('still refuses a replayed envelope of a batch', () => {
    const replays = replayCache()
    const cache = batchCache()
    const [first] = sealPrepared(alice, results(2))
    open(wire(first?.json as string), { replayCache: replays, batchCache: cache })
    expect(() => open(wire(first?.json as string), { replayCache: replays, batchCache: cache })).toThrow(
      expect.objectContaining({ code: 'ERR_REPLAYED_NONCE' }),
    )
  })

  it('forgets the oldest batches beyond its capacity', () => {
    const cache = batchCache({ maxEntries: 2 })
    const roots = [1, 2, 3].map((i) => sha256(Buffer.from(`root ${i}`)))
    for (const root of roots) cache.add(alice.peerId, root, 'sig')
    expect(cache.size).toBe(2)
    expect(cache.has(alice.peerId, roots[0] as Buffer, 'sig')).toBe(false)
    expect(cache.has(alice.peerId, roots[2] as Buffer, 'sig')).toBe(true)
    expect(cache.has(mallory.peerId, roots[2] as Buffer, 'sig')).toBe(false)
    expect(() => batchCache({ maxEntries: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_OPTION' }),
    )
  })
})

describe('forwarding', () => {
  it('refuses to forward a batch-signed request: relays carry requests signed on their own', () => {
    const requests = [1, 2].map(() =>
      prepareEnvelope(
        alice,
        'task.request',
        createTaskRequest({ requester: alice.peerId, taskType: 'mock', input: {} }),
        {
          now: NOW,
        },
      ),
    )
    const [batched] = sealPrepared(alice, requests)
    expect(() =>
      sealForward(mallory, batched?.envelope as Envelope<'task.request'>, 3, [alice.peerId]),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'payload.request.sig' }))
  })
})

describe('prepared envelopes', () => {
  it('know their digest and size before they are signed, and a signature stays within the documented bound', () => {
    const [prepared] = results(1)
    const single = sealPrepared(alice, [prepared as PreparedEnvelope<'task.result'>])[0]
    expect(Buffer.byteLength(single?.json as string)).toBeLessThanOrEqual(
      (prepared?.byteLength as number) + MAX_SIGNATURE_JSON_BYTES,
    )
    const batch = sealPrepared(alice, results(MAX_BATCH_SIZE))
    for (const s of batch) {
      expect(s.envelope.batch?.path.length).toBeLessThanOrEqual(10)
      const { batch: _, ...unsigned } = s.envelope
      expect(Buffer.byteLength(s.json) - Buffer.byteLength(JSON.stringify(unsigned))).toBeLessThanOrEqual(
        MAX_SIGNATURE_JSON_BYTES,
      )
    }
  })

  it('are what a result is checked against, like the signed request', () => {
    const request = prepareEnvelope(
      alice,
      'task.request',
      createTaskRequest({ requester: alice.peerId, taskType: 'mock', input: {} }),
    )
    const answer = { id: request.unsigned.payload.id, requestHash: request.digest } as TaskResult
    expect(() => assertResultMatches(request, answer)).not.toThrow()
    const [signed] = sealPrepared(alice, [request])
    expect(signed?.digest).toBe(request.digest)
    expect(() => assertResultMatches(request, { ...answer, requestHash: 'x'.repeat(43) })).toThrow(
      expect.objectContaining({ code: 'ERR_RESULT_MISMATCH' }),
    )
  })
})
