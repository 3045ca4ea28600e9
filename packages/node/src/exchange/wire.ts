/**
 * What travels on a task stream besides signed envelopes, and how error codes map between the
 * engine, the wire and routing decisions.
 *
 * Requests and results are signed envelopes: they are claims a third party can check (who asked
 * for what, who computed which output for which request). `task.accept`, `task.reject`,
 * `task.progress` and `task.cancel` only steer the conversation between the two ends of one
 * Noise-authenticated stream, so they travel as unsigned control messages
 * `{ v: 1, type, payload }` (docs/protocol.md §2.3): signing them would double the signatures
 * per task for no property anyone can use. A receiver still accepts them as signed envelopes.
 */
import type { TaskRecord } from '@p2p-ai/engine'
import {
  type ControlType,
  encodeFrame,
  InvalidMessageError,
  type OpenEnvelopeOptions,
  type Payloads,
  PROTOCOL_MAJOR,
  TASK_ERROR_CODES,
  type TaskTimings,
  toWireError,
  UnsupportedVersionError,
  validatePayload,
  type WireError,
} from '@p2p-ai/protocol'

/**
 * How a node verifies envelopes, whatever stream they come on: its replay cache, its batch cache
 * and its Ed25519 implementation. Built once per node; each call adds the stream's peer.
 */
export type EnvelopeChecks = Omit<OpenEnvelopeOptions, 'expectedSender' | 'now' | 'maxSkewMs'>

/**
 * Encodes a control message (`ControlType` from the protocol) into one frame. Not validated
 * again: the payload is ours and typed, and this runs for every accept and progress.
 */
export function encodeControl<T extends ControlType>(type: T, payload: Payloads[T]): Uint8Array {
  return encodeFrame({ v: PROTOCOL_MAJOR, type, payload })
}

/** The parts of a decoded frame a dispatcher looks at before deciding how to check it. */
export interface FrameHead {
  readonly type: unknown
  /** The payload's `id`, when it has a string one (untrusted until the message is checked). */
  readonly id: string | undefined
  /** Whether the frame carries a signature, its own or a batch's (an envelope rather than a control message). */
  readonly signed: boolean
}

/** Reads type, task id and signedness of an untrusted decoded frame without trusting it. */
export function frameHead(value: unknown): FrameHead {
  if (typeof value !== 'object' || value === null) return { type: undefined, id: undefined, signed: false }
  const v = value as { type?: unknown; payload?: unknown; sig?: unknown; batch?: unknown }
  const payload = v.payload as { id?: unknown } | null | undefined
  const id =
    typeof payload === 'object' && payload !== null && typeof payload.id === 'string' ? payload.id : undefined
  return { type: v.type, id, signed: v.sig !== undefined || v.batch !== undefined }
}

/**
 * Checks an unsigned control message: exactly `{ v, type, payload }`, a known major version and
 * a payload that fits its schema.
 *
 * @throws {InvalidMessageError | UnsupportedVersionError} from the protocol package
 */
export function checkControl<T extends ControlType>(value: unknown, type: T): Payloads[T] {
  const v = value as Record<string, unknown>
  if (Number.isInteger(v.v) && v.v !== PROTOCOL_MAJOR) {
    throw new UnsupportedVersionError(`message version ${String(v.v)} is not supported`)
  }
  if (v.v !== PROTOCOL_MAJOR) throw new InvalidMessageError('v', `expected ${PROTOCOL_MAJOR}`)
  for (const key in v) {
    if (key !== 'v' && key !== 'type' && key !== 'payload')
      throw new InvalidMessageError(key, 'unknown field')
  }
  return validatePayload(type, v.payload)
}

// ---- error codes ----------------------------------------------------------------------------

/**
 * Engine codes that have a protocol equivalent (docs/protocol.md §6.2). Everything else crosses
 * the wire as the engine named it.
 */
