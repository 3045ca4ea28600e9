/**
 * Message types inferred from the schemas, and the functions that validate untrusted values
 * against them.
 */
import type { z } from 'zod'
import { formatPath, isPlainObject } from './canonical-json.js'
import { PROTOCOL_MAJOR } from './constants.js'
import { InvalidMessageError, UnsupportedVersionError } from './errors.js'
import {
  type batchProofSchema,
  type capabilitiesSchema,
  type contentRefSchema,
  envelopeSchema,
  type goodbyeSchema,
  type modelSchema,
  payloadSchemas,
  type reachSchema,
  type resourcesSchema,
  type taskAcceptSchema,
  type taskCancelSchema,
  type taskForwardSchema,
  type taskProgressSchema,
  type taskRejectSchema,
  type taskRequestSchema,
  type taskResultSchema,
  type timingsSchema,
  type wireErrorSchema,
} from './schemas.js'
import { isWellFormedEnvelope, isWellFormedPayload } from './shape-checks.js'

export type TaskRequest = z.infer<typeof taskRequestSchema>
export type TaskAccept = z.infer<typeof taskAcceptSchema>
export type TaskReject = z.infer<typeof taskRejectSchema>
export type TaskProgress = z.infer<typeof taskProgressSchema>
export type TaskResult = z.infer<typeof taskResultSchema>
export type TaskStatus = TaskResult['status']
export type TaskTimings = z.infer<typeof timingsSchema>
export type TaskCancel = z.infer<typeof taskCancelSchema>
export type TaskForward = z.infer<typeof taskForwardSchema>
export type ReachEntry = z.infer<typeof reachSchema>
/** `capabilities.resources` (minor 4). */
export type ResourceFigures = z.infer<typeof resourcesSchema>
export type Capabilities = z.infer<typeof capabilitiesSchema>
export type ModelInfo = z.infer<typeof modelSchema>
export type Goodbye = z.infer<typeof goodbyeSchema>
export type WireError = z.infer<typeof wireErrorSchema>
/** Content by CID (minor 5, docs/protocol.md §2.9): a task's input or output as a UnixFS file. */
export type ContentRef = z.infer<typeof contentRefSchema>
/** A batch signature and this envelope's inclusion proof (minor 2, docs/protocol.md §4.5). */
export type BatchProof = z.infer<typeof batchProofSchema>

/** The payload carried by each message type. */
export interface Payloads {
  'task.request': TaskRequest
  'task.accept': TaskAccept
  'task.reject': TaskReject
  'task.progress': TaskProgress
  'task.result': TaskResult
  'task.cancel': TaskCancel
  capabilities: Capabilities
  goodbye: Goodbye
  'task.forward': TaskForward
}

export type MessageType = keyof Payloads

/** Every message type, in the order docs/protocol.md lists them. */
export const MESSAGE_TYPES: readonly MessageType[] = Object.freeze(
  Object.keys(payloadSchemas) as MessageType[],
)

/** The envelope without its signature: exactly what the signature covers (after canonicalization). */
export type UnsignedEnvelope<T extends MessageType = MessageType> = {
  [K in T]: {
    /** Protocol major version. */
    v: typeof PROTOCOL_MAJOR
    type: K
    /** The signer's PeerId; its public key verifies `sig`. */
    from: string
    /** Signing time, milliseconds since the Unix epoch. */
    ts: number
    /** 16 random bytes, unpadded base64url; unique per sender within the skew window. */
    nonce: string
    payload: Payloads[K]
  }
}[T]

/**
 * A signed message as it travels in one frame; a union discriminated on `type`. Signed alone
 * (`sig`) or as part of a batch (`batch`, minor 2): exactly one of the two is present.
 */
export type Envelope<T extends MessageType = MessageType> = {
  [K in T]: UnsignedEnvelope<K> &
    (
      | {
          /** Ed25519 signature over the signing input, unpadded base64url. */
          sig: string
          batch?: never
        }
      | {
          sig?: never
          /** A batch signature covering this envelope's digest (minor 2). */
          batch: BatchProof
        }
    )
}[T]

/** An envelope signed on its own (`sig`), as `sealEnvelope` makes and `task.forward` carries. */
export type SoloEnvelope<T extends MessageType = MessageType> = Extract<Envelope<T>, { sig: string }>

/** True if `type` names a message type of this protocol version. */
export function isMessageType(type: unknown): type is MessageType {
  return typeof type === 'string' && Object.hasOwn(payloadSchemas, type)
}

/**
 * Checks a payload against the schema of `type` and returns it unchanged (not a copy).
 *
 * @throws {InvalidMessageError} with `path` like `payload.timeoutMs`.
 */
export function validatePayload<T extends MessageType>(type: T, payload: unknown): Payloads[T] {
  // The common, well-formed case without the schema; anything else gets the schema's verdict.
  if (isWellFormedPayload(type, payload)) return payload as Payloads[T]
  const schema = payloadSchemas[type] as z.ZodType | undefined
  if (schema === undefined) {
    throw new InvalidMessageError('type', `unknown message type ${JSON.stringify(type)}`)
  }
  const result = schema.safeParse(payload)
  if (!result.success) {
    throw toInvalidMessage(result.error, ['payload'])
  }
  return payload as Payloads[T]
}

/**
 * Checks an untrusted value (typically a decoded frame) against the envelope schema, including
 * the payload schema its `type` selects. Returns the same object, now typed. Does not verify
 * the signature: use `openEnvelope` for that.
 *
 * @throws {UnsupportedVersionError} if `v` is an integer other than {@link PROTOCOL_MAJOR}.
 * @throws {InvalidMessageError} with `path` for any other mismatch.
 */
export function validateEnvelope(value: unknown): Envelope {
  checkVersion(value)
  if (isWellFormedEnvelope(value)) return value as Envelope
  const result = envelopeSchema.safeParse(value)
  if (!result.success) {
    throw toInvalidMessage(result.error, [])
  }
  // The schemas have no transforms, so the input is what validated; returning it avoids a copy.
  return value as Envelope
}

// Before the schema, so that a v2 message with new fields reports its version, not a field.
export function checkVersion(value: unknown): void {
  if (isPlainObject(value) && Number.isInteger(value.v) && value.v !== PROTOCOL_MAJOR) {
    throw new UnsupportedVersionError(
      `message version ${String(value.v)} is not supported (this node speaks ${PROTOCOL_MAJOR})`,
    )
  }
}

export function toInvalidMessage(error: z.ZodError, prefix: readonly PropertyKey[]): InvalidMessageError {
  const issue = error.issues[0]
  if (issue === undefined) {
    return new InvalidMessageError(formatPath(prefix), 'does not match its schema')
  }
  const path = [...prefix, ...issue.path]
  if (issue.code === 'unrecognized_keys') {
    const [key] = issue.keys
    return new InvalidMessageError(formatPath(key === undefined ? path : [...path, key]), 'unknown field')
  }
  return new InvalidMessageError(formatPath(path), issue.message)
}
