import { createHash, createPrivateKey, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { batchCache } from '../src/batch-cache.js'
import { canonicalize } from '../src/canonical-json.js'
import { MAX_BATCH_PATH, MAX_BATCH_SIZE } from '../src/constants.js'
import { openEnvelope } from '../src/envelope.js'
import type { BatchProof, UnsignedEnvelope } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { jsonBlocks, PROTOCOL_MD } from './doc.js'

interface BatchVector {
  seedHex: string
  peerId: string
  envelopes: UnsignedEnvelope<'task.result'>[]
  digests: string[]
  leafHashesHex: string[]
  rootHex: string
  batchSigningInputHex: string
  sig: string
  batches: BatchProof[]
}

// Read from docs/protocol.md §4.5 and recomputed with node:crypto only, the way another
// implementer would follow the text: the document cannot drift from the code.
const blocks = jsonBlocks(PROTOCOL_MD)
const vector = blocks.find((block) => block.tag === 'batch-vector')?.value as BatchVector
const example = blocks.find((block) => block.tag === 'batch-envelope')?.value
const sha256 = (...parts: Uint8Array[]) => createHash('sha256').update(Buffer.concat(parts)).digest()
const privateKey = createPrivateKey({
  key: Buffer.from(`302e020100300506032b657004220420${vector.seedHex}`, 'hex'),
  format: 'der',
  type: 'pkcs8',
})

describe('the docs/protocol.md batch signature vector', () => {
  it('digests each envelope as a singly signed one is digested', () => {
    vector.envelopes.forEach((envelope, i) => {
      const input = Buffer.from(`p2p-ai/envelope/v1\n${canonicalize(envelope)}`, 'utf8')
      expect(sha256(input).toString('base64url')).toBe(vector.digests[i])
    })
  })

  it('builds the RFC 9162 tree over the digests and signs its root under the batch prefix', () => {
    const leaves = vector.digests.map((digest) => sha256(Buffer.of(0), Buffer.from(digest, 'base64url')))
    expect(leaves.map((leaf) => leaf.toString('hex'))).toEqual(vector.leafHashesHex)
    const [l0, l1, l2] = leaves as [Buffer, Buffer, Buffer]
    // Three leaves: k = 2, so MTH = H(0x01 || H(0x01 || l0 || l1) || l2).
    const left = sha256(Buffer.of(1), l0, l1)
    const root = sha256(Buffer.of(1), left, l2)
    expect(root.toString('hex')).toBe(vector.rootHex)
    const input = Buffer.concat([Buffer.from('p2p-ai/batch/v1\n', 'ascii'), root])
    expect(input.toString('hex')).toBe(vector.batchSigningInputHex)
    expect(sign(null, input, privateKey).toString('base64url')).toBe(vector.sig)
    // The audit paths, nearest sibling first.
    const b64 = (bytes: Buffer) => bytes.toString('base64url')
    expect(vector.batches.map((batch) => batch.path)).toEqual([
      [b64(l1), b64(l2)],
      [b64(l0), b64(l2)],
      [b64(left)],
    ])
    expect(vector.batches.every((batch) => batch.sig === vector.sig && batch.size === 3)).toBe(true)
  })

  it('verifies each envelope with its proof, and the section example is the third one', () => {
    const replays = replayCache()
    const cache = batchCache()
    const now = vector.envelopes[0]?.ts as number
    vector.envelopes.forEach((envelope, i) => {
      const wire = { ...envelope, batch: vector.batches[i] }
      const opened = openEnvelope(wire, {
        replayCache: replays,
        batchCache: cache,
        now,
        expectedSender: vector.peerId,
      })
      expect(opened.digest).toBe(vector.digests[i])
    })
    expect(example).toEqual({ ...vector.envelopes[2], batch: vector.batches[2] })
  })

  it('states the limits the code enforces', () => {
    expect(PROTOCOL_MD).toContain(
      `| \`size\` | integer | envelopes in the batch, 2 to ${MAX_BATCH_SIZE.toLocaleString('en')} |`,
    )
    expect(PROTOCOL_MD).toContain(`1 to ${MAX_BATCH_PATH} node hashes`)
  })
})
