import { createHash, createPrivateKey, sign } from 'node:crypto'
import { identityFromSeed } from '@p2p-ai/identity'
import { describe, expect, it } from 'vitest'
import { canonicalize } from '../src/canonical-json.js'
import { MAX_DELTA_LENGTH } from '../src/constants.js'
import type { ControlMessage } from '../src/control.js'
import { encodeControl, validateControl } from '../src/control.js'
import { openEnvelope } from '../src/envelope.js'
import { validatePayload } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { streamedTextOf } from '../src/stream.js'
import { assertResultMatches } from '../src/task.js'
import { jsonBlocks, PROTOCOL_MD } from './doc.js'

interface StreamVector {
  requesterSeedHex: string
  providerSeedHex: string
  providerPeerId: string
  request: Record<string, unknown> & { sig: string; from: string; ts: number }
  requestDigest: string
  progress: ControlMessage<'task.progress'>[]
  firstProgressFrameHex: string
  result: Record<string, unknown> & {
    sig: string
    from: string
    ts: number
    payload: { requestHash: string; output: unknown }
  }
}

// Read from docs/protocol.md §2.6 and checked with node:crypto, as another implementer would.
const vector = jsonBlocks(PROTOCOL_MD).find((block) => block.tag === 'stream-vector')?.value as StreamVector
const key = (seedHex: string) =>
  createPrivateKey({
    key: Buffer.from(`302e020100300506032b657004220420${seedHex}`, 'hex'),
    format: 'der',
    type: 'pkcs8',
  })
const signingInput = (envelope: Record<string, unknown>) => {
  const { sig: _, ...unsigned } = envelope
  return Buffer.from(`p2p-ai/envelope/v1\n${canonicalize(unsigned as never)}`, 'utf8')
}

describe('the docs/protocol.md streamed output vector (minor 3)', () => {
  it('signs the request with the requester key and the result with the provider key', () => {
    expect(identityFromSeed(Buffer.from(vector.providerSeedHex, 'hex')).peerId).toBe(vector.providerPeerId)
    expect(vector.result.from).toBe(vector.providerPeerId)
    for (const [envelope, seed] of [
      [vector.request, vector.requesterSeedHex],
      [vector.result, vector.providerSeedHex],
    ] as const) {
      expect(sign(null, signingInput(envelope), key(seed)).toString('base64url')).toBe(envelope.sig)
    }
    const digest = createHash('sha256').update(signingInput(vector.request)).digest('base64url')
    expect(digest).toBe(vector.requestDigest)
  })

  it('has a result that answers the request and verifies as the provider’s', () => {
    const options = { replayCache: replayCache(), now: vector.result.ts }
    const request = openEnvelope(vector.request, { ...options, expectedSender: vector.request.from })
    const result = openEnvelope(vector.result, { ...options, expectedSender: vector.providerPeerId })
    expect(request.digest).toBe(vector.requestDigest)
    expect(result.envelope.type).toBe('task.result')
    expect(() => assertResultMatches(request as never, result.envelope.payload as never)).not.toThrow()
  })

  it('streams deltas that are valid control messages and concatenate to the signed text', () => {
    for (const message of vector.progress) expect(() => validateControl(message)).not.toThrow()
    const streamed = vector.progress.map((m) => m.payload.delta).join('')
    expect(streamed).toBe(streamedTextOf(vector.result.payload.output))
    expect(streamed).toBe('Hello! How can I help you?')
    const first = vector.progress[0] as ControlMessage<'task.progress'>
    expect(Buffer.from(encodeControl('task.progress', first.payload)).toString('hex')).toBe(
      vector.firstProgressFrameHex,
    )
  })
})

describe('task.progress delta', () => {
  const id = '5f3c1a9e-7b2d-4e8f-a6c4-1d9b0e2f7a53'

  it('is 1 to MAX_DELTA_LENGTH UTF-16 code units, never empty', () => {
    expect(() => validatePayload('task.progress', { id, progress: 0, delta: 'x' })).not.toThrow()
    expect(() =>
      validatePayload('task.progress', { id, progress: 0, delta: 'x'.repeat(MAX_DELTA_LENGTH) }),
    ).not.toThrow()
    expect(() => validatePayload('task.progress', { id, progress: 0, delta: '' })).toThrow(/payload.delta/)
    expect(() =>
      validatePayload('task.progress', { id, progress: 0, delta: 'x'.repeat(MAX_DELTA_LENGTH + 1) }),
    ).toThrow(/payload.delta/)
  })

  it('ties text to `output.text` only: other outputs stream nothing', () => {
    expect(streamedTextOf({ text: 'hi', finishReason: 'stop' })).toBe('hi')
    expect(streamedTextOf('hi')).toBeUndefined()
    expect(streamedTextOf({ text: 3 })).toBeUndefined()
    expect(streamedTextOf(null)).toBeUndefined()
    expect(streamedTextOf([{ text: 'hi' }])).toBeUndefined()
  })
})