const ENGINE_TO_WIRE: Readonly<Record<string, string>> = {
  ERR_TASK_TIMEOUT: TASK_ERROR_CODES.timeout,
  ERR_TASK_CANCELLED: TASK_ERROR_CODES.cancelled,
  ERR_QUEUE_FULL: TASK_ERROR_CODES.busy,
  ERR_UNSUPPORTED_TASK_TYPE: TASK_ERROR_CODES.unsupportedTask,
  ERR_ENGINE_STOPPED: TASK_ERROR_CODES.shuttingDown,
  ERR_MODEL_NOT_FOUND: TASK_ERROR_CODES.unknownModel,
}

/** The wire code for an engine (or any local) error code. */
export function wireCode(code: string): string {
  return ENGINE_TO_WIRE[code] ?? code
}

/**
 * Any thrown value as a wire error: a coded error keeps its (wire-mapped) code and message; an
 * uncoded one becomes `ERR_INTERNAL` without details, which stay on this machine.
 */
export function wireErrorOf(err: unknown): WireError {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return toWireError(err)
  return toWireError({ code: wireCode(code), message: (err as { message?: unknown }).message })
}

/** What a result says, by the engine's final record of the task. */
export type ResultOutcome =
  | { status: 'completed'; output: unknown }
  | { status: 'failed' | 'timeout' | 'cancelled'; error: WireError }

export function resultOutcome(record: TaskRecord): ResultOutcome {
  switch (record.status) {
    case 'COMPLETED':
      return { status: 'completed', output: record.output === undefined ? null : record.output }
    case 'TIMEOUT':
      return { status: 'timeout', error: recordError(record, TASK_ERROR_CODES.timeout) }
    case 'CANCELLED':
      // Cancelled by an engine that is stopping is the provider's failure, not the requester's wish.
      if (record.error?.code === 'ERR_ENGINE_STOPPED') {
        return { status: 'failed', error: recordError(record, TASK_ERROR_CODES.shuttingDown) }
      }
      return { status: 'cancelled', error: recordError(record, TASK_ERROR_CODES.cancelled) }
    default:
      return { status: 'failed', error: recordError(record, TASK_ERROR_CODES.internal) }
  }
}

function recordError(record: TaskRecord, fallback: string): WireError {
  const code = record.error === undefined ? fallback : wireCode(record.error.code)
  return toWireError({ code, message: record.error?.message ?? record.status.toLowerCase() })
}

/**
 * A result's `timings`: queue and run time from the engine's record, and the time from receiving
 * the request to now (`receivedAt` from `performance.now()`).
 */
export function resultTimings(receivedAt: number, record: TaskRecord | undefined): TaskTimings {
  const totalMs = Math.round((performance.now() - receivedAt) * 1000) / 1000
  if (record === undefined) return { queuedMs: totalMs, runMs: 0, totalMs }
  const finished = record.finishedAt ?? record.queuedAt
  const started = record.startedAt ?? finished
  return { queuedMs: Math.max(0, started - record.queuedAt), runMs: Math.max(0, finished - started), totalMs }
}

/**
 * What a failed attempt means for the task and for the peer:
 * - `final`: the task's own outcome (bad input, the task failed or timed out while running);
 *   retrying elsewhere would only repeat it.
 * - `retry`: try another peer; `blame` says whether the peer is at fault (reputation, circuit),
 *   `busy` that it is merely at capacity.
 */
export type Verdict =
  | { readonly kind: 'final' }
  | {
      readonly kind: 'retry'
      readonly blame: 'none' | 'busy' | 'failure' | 'misbehaviour'
      /** The peer lacks what the task needs: only another peer can help (final for an explicit target). */
      readonly notCapable?: true
    }

const FINAL: Verdict = { kind: 'final' }
const RETRY_NONE: Verdict = { kind: 'retry', blame: 'none' }
const RETRY_NOT_CAPABLE: Verdict = { kind: 'retry', blame: 'none', notCapable: true }
const RETRY_BUSY: Verdict = { kind: 'retry', blame: 'busy' }
const RETRY_FAILURE: Verdict = { kind: 'retry', blame: 'failure' }
const RETRY_MISBEHAVIOUR: Verdict = { kind: 'retry', blame: 'misbehaviour' }

