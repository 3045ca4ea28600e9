/**
 * Control messages (docs/protocol.md §2.4): `task.accept`, `task.reject`, `task.progress` and
 * `task.cancel` travel on a task stream as `{ v, type, payload }` without a signature, since they
 * steer one conversation between the two ends of a Noise-authenticated stream. This is their
 * codec, and the first look a dispatcher takes at any decoded frame on a task stream.
 */

import { encodeJsonFrame } from './codec.js'
import { PROTOCOL_MAJOR } from './constants.js'
import { InvalidMessageError, UnsupportedVersionError } from './errors.js'
import { checkVersion, type Payloads, toInvalidMessage, validatePayload } from './messages.js'
import { controlSchema } from './schemas.js'

/** The message types that may travel as control messages. */
export const CONTROL_TYPES = Object.freeze([
  'task.accept',
  'task.reject',
  'task.progress',
  'task.cancel',
] as const)

export type ControlType = (typeof CONTROL_TYPES)[number]

/** An unsigned control message: an envelope without `from`, `ts`, `nonce` and `sig`. */
export type ControlMessage<T extends ControlType = ControlType> = {
  [K in T]: { v: typeof PROTOCOL_MAJOR; type: K; payload: Payloads[K] }
}[T]

/** True if `type` may travel as a control message. */
export function isControlType(type: unknown): type is ControlType {
  return (CONTROL_TYPES as readonly unknown[]).includes(type)
}

/**
 * Builds an unsigned control message, validating the payload (frame it with `encodeFrame`, or use
 * {@link encodeControl}).
 *
 * @throws {InvalidMessageError} with `path` like `payload.progress`.
 */
export function createControlMessage<T extends ControlType>(
  type: T,
  payload: Payloads[T],
): ControlMessage<T> {
  if (!isControlType(type)) {
    throw new InvalidMessageError('type', `${JSON.stringify(type)} cannot travel as a control message`)
  }
  validatePayload(type, payload)
  return { v: PROTOCOL_MAJOR, type, payload } as ControlMessage<T>
}

/** Per-call options of {@link encodeControl}. */
export interface EncodeControlOptions {
  /**
   * The payload was built by the caller from values of the right types and within the limits of
   * §5: skip its schema check. This is the hot path of a provider, which sends an accept and
   * progress for every task; a payload built from untrusted values must not take it.
   *
   * @default false
   */
  trusted?: boolean
}

/**
 * One control message as a frame, ready to write on a task stream.
 *
 * @throws {InvalidMessageError} for a payload that does not fit its schema (unless `trusted`)
 */
export function encodeControl<T extends ControlType>(
  type: T,
  payload: Payloads[T],
  options: EncodeControlOptions = {},
): Uint8Array {
  const message =
    options.trusted === true ? { v: PROTOCOL_MAJOR, type, payload } : createControlMessage(type, payload)
  return encodeJsonFrame(JSON.stringify(message))
}

/**
 * Checks an untrusted value as an unsigned control message of any of the four types: exactly
 * `{ v, type, payload }`, a payload that fits its schema. Returns the same object, typed.
 *
 * @throws {UnsupportedVersionError} if `v` is an integer other than {@link PROTOCOL_MAJOR}.
 * @throws {InvalidMessageError} with `path` for any other mismatch.
 */
export function validateControl(value: unknown): ControlMessage {
  checkVersion(value)
  const result = controlSchema.safeParse(value)
  if (!result.success) {
    throw toInvalidMessage(result.error, [])
  }
  return value as ControlMessage
}

/**
 * Checks an untrusted value as a control message of the one type a dispatcher expects (it read
 * the type with {@link peekMessage}), and returns its payload. Cheaper than
 * {@link validateControl}: only the payload schema of `type` runs.
 *
 * @throws {UnsupportedVersionError} if `v` is an integer other than {@link PROTOCOL_MAJOR}.
 * @throws {InvalidMessageError} with `path` for any other mismatch.
 */
export function readControl<T extends ControlType>(value: unknown, type: T): Payloads[T] {
  const v = value as Record<string, unknown>
  if (Number.isInteger(v.v) && v.v !== PROTOCOL_MAJOR) {
    throw new UnsupportedVersionError(`message version ${String(v.v)} is not supported`)
  }
  if (v.v !== PROTOCOL_MAJOR) throw new InvalidMessageError('v', `expected ${PROTOCOL_MAJOR}`)
  if (v.type !== type) throw new InvalidMessageError('type', `expected ${JSON.stringify(type)}`)
  for (const key in v) {
    if (key !== 'v' && key !== 'type' && key !== 'payload')
      throw new InvalidMessageError(key, 'unknown field')
  }
  return validatePayload(type, v.payload)
}

/** What a dispatcher reads of a decoded frame before deciding how to check it. */
export interface MessageHead {
  /** The `type` member, unchecked. */
  readonly type: unknown
  /** The payload's `id`, when it is a string (untrusted until the message is checked). */
  readonly id: string | undefined
  /** Whether it carries a signature, its own (`sig`) or a batch's (`batch`): an envelope, not a control message. */
  readonly signed: boolean
}

/** Reads type, task id and signedness of an untrusted decoded frame without trusting any of it. */
export function peekMessage(value: unknown): MessageHead {
  if (typeof value !== 'object' || value === null) return { type: undefined, id: undefined, signed: false }
  const v = value as { type?: unknown; payload?: unknown; sig?: unknown; batch?: unknown }
  const payload = v.payload as { id?: unknown } | null | undefined
  const id =
    typeof payload === 'object' && payload !== null && typeof payload.id === 'string' ? payload.id : undefined
  return { type: v.type, id, signed: v.sig !== undefined || v.batch !== undefined }
}
