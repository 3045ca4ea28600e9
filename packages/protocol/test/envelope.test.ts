import { createHash } from 'node:crypto'
import { type Ed25519Provider, generateIdentity, type Identity, verifySignature } from '@p2p-ai/identity'
import { beforeAll, describe, expect, it } from 'vitest'
import { encodeFrame, encodeJsonFrame } from '../src/codec.js'
import { DEFAULT_MAX_SKEW_MS } from '../src/constants.js'
import { digestOf, sealEnvelope, signingInput } from '../src/envelope.js'
import { InvalidMessageError, InvalidOptionError, SignerMismatchError } from '../src/errors.js'
import { type Envelope, MESSAGE_TYPES, type TaskResult } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { assertResultMatches } from '../src/task.js'
import { samplePayloads } from './fixtures/samples.js'
import { collect, NOW, open } from './helpers.js'

let alice: Identity
let mallory: Identity

beforeAll(() => {
  alice = generateIdentity()
  mallory = generateIdentity()
})

function expectCode(run: () => unknown, code: string): void {
  expect(run).toThrow(expect.objectContaining({ code }))
}

/** A request sealed by alice at NOW, as a fresh plain object (what a decoder would yield). */
function aliceRequest(overrides: Partial<Record<keyof Envelope, unknown>> = {}) {
  const sealed = sealEnvelope(alice, 'task.request', samplePayloads(alice.peerId)['task.request'], {
    now: NOW,
  })
  return { sealed, value: { ...structuredClone(sealed.envelope), ...overrides } as Record<string, unknown> }
}

