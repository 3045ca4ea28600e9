/**
 * Random and mutated frames for a node's task stream (docs/protocol.md §2.3, §3), and what the node
 * owes each: a request (or forward) whose `id` can be read gets an answer (a coded `task.reject`, or
 * an accept and a signed result); anything else is dropped or skipped, and never ends the stream.
 */
import type { Identity } from '@p2p-ai/identity'
import {
  createTaskRequest,
  encodeBodyFrame,
  encodeFrame,
  type JsonObject,
  peekMessage,
  sealEnvelope,
  signingInput,
  TASK_ERROR_CODES,
} from '@p2p-ai/protocol'
import fc from 'fast-check'

export interface FuzzFrame {
  /** What kind of frame it is, for reports. */
  readonly kind: string
  readonly bytes: Uint8Array
  /** The task id an answer must come back for, when the frame is a request whose id can be read. */
  readonly answerFor?: string
}

/** docs/protocol.md §2.3: the id a provider can answer a refused request with. */
const TASK_ID = /^[A-Za-z0-9_-]{8,64}$/

/** The id a provider must answer for this frame's value, if any. */
export function answerFor(value: unknown): string | undefined {
  const head = peekMessage(value)
  let id = head.id
  if (head.type === 'task.forward') {
    const probed = (value as { payload?: { request?: { payload?: { id?: unknown } } } }).payload?.request
      ?.payload?.id
    id = typeof probed === 'string' ? probed : undefined
  } else if (head.type !== 'task.request') return undefined
  return id !== undefined && TASK_ID.test(id) ? id : undefined
}

const utf8 = new TextEncoder()

/** A frame of `value` as JSON, with what it owes. */
function jsonFrame(kind: string, value: unknown): FuzzFrame {
  const id = answerFor(value)
  return { kind, bytes: encodeFrame(value as object), ...(id === undefined ? {} : { answerFor: id }) }
}

/** A frame of this JSON text (which may not parse). */
function textFrame(kind: string, text: string): FuzzFrame {
  let value: unknown
  let parsed = true
  try {
    value = JSON.parse(text)
  } catch {
    parsed = false
  }
  const id = parsed ? answerFor(value) : undefined
  return { kind, bytes: encodeBodyFrame(utf8.encode(text)), ...(id === undefined ? {} : { answerFor: id }) }
}

const taskId = fc.uuid()
const text = fc.string({ maxLength: 30 })

/**
 * Frames from `me` (the stream's peer); `other` is a second identity whose signature does not
 * belong on this stream. Valid requests are `mock` tasks that take no time.
 */