/** Codes that mean the answer itself is untrustworthy: the provider lied or is broken. */
const MISBEHAVIOUR = new Set([
  'ERR_BAD_SIGNATURE',
  'ERR_SIGNER_MISMATCH',
  'ERR_RESULT_MISMATCH',
  'ERR_INVALID_MESSAGE',
  'ERR_UNSUPPORTED_VERSION',
  'ERR_REPLAYED_NONCE',
  'ERR_PROTOCOL_VIOLATION',
])

/** Codes of a provider that could not do its part, whatever the task. */
const INFRASTRUCTURE = new Set([
  'ERR_PEER_DISCONNECTED',
  'ERR_PEER_UNRESPONSIVE',
  'ERR_RESULT_TIMEOUT',
  'ERR_STREAM_OPEN_FAILED',
  'ERR_STREAM_FAILED',
  'ERR_FRAME_TOO_LARGE',
  'ERR_FRAME_TRUNCATED',
  'ERR_INVALID_VARINT',
  'ERR_STALE_MESSAGE',
  TASK_ERROR_CODES.internal,
  'ERR_WORKER_CRASHED',
  'ERR_STORE_FAILED',
  'ERR_STORE_CLOSED',
])

/** Codes that depend on the input, not on who runs it. */
const INPUT_BOUND = new Set([TASK_ERROR_CODES.invalidInput, 'ERR_INVALID_REQUEST', 'ERR_TASK_ID_CONFLICT'])

/** Codes of a peer that lacks what the task needs although it announced it (stale capabilities). */
const NOT_CAPABLE = new Set([
  TASK_ERROR_CODES.unsupportedTask,
  // Forwarding: the relay's routes were stale or too long, or its policy refuses us.
  TASK_ERROR_CODES.ttlExpired,
  TASK_ERROR_CODES.noRoute,
  TASK_ERROR_CODES.accessDenied,
  TASK_ERROR_CODES.unknownModel,
  'ERR_UNSUPPORTED_MODEL',
  'ERR_MODEL_NOT_FOUND',
  'ERR_UNSUPPORTED_TASK_TYPE',
])

/** How to react to a `task.reject`: the provider did not run the task. */
export function rejectVerdict(code: string): Verdict {
  if (INPUT_BOUND.has(code)) return FINAL
  if (code === TASK_ERROR_CODES.busy || code === 'ERR_QUEUE_FULL') return RETRY_BUSY
  if (NOT_CAPABLE.has(code)) return RETRY_NOT_CAPABLE
  if (code === TASK_ERROR_CODES.shuttingDown) return RETRY_NONE
  if (MISBEHAVIOUR.has(code)) return RETRY_MISBEHAVIOUR
  return RETRY_FAILURE
}

/**
 * How to react to a result whose status is not `completed`: the provider ran (or started) the
 * task. Its own failures are final, unless they are about the provider rather than the task.
 */
export function resultVerdict(status: 'failed' | 'timeout' | 'cancelled', code: string): Verdict {
  if (status === 'timeout') return FINAL
  if (code === TASK_ERROR_CODES.shuttingDown || code === 'ERR_ENGINE_STOPPED') return RETRY_NONE
  if (code === TASK_ERROR_CODES.busy) return RETRY_BUSY
  if (INFRASTRUCTURE.has(code)) return RETRY_FAILURE
  // A relay reporting that the next hop's answer did not verify: another route may be honest.
  if (MISBEHAVIOUR.has(code)) return RETRY_FAILURE
  // A provider may only cancel on our request; any other cancellation is its failure.
  if (status === 'cancelled') return RETRY_FAILURE
  return FINAL
}

/** How to react to an attempt that ended without a valid answer (transport, timeout, bad result). */
export function transportVerdict(code: string): Verdict {
  if (MISBEHAVIOUR.has(code)) return RETRY_MISBEHAVIOUR
  return RETRY_FAILURE
}