describe('sealEnvelope and openEnvelope', () => {
  it.each(MESSAGE_TYPES)('round-trip a %s through a frame', async (type) => {
    const payload = samplePayloads(alice.peerId)[type]
    const sealed = sealEnvelope(alice, type, payload, { now: NOW })
    expect(sealed.envelope).toMatchObject({ v: 1, type, from: alice.peerId, ts: NOW, payload })
    expect(sealed.envelope.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(sealed.envelope.sig).toMatch(/^[A-Za-z0-9_-]{86}$/)
    const frames = await collect([encodeFrame(sealed.envelope)])
    expect(frames).toHaveLength(1)
    const frame = frames[0]
    if (frame?.ok !== true) {
      throw new Error('frame did not decode')
    }
    const opened = open(frame.value, { expectedSender: alice.peerId })
    expect(opened.envelope).toEqual(sealed.envelope)
    expect(opened.envelope.type).toBe(type)
    expect(opened.digest).toBe(sealed.digest)
    expect(opened.digest).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('signs what signingInput returns, with a fresh nonce each time', () => {
    const { sealed } = aliceRequest()
    const { sig, ...unsigned } = sealed.envelope
    expect(verifySignature(alice.publicKey, signingInput(unsigned), Buffer.from(sig, 'base64url'))).toBe(true)
    expect(aliceRequest().sealed.envelope.nonce).not.toBe(sealed.envelope.nonce)
  })

  it('offers the envelope as ready-to-frame JSON, for sending and forwarding without re-serializing', async () => {
    const { sealed } = aliceRequest()
    expect(JSON.parse(sealed.json)).toEqual(sealed.envelope)
    const [frame] = await collect([encodeJsonFrame(sealed.json)])
    if (frame?.ok !== true) {
      throw new Error('frame did not decode')
    }
    const opened = open(frame.value)
    expect(JSON.parse(opened.json)).toEqual(sealed.envelope)
    expect(opened.json).toBe(sealed.json)
  })

  it('digests the signing input with SHA-256', () => {
    const { sealed } = aliceRequest()
    const { sig: _, ...unsigned } = sealed.envelope
    expect(sealed.digest).toBe(digestOf(signingInput(unsigned)))
    expect(sealed.digest).toBe(createHash('sha256').update(signingInput(unsigned)).digest('base64url'))
  })

  it('draws a distinct nonce for every envelope, across refills of the entropy pool', () => {
    const nonces = new Set<string>()
    for (let i = 0; i < 600; i++) {
      const { nonce } = sealEnvelope(alice, 'goodbye', {}, { now: NOW }).envelope
      expect(nonce).toMatch(/^[A-Za-z0-9_-]{21}[AQgw]$/)
      nonces.add(nonce)
    }
    expect(nonces.size).toBe(600)
  })

  it('refuses to seal invalid payloads or a request for someone else', () => {
    const request = samplePayloads(alice.peerId)['task.request']
    expect(() => sealEnvelope(alice, 'task.request', { ...request, priority: 11 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'payload.priority' }),
    )
    expect(() => sealEnvelope(mallory, 'task.request', request)).toThrow(SignerMismatchError)
    expect(() => sealEnvelope(alice, 'task.request', { ...request, input: { text: 'lone \uD800' } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'payload.input.text' }),
    )
    expect(() => sealEnvelope(alice, 'goodbye', {}, { nonce: new Uint8Array(15) })).toThrow(
      InvalidOptionError,
    )
    expect(() => sealEnvelope(alice, 'goodbye', {}, { now: -1 })).toThrow(InvalidOptionError)
  })
})

describe('openEnvelope refuses', () => {
  it('a forged signature (ERR_BAD_SIGNATURE)', () => {
    const { value } = aliceRequest()
    const sig = value.sig as string
    const flipped = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`
    expectCode(() => open({ ...value, sig: flipped }), 'ERR_BAD_SIGNATURE')
  })

  it('a payload changed after signing (ERR_BAD_SIGNATURE)', () => {
    const { value } = aliceRequest()
    const payload = { ...(value.payload as object), priority: 9 }
    expectCode(() => open({ ...value, payload }), 'ERR_BAD_SIGNATURE')
    expectCode(() => open({ ...value, ts: NOW + 1 }), 'ERR_BAD_SIGNATURE')
  })

  it("a message signed by one key that claims another's PeerId (ERR_BAD_SIGNATURE)", () => {
    const forged = sealEnvelope(mallory, 'goodbye', {}, { now: NOW })
    expectCode(() => open({ ...forged.envelope, from: alice.peerId }), 'ERR_BAD_SIGNATURE')
  })

  it('a sender other than the connection peer (ERR_SIGNER_MISMATCH)', () => {
    const sealed = sealEnvelope(mallory, 'capabilities', samplePayloads().capabilities, { now: NOW })
    expectCode(() => open(sealed.envelope, { expectedSender: alice.peerId }), 'ERR_SIGNER_MISMATCH')
    expect(open(sealed.envelope, { expectedSender: mallory.peerId }).envelope.from).toBe(mallory.peerId)
  })

  it('a request whose requester is not its signer (ERR_SIGNER_MISMATCH)', () => {
    // Mallory signs a request in alice's name, building the envelope by hand.
    const payload = samplePayloads(alice.peerId)['task.request']
    const unsigned = {
      v: 1 as const,
      type: 'task.request' as const,
      from: mallory.peerId,
      ts: NOW,
      nonce: 'AAECAwQFBgcICQoLDA0ODw',
      payload,
    }
    const sig = Buffer.from(mallory.sign(signingInput(unsigned))).toString('base64url')
    expectCode(() => open({ ...unsigned, sig }), 'ERR_SIGNER_MISMATCH')
  })

  it('timestamps outside the skew window (ERR_STALE_MESSAGE), both ways', () => {
    const { value } = aliceRequest()
    expectCode(() => open(value, { now: NOW + DEFAULT_MAX_SKEW_MS + 1 }), 'ERR_STALE_MESSAGE')
    expectCode(() => open(value, { now: NOW - DEFAULT_MAX_SKEW_MS - 1 }), 'ERR_STALE_MESSAGE')
    expectCode(() => open(value, { now: NOW + 1_001, maxSkewMs: 1_000 }), 'ERR_STALE_MESSAGE')
    expect(() => open(value, { now: NOW + DEFAULT_MAX_SKEW_MS })).not.toThrow()
    expect(() => open(value, { now: NOW - 1_000, maxSkewMs: 1_000 })).not.toThrow()
  })

  it('a replayed nonce (ERR_REPLAYED_NONCE), on any connection sharing the cache', () => {
    const cache = replayCache()
    const { value } = aliceRequest()
    open(value, { replayCache: cache, expectedSender: alice.peerId })
    expectCode(
      () => open(structuredClone(value), { replayCache: cache, now: NOW + 10 }),
      'ERR_REPLAYED_NONCE',
    )
    // A new message from the same sender is fine.
    expect(() => open(aliceRequest().value, { replayCache: cache })).not.toThrow()
  })

  it('a message older than a full replay cache remembers (ERR_STALE_MESSAGE)', () => {
    const cache = replayCache({ maxEntries: 1 })
    const early = sealEnvelope(alice, 'goodbye', {}, { now: NOW - 10 })
    const later = sealEnvelope(alice, 'goodbye', {}, { now: NOW })
    open(early.envelope, { replayCache: cache })
    open(later.envelope, { replayCache: cache }) // evicts `early`, raising the watermark to NOW - 10
    expectCode(() => open(early.envelope, { replayCache: cache }), 'ERR_STALE_MESSAGE')
    const stragglerFrom10msAgo = sealEnvelope(alice, 'goodbye', {}, { now: NOW - 10 })
    expectCode(() => open(stragglerFrom10msAgo.envelope, { replayCache: cache }), 'ERR_STALE_MESSAGE')
  })

  it('does not remember the nonce of a message that failed verification', () => {
    const cache = replayCache()
    const { value } = aliceRequest()
    // Same nonce, tampered timestamp: refused, and the nonce must stay usable by the real message.
    expectCode(() => open({ ...value, ts: NOW + 1 }, { replayCache: cache }), 'ERR_BAD_SIGNATURE')
    expect(cache.size).toBe(0)
    expect(() => open(value, { replayCache: cache })).not.toThrow()
  })

  it('other major versions and malformed envelopes, with the field', () => {
    const { value } = aliceRequest()
    expectCode(() => open({ ...value, v: 2 }), 'ERR_UNSUPPORTED_VERSION')
    expect(() => open({ ...value, payload: { ...(value.payload as object), extra: 1 } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'payload.extra' }),
    )
    expect(() => open('not an envelope')).toThrow(InvalidMessageError)
  })

  it('values that cannot be canonicalized, naming them', () => {
    // What a decoder yields for {"input":{"x":1e400}} and for "\ud800": not I-JSON.
    const { value } = aliceRequest()
    const payload = value.payload as Record<string, unknown>
    for (const input of [JSON.parse('{"x":1e400}'), JSON.parse('{"x":["\\ud800"]}')]) {
      expect(() => open({ ...value, payload: { ...payload, input } })).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_MESSAGE',
          path: expect.stringMatching(/^payload\.input\.x/),
        }),
      )
    }
    let deep: unknown = 0
    for (let i = 0; i < 70; i++) {
      deep = [deep]
    }
    expectCode(() => open({ ...value, payload: { ...payload, input: { deep } } }), 'ERR_INVALID_MESSAGE')
  })

  it('a from that looks like a PeerId but does not hold an Ed25519 key', () => {
    const { value } = aliceRequest()
    const fake = `12D3KooW${'1'.repeat(44)}`
    const payload = { ...(value.payload as object), requester: fake }
    expect(() => open({ ...value, from: fake, payload })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'from' }),
    )
  })

  it('bad options', () => {
    const { value } = aliceRequest()
    expect(() => open(value, { maxSkewMs: -1 })).toThrow(InvalidOptionError)
    expect(() => open(value, { now: Number.NaN })).toThrow(InvalidOptionError)
  })
})

describe('openEnvelope options', () => {
  it('verifies with the Ed25519 provider it is given', () => {
    const calls: string[] = []
    const spy: Ed25519Provider = {
      name: 'node',
      generateSeed: () => new Uint8Array(32),
      publicKeyFromSeed: () => new Uint8Array(32),
      sign: () => new Uint8Array(64),
      verify: (publicKey, data, signature) => {
        calls.push('verify')
        return verifySignature(publicKey, data, signature)
      },
    }
    expect(() => open(aliceRequest().value, { crypto: spy })).not.toThrow()
    expect(calls).toEqual(['verify'])
  })
})

describe('assertResultMatches', () => {
  it('accepts the result of this request and refuses any other', () => {
    const { sealed } = aliceRequest()
    const base = samplePayloads()['task.result']
    const result: TaskResult = { ...base, id: sealed.envelope.payload.id, requestHash: sealed.digest }
    expect(() => assertResultMatches(sealed, result)).not.toThrow()
    const other = aliceRequest().sealed
    expectCode(() => assertResultMatches(other, result), 'ERR_RESULT_MISMATCH')
    expectCode(() => assertResultMatches(sealed, { ...result, id: 'another-task-id' }), 'ERR_RESULT_MISMATCH')
  })
})
