/**
 * The signed-message path of @p2p-ai/protocol: what a node pays per task message on each side.
 * The network layer needs 4,000 signed tasks/s between two processes on a 2-core machine, so
 * `seal + encode` and `decode + open` of a typical task request are the headline cases; the
 * others break the cost down.
 */
import { generateIdentity, type Identity } from '@p2p-ai/identity'
import {
  canonicalize,
  createTaskRequest,
  decodeFrames,
  type Envelope,
  encodeFrame,
  encodeJsonFrame,
  frameDecoder,
  openEnvelope,
  type ReplayCache,
  replayCache,
  sealEnvelope,
  validateEnvelope,
} from '@p2p-ai/protocol'
import { defineSuite, throughput } from '../runner.js'

/** Distinct pre-sealed messages to verify; a fresh replay cache starts each pass over them. */
const MESSAGES = 4_096
/** Frames per call of the streaming case (at most the number of distinct messages). */
const STREAM_BATCH = 1_000

interface State {
  identity: Identity
  /** Signing time of every pre-sealed message: receivers use it as their clock. */
  now: number
  envelopes: Envelope[]
  frames: Uint8Array[]
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
    return { identity, now, envelopes, frames }
  },
  cases: (state) => {
    const { identity, now, envelopes, frames } = state
    const request = typicalRequest(identity)
    let next = 0
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
    const batch = Math.min(STREAM_BATCH, frames.length)
    const { sig: _sig, ...unsigned } = envelopes[0] as Envelope

    return [
      throughput(
        'seal + encode',
        () => encodeJsonFrame(sealEnvelope(identity, 'task.request', request).json),
        {
          description: 'validate, canonicalize, sign (Ed25519) and frame one task request',
        },
      ),
      throughput(
        'decode + open',
        () => {
          const [frame] = decoder.push(frames[nextIndex()] as Uint8Array)
          if (frame?.ok !== true) throw new Error('frame did not decode')
          return openEnvelope(frame.value, { replayCache: cache, now, expectedSender: identity.peerId })
        },
        { description: 'parse one frame, validate, canonicalize, verify (Ed25519), check the nonce' },
      ),
      throughput(
        'stream decode + open',
        async () => {
          const start = next
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
          next = (start + batch) % frames.length
          return opened
        },
        {
          opsPerCall: batch,
          description: 'decodeFrames over an async iterable of 1,000 frames, one chunk each',
        },
      ),
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
