/**
 * Tracing on the wire (minor 3, docs/protocol.md §2.7): the W3C trace context a `task.request` or
 * `task.forward` carries inside its signed body, and the trace protocol, on which a node asks a
 * peer it sent part of a task to for the spans that peer recorded of it. The trace protocol's two
 * messages travel unsigned, like the control messages of a task stream: spans are diagnostics that
 * prove nothing to anyone, and the stream authenticates its remote peer.
 */
import type { z } from 'zod'
import { encodeJsonFrame } from './codec.js'
import { PROTOCOL_MAJOR } from './constants.js'
import { InvalidMessageError } from './errors.js'
import { checkVersion, toInvalidMessage } from './messages.js'
import { type traceContextSchema, tracePayloadSchemas, type traceSpanSchema } from './schemas.js'

/** The trace context of a request (minor 3): the sender's span as a W3C `traceparent`, and vendor state. */
export type TraceContext = z.infer<typeof traceContextSchema>

/** One span as the trace protocol carries it. */
export type TraceSpan = z.infer<typeof traceSpanSchema>

/** The payloads of the trace protocol's messages. */
export interface TracePayloads {
  'trace.query': z.infer<(typeof tracePayloadSchemas)['trace.query']>
  'trace.spans': z.infer<(typeof tracePayloadSchemas)['trace.spans']>
}

export type TraceMessageType = keyof TracePayloads

/** A `traceparent`, taken apart. */
export interface Traceparent {
  /** 32 lowercase hex digits. */
  readonly traceId: string
  /** The sender's span: 16 lowercase hex digits. */
  readonly spanId: string
  /** The trace flags byte; bit 0 is `sampled`. */
  readonly flags: number
}

const TRACEPARENT = /^00-((?!0{32})[0-9a-f]{32})-((?!0{16})[0-9a-f]{16})-([0-9a-f]{2})$/

/** Reads a version-00 `traceparent`; `undefined` if it is not one. */
export function parseTraceparent(text: string): Traceparent | undefined {
  const match = TRACEPARENT.exec(text)
  if (match === null) return undefined
  return {
    traceId: match[1] as string,
    spanId: match[2] as string,
    flags: Number.parseInt(match[3] as string, 16),
  }
}

/** Writes a version-00 `traceparent`. */
export function formatTraceparent(parent: Traceparent): string {
  return `00-${parent.traceId}-${parent.spanId}-${(parent.flags & 0xff).toString(16).padStart(2, '0')}`
}

/**
 * One message of the trace protocol as a frame. The caller built the payload from values of the
 * right types and within the limits of §2.7 unless it asks for the check.
 *
 * @throws {InvalidMessageError} for a payload that does not fit its schema (with `check`)
 */
export function encodeTraceMessage<T extends TraceMessageType>(
  type: T,
  payload: TracePayloads[T],
  options: { check?: boolean } = {},
): Uint8Array {
  if (options.check === true) validateTracePayload(type, payload)
  return encodeJsonFrame(JSON.stringify({ v: PROTOCOL_MAJOR, type, payload }))
}

/**
 * Checks an untrusted decoded frame as a trace protocol message of `type` (exactly `{ v, type,
 * payload }`) and returns its payload.
 *
 * @throws {UnsupportedVersionError} if `v` is an integer other than the major version
 * @throws {InvalidMessageError} with `path` for any other mismatch
 */
export function readTraceMessage<T extends TraceMessageType>(value: unknown, type: T): TracePayloads[T] {
  checkVersion(value)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidMessageError('', 'expected a JSON object')
  }
  const v = value as Record<string, unknown>
  if (v.v !== PROTOCOL_MAJOR) throw new InvalidMessageError('v', `expected ${PROTOCOL_MAJOR}`)
  if (v.type !== type) throw new InvalidMessageError('type', `expected ${JSON.stringify(type)}`)
  for (const key in v) {
    if (key !== 'v' && key !== 'type' && key !== 'payload')
      throw new InvalidMessageError(key, 'unknown field')
  }
  return validateTracePayload(type, v.payload)
}

function validateTracePayload<T extends TraceMessageType>(type: T, payload: unknown): TracePayloads[T] {
  const result = tracePayloadSchemas[type].safeParse(payload)
  if (!result.success) throw toInvalidMessage(result.error, ['payload'])
  return payload as TracePayloads[T]
}