export function fuzzFrame(me: Identity, other: Identity): fc.Arbitrary<FuzzFrame> {
  const request = (id: string, input: unknown, who: Identity = me, now?: number) =>
    sealEnvelope(
      who,
      'task.request',
      createTaskRequest({
        requester: who.peerId,
        taskType: 'mock',
        input: input as JsonObject,
        id,
      }),
      now === undefined ? {} : { now },
    ).envelope as unknown as Record<string, unknown>
  const field = fc.constantFrom('v', 'type', 'from', 'ts', 'nonce', 'sig', 'payload', 'extra')
  const payloadField = fc.constantFrom(
    'id',
    'taskType',
    'input',
    'priority',
    'timeoutMs',
    'createdAt',
    'requester',
    'extra',
  )

  return fc.oneof(
    // A good request.
    {
      weight: 3,
      arbitrary: fc.tuple(taskId, text).map(([id, t]) => jsonFrame('valid', request(id, { text: t }))),
    },
    // Signed, then a field of the envelope or of its payload changed: the signature no longer holds.
    {
      weight: 3,
      arbitrary: fc
        .tuple(taskId, text, fc.boolean(), field, payloadField, fc.jsonValue(), fc.boolean())
        .map(([id, t, inPayload, f, pf, value, drop]) => {
          const env = request(id, { text: t })
          if (inPayload) {
            const payload = { ...(env.payload as Record<string, unknown>) }
            if (drop) delete payload[pf]
            else payload[pf] = value
            env.payload = payload
          } else if (drop) delete env[f]
          else env[f] = value
          return jsonFrame('tampered', env)
        }),
    },
    // Signed correctly over a payload that breaks the schema (sealEnvelope would refuse to sign it).
    {
      weight: 2,
      arbitrary: fc.tuple(taskId, payloadField, fc.jsonValue()).map(([id, pf, value]) => {
        const { sig: _, ...unsigned } = request(id, { text: 'schema' })
        unsigned.payload = { ...(unsigned.payload as Record<string, unknown>), [pf]: value }
        let sig: string
        try {
          sig = Buffer.from(me.sign(signingInput(unsigned as never))).toString('base64url')
        } catch {
          // A value canonical JSON cannot hold (it has none here, but the schema is not ours to assume).
          sig = 'x'
        }
        return jsonFrame('schema', { ...unsigned, sig })
      }),
    },
    // Someone else's signature, or stale.
    {
      weight: 1,
      arbitrary: fc
        .tuple(taskId, fc.constantFrom('other-signer', 'stale'))
        .map(([id, how]) =>
          jsonFrame(
            how,
            how === 'stale'
              ? request(id, { text: 'old' }, me, Date.now() - 3_600_000)
              : request(id, { text: 'x' }, other),
          ),
        ),
    },
    // The JSON text of a good request with one character changed.
    {
      weight: 2,
      arbitrary: fc
        .tuple(taskId, text, fc.nat(), fc.integer({ min: 0x20, max: 0x7e }))
        .map(([id, t, at, c]) => {
          const json = JSON.stringify(request(id, { text: t }))
          const i = at % json.length
          return textFrame('mutated', json.slice(0, i) + String.fromCharCode(c) + json.slice(i + 1))
        }),
    },
    // Shaped like a request or a forward, with anything inside.
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom('task.request', 'task.forward'), taskId, fc.jsonValue(), fc.boolean())
        .map(([type, id, junk, unsigned]) =>
          jsonFrame(`${type} junk`, {
            v: 1,
            type,
            from: me.peerId,
            ts: Date.now(),
            nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
            payload: type === 'task.forward' ? { request: { payload: { id } }, junk } : { id, junk },
            ...(unsigned ? {} : { sig: 'x'.repeat(86) }),
          }),
        ),
    },
    // Messages a requester does not send, or about tasks nobody asked for: dropped.
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'task.cancel',
            'task.accept',
            'task.result',
            'task.progress',
            'capabilities',
            'goodbye',
            'task.nope',
          ),
          taskId,
        )
        .map(([type, id]) => jsonFrame(type, { v: 1, type, payload: { id } })),
    },
    // Any JSON, and bytes that are not JSON or not UTF-8 (skipped, the stream goes on).
    { weight: 2, arbitrary: fc.jsonValue().map((v) => textFrame('json', JSON.stringify(v) ?? 'null')) },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 1, maxLength: 64 })
        .map((b) => ({ kind: 'bytes', bytes: encodeBodyFrame(b) })),
    },
  )
}

/** Frames that end a stream (§3: fatal framing errors), each on a stream of its own. */
export function fatalFrames(): Array<{ readonly kind: string; readonly bytes: Uint8Array }> {
  return [
    // Announces a body over 4 MiB: refused from the prefix alone.
    { kind: 'too large', bytes: Uint8Array.of(0x80, 0x80, 0x80, 0x04) },
    // Not minimally encoded.
    { kind: 'non-minimal varint', bytes: Uint8Array.of(0x85, 0x00) },
    // Ten prefix bytes.
    { kind: 'long varint', bytes: Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01) },
    // A body cut short, then the end of the stream.
    { kind: 'truncated', bytes: Uint8Array.of(0x20, 0x7b, 0x22) },
  ]
}

const CODES: ReadonlySet<string> = new Set(Object.values(TASK_ERROR_CODES))

/** What is wrong with a frame the node sent, or undefined. */
export function judgeAnswer(value: unknown): string | undefined {
  const v = value as {
    type?: unknown
    payload?: { id?: unknown; error?: { code?: unknown; message?: unknown } }
  }
  const type = v?.type
  if (
    type !== 'task.accept' &&
    type !== 'task.reject' &&
    type !== 'task.progress' &&
    type !== 'task.result'
  ) {
    return `the node sent a ${String(type)}`
  }
  if (typeof v.payload?.id !== 'string') return `a ${type} without an id`
  if (type === 'task.reject') {
    const e = v.payload.error
    if (typeof e?.code !== 'string' || !CODES.has(e.code))
      return `a task.reject with code ${String(e?.code)}, not a task error code`
    if (typeof e.message !== 'string') return 'a task.reject without a message'
  }
  return undefined
}
