/**
 * The signed-message path of @p2p-ai/protocol: what a node pays per task message on each side.
 * The network layer needs 4,000 signed tasks/s between two processes on a 2-core machine, so
 * `seal + encode` and `decode + open` of a typical task request are the headline cases, next to
 * their batch-signed forms (minor 2: 128 envelopes under one signature, as a loaded task stream
 * sends them); the others break the cost down. The single and batch forms of each side run as a
 * comparison, interleaved round by round, so the batch's gain is read off the same moments.
 */
import { generateIdentity, type Identity } from '@p2p-ai/identity'
import {
  batchCache,
  canonicalize,
  createTaskRequest,
  decodeFrames,
  type Envelope,
  encodeFrame,
  encodeJsonFrame,
  frameDecoder,
  openEnvelope,
  prepareEnvelope,
  type ReplayCache,
  replayCache,
  sealEnvelope,
  sealPrepared,
  validateEnvelope,
} from '@p2p-ai/protocol'
import { compare, defineSuite, throughput } from '../runner.js'

/** Distinct pre-sealed messages to verify; a fresh replay cache starts each pass over them. */
const MESSAGES = 4_096
/** Frames per call of the streaming case (at most the number of distinct messages). */
const STREAM_BATCH = 1_000
/** Envelopes under one batch signature: what one write of a loaded task stream carries. */
const SIGNATURE_BATCH = 128

interface State {
  identity: Identity
  /** Signing time of every pre-sealed message: receivers use it as their clock. */
  now: number
  envelopes: Envelope[]
  frames: Uint8Array[]
  /** Batch-signed frames, SIGNATURE_BATCH envelopes per signature. */
  batchFrames: Uint8Array[]
}

/** A typical request: a few sentences to embed, about 500 bytes on the wire once signed. */
function typicalRequest(identity: Identity) {
  return createTaskRequest({
    requester: identity.peerId,
    taskType: 'embed',
    input: {
      model: 'Xenova/all-MiniLM-L6-v2',
      texts: [
        'Peer-to-peer agents discover each other on the local network.',
        'Each task request is signed with the Ed25519 key of its requester.',
      ],
      normalize: true,
    },
  })
}

