import { generateIdentity, type Identity } from '@p2p-ai/identity'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_FORWARD_HOPS } from '../src/constants.js'
import { sealEnvelope } from '../src/envelope.js'
import { ForwardLoopError } from '../src/errors.js'
import { openForward, sealForward } from '../src/forward.js'
import { type Capabilities, validatePayload } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { assertResultMatches, createTaskRequest } from '../src/task.js'
import { samplePayloads } from './fixtures/samples.js'

let alice: Identity
let relay: Identity
let bob: Identity
let carol: Identity

beforeAll(() => {
  ;[alice, relay, bob, carol] = [
    generateIdentity(),
    generateIdentity(),
    generateIdentity(),
    generateIdentity(),
  ]
})

/** JSON in, JSON out: what the next hop's frame decoder yields. */
const wire = (json: string): unknown => JSON.parse(json)

function aliceRequest() {
  return sealEnvelope(
    alice,
    'task.request',
    createTaskRequest({ requester: alice.peerId, taskType: 'chunk', input: { text: 'hello' } }),
  )
}

function expectCode(run: () => unknown, code: string): void {
  expect(run).toThrow(expect.objectContaining({ code }))
}

describe('task.forward (minor 1)', () => {
  it('carries the signed request unchanged over two relays; the result binds to its digest', () => {
    const request = aliceRequest()
    const first = sealForward(alice, request.envelope, MAX_FORWARD_HOPS - 1, [])
    expect(first.envelope.payload.route).toEqual([alice.peerId])

    const atRelay = openForward(wire(first.json), {
      replayCache: replayCache(),
      expectedSender: alice.peerId,
      receiver: relay.peerId,
    })
    expect(atRelay.request.digest).toBe(request.digest)
    expect(atRelay.ttl).toBe(MAX_FORWARD_HOPS - 1)

    const second = sealForward(relay, atRelay.request.envelope, atRelay.ttl - 1, atRelay.route)
    const atBob = openForward(wire(second.json), {
      replayCache: replayCache(),
      expectedSender: relay.peerId,
      receiver: bob.peerId,
    })
    expect(atBob.route).toEqual([alice.peerId, relay.peerId])
    expect(atBob.ttl).toBe(MAX_FORWARD_HOPS - 2)
    expect(atBob.request.envelope.payload).toEqual(request.envelope.payload)

    // Bob answers as for a direct request: the result quotes the digest of alice's request.
    const result = sealEnvelope(bob, 'task.result', {
      id: request.envelope.payload.id,
      requestHash: atBob.request.digest,
      status: 'completed',
      output: { chunks: [] },
      timings: { queuedMs: 0, runMs: 1, totalMs: 1 },
    })
    expect(() => assertResultMatches(request, result.envelope.payload)).not.toThrow()
  })

  it('refuses a request a relay changed (the requester signed it, not the relay)', () => {
    const request = aliceRequest()
    const changed = structuredClone(request.envelope)
    changed.payload.input = { text: 'something else' }
    const forward = sealForward(relay, changed, 5, [alice.peerId])
    expectCode(
      () => openForward(wire(forward.json), { replayCache: replayCache(), receiver: bob.peerId }),
      'ERR_BAD_SIGNATURE',
    )
  })

  it('refuses a route that does not end with the signer or start with the requester', () => {
    const request = aliceRequest()
    const notEndingWithSigner = sealEnvelope(relay, 'task.forward', {
      request: request.envelope,
      ttl: 3,
      route: [alice.peerId, carol.peerId],
    })
    expectCode(
      () => openForward(wire(notEndingWithSigner.json), { replayCache: replayCache(), receiver: bob.peerId }),
      'ERR_SIGNER_MISMATCH',
    )
    const notStartingWithRequester = sealForward(relay, request.envelope, 3, [carol.peerId])
    expectCode(
      () =>
        openForward(wire(notStartingWithRequester.json), {
          replayCache: replayCache(),
          receiver: bob.peerId,
        }),
      'ERR_SIGNER_MISMATCH',
    )
  })

  it('refuses a forward that came back to a node on its route, before opening the request', () => {
    const request = aliceRequest()
    const forward = sealForward(relay, request.envelope, 3, [alice.peerId])
    const cache = replayCache()
    expect(() => openForward(wire(forward.json), { replayCache: cache, receiver: alice.peerId })).toThrow(
      ForwardLoopError,
    )
    // The request's nonce was not spent on the loop: the same request, wrapped anew, still opens.
    const rewrapped = sealForward(relay, request.envelope, 3, [alice.peerId])
    expect(() =>
      openForward(wire(rewrapped.json), { replayCache: cache, receiver: bob.peerId }),
    ).not.toThrow()
  })

  it('refuses the wrapper from anyone but the connection peer, and replays of the request', () => {
    const request = aliceRequest()
    const forward = sealForward(relay, request.envelope, 3, [alice.peerId])
    expectCode(
      () =>
        openForward(wire(forward.json), {
          replayCache: replayCache(),
          receiver: bob.peerId,
          expectedSender: carol.peerId,
        }),
      'ERR_SIGNER_MISMATCH',
    )
    const cache = replayCache()
    openForward(wire(forward.json), { replayCache: cache, receiver: bob.peerId })
    // Same request inside a fresh wrapper: the request's nonce was seen.
    const again = sealForward(relay, request.envelope, 3, [alice.peerId])
    expectCode(
      () => openForward(wire(again.json), { replayCache: cache, receiver: bob.peerId }),
      'ERR_REPLAYED_NONCE',
    )
  })

  it('bounds ttl and route, and refuses duplicate peers on the route', () => {
    const payload = samplePayloads()['task.forward']
    expect(() => validatePayload('task.forward', payload)).not.toThrow()
    expectCode(
      () => validatePayload('task.forward', { ...payload, ttl: MAX_FORWARD_HOPS }),
      'ERR_INVALID_MESSAGE',
    )
    expectCode(() => validatePayload('task.forward', { ...payload, ttl: -1 }), 'ERR_INVALID_MESSAGE')
    expectCode(() => validatePayload('task.forward', { ...payload, route: [] }), 'ERR_INVALID_MESSAGE')
    const [first] = payload.route
    expectCode(
      () => validatePayload('task.forward', { ...payload, route: [first, first] }),
      'ERR_INVALID_MESSAGE',
    )
    expectCode(
      () =>
        validatePayload('task.forward', {
          ...payload,
          route: Array.from({ length: MAX_FORWARD_HOPS + 1 }, () => generateIdentity().peerId),
        }),
      'ERR_INVALID_MESSAGE',
    )
    expectCode(
      () =>
        validatePayload('task.forward', { ...payload, request: { ...payload.request, type: 'task.result' } }),
      'ERR_INVALID_MESSAGE',
    )
  })
})

describe('capabilities.reach (minor 1)', () => {
  const base: Capabilities = samplePayloads().capabilities

  it('is optional, and lists task types with their distance and next hop', () => {
    expect(() => validatePayload('capabilities', base)).not.toThrow()
    const reach = [{ taskType: 'ocr', hops: 2, via: alice.peerId }]
    expect(() => validatePayload('capabilities', { ...base, protocolMinor: 1, reach })).not.toThrow()
  })

  it('refuses duplicate task types, hops out of range and a via that is not a PeerId', () => {
    const entry = { taskType: 'ocr', hops: 2, via: alice.peerId }
    const invalid = [
      [entry, entry],
      [{ ...entry, hops: 0 }],
      [{ ...entry, hops: MAX_FORWARD_HOPS + 1 }],
      [{ ...entry, via: 'bob' }],
      [{ ...entry, extra: true }],
    ]
    for (const reach of invalid) {
      expectCode(() => validatePayload('capabilities', { ...base, reach }), 'ERR_INVALID_MESSAGE')
    }
  })
})