export default defineSuite<State>({
  name: 'protocol',
  description: 'sign/verify and frame a typical task request (ops/s)',
  setup: ({ quick }) => {
    const identity = generateIdentity()
    const now = Date.now()
    const count = quick ? 256 : MESSAGES
    const envelopes: Envelope[] = []
    const frames: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const { envelope } = sealEnvelope(identity, 'task.request', typicalRequest(identity), { now })
      envelopes.push(envelope)
      frames.push(encodeFrame(envelope))
    }
    const batchFrames: Uint8Array[] = []
    while (batchFrames.length < count) {
      const prepared = Array.from({ length: SIGNATURE_BATCH }, () =>
        prepareEnvelope(identity, 'task.request', typicalRequest(identity), { now }),
      )
      for (const signed of sealPrepared(identity, prepared)) batchFrames.push(encodeJsonFrame(signed.json))
    }
    return { identity, now, envelopes, frames, batchFrames }
  },
  cases: (state) => {
    const { identity, now, envelopes, frames, batchFrames } = state
    const request = typicalRequest(identity)
    // Each case keeps its own position and decoder: compared cases run interleaved, round by round.
    let next = 0
    let nextBatch = 0
    let nextStream = 0
    let cache: ReplayCache = replayCache()
    // Each pre-sealed message verifies once per cache; start a new cache at each wrap-around.
    const nextIndex = (): number => {
      if (next === frames.length) {
        next = 0
        cache = replayCache()
      }
      return next++
    }
    const decoder = frameDecoder()
    const batchDecoder = frameDecoder()
    const batch = Math.min(STREAM_BATCH, frames.length)
    const { sig: _sig, ...unsigned } = envelopes[0] as Envelope

    const sealOne = throughput(
      'seal + encode',
      () => encodeJsonFrame(sealEnvelope(identity, 'task.request', request).json),
      {
        description: 'validate, canonicalize, sign (Ed25519) and frame one task request',
      },
    )
    const openOne = throughput(
      'decode + open',
      () => {
        const [frame] = decoder.push(frames[nextIndex()] as Uint8Array)
        if (frame?.ok !== true) throw new Error('frame did not decode')
        return openEnvelope(frame.value, { replayCache: cache, now, expectedSender: identity.peerId })
      },
      { description: 'parse one frame, validate, canonicalize, verify (Ed25519), check the nonce' },
    )
    const sealBatch = throughput(
      `batch seal + encode ×${SIGNATURE_BATCH}`,
      () => {
        const prepared = Array.from({ length: SIGNATURE_BATCH }, () =>
          prepareEnvelope(identity, 'task.request', request),
        )
        for (const signed of sealPrepared(identity, prepared)) encodeJsonFrame(signed.json)
        return SIGNATURE_BATCH
      },
      {
        opsPerCall: SIGNATURE_BATCH,
        description: `prepare ${SIGNATURE_BATCH} task requests, sign them with one batch signature (Merkle tree + one Ed25519), frame each`,
      },
    )
    const openBatch = throughput(
      `batch decode + open ×${SIGNATURE_BATCH}`,
      () => {
        // A batch's envelopes, in order, as a receiver with a batch cache meets them.
        const batches = batchFrames.length / SIGNATURE_BATCH
        const first = (nextBatch++ % batches) * SIGNATURE_BATCH
        const replays = replayCache()
        const verified = batchCache()
        for (let i = first; i < first + SIGNATURE_BATCH; i++) {
          const [frame] = batchDecoder.push(batchFrames[i] as Uint8Array)
          if (frame?.ok !== true) throw new Error('frame did not decode')
          openEnvelope(frame.value, {
            replayCache: replays,
            batchCache: verified,
            now,
            expectedSender: identity.peerId,
          })
        }
        return SIGNATURE_BATCH
      },
      {
        opsPerCall: SIGNATURE_BATCH,
        description: `parse and open the ${SIGNATURE_BATCH} envelopes of one batch: one Ed25519 verification, then a few hashes each`,
      },
    )
    const openStream = throughput(
      'stream decode + open',
      async () => {
        const start = nextStream
        async function* source() {
          for (let i = 0; i < batch; i++) yield frames[(start + i) % frames.length] as Uint8Array
        }
        let opened = 0
        const streamCache = replayCache()
        for await (const frame of decodeFrames(source())) {
          if (!frame.ok) throw frame.error
          openEnvelope(frame.value, { replayCache: streamCache, now })
          opened++
        }
        nextStream = (start + batch) % frames.length
        return opened
      },
      {
        opsPerCall: batch,
        description: 'decodeFrames over an async iterable of 1,000 frames, one chunk each',
      },
    )

    return [
      compare('sign', [sealOne, sealBatch], {
        baseline: 'seal + encode',
        description: 'per task request: one signature each against one batch signature for 128',
      }),
      compare('verify', [openOne, openBatch, openStream], {
        baseline: 'decode + open',
        description:
          'per task request: one verification each, one per batch of 128, and through the async-iterable decoder',
      }),
      throughput('canonicalize', () => canonicalize(unsigned), {
        description: 'RFC 8785 canonical JSON of the unsigned envelope',
      }),
      throughput('schema check', () => validateEnvelope(envelopes[0]), {
        description: 'zod validation of the envelope and its payload',
      }),
      throughput('encode frame', () => encodeFrame(envelopes[0]), {
        description: 'JSON.stringify + varint frame',
      }),
      throughput(
        'decode frame',
        () => {
          decoder.push(frames[0] as Uint8Array)
        },
        { description: 'varint + UTF-8 check + JSON.parse of one frame' },
      ),
    ]
  },
})
