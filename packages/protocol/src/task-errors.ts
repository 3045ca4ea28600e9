/**
 * The closed set of codes a task can fail with (docs/protocol.md §6.2), on the wire and in a
 * requester's records. A `task.reject` or a failed `task.result` carries one of them; a requester
 * records one of them whatever went wrong, and decides what to do next by it.
 *
 * The set only grows, with a minor version of the protocol. A receiver that meets a code it does
 * not know (a newer peer's) reads it as {@link toTaskErrorCode} says: `ERR_TASK_FAILED` in a
 * result (the task ran and failed), `ERR_INTERNAL` anywhere else; a sender spares an older peer
 * that by sending it {@link taskErrorCodeFor}.
 */
import { LIMIT_CODES_MINOR } from './constants.js'

/** Every task error code, by a short name. */
export const TASK_ERROR_CODES = Object.freeze({
  // ---- the provider will not or cannot take the task (task.reject) ----
  /** The provider does not run this task type. */
  unsupportedTask: 'ERR_UNSUPPORTED_TASK',
  /** The input names a model the provider does not have. */
  unknownModel: 'ERR_UNKNOWN_MODEL',
  /** The provider's copy of the model does not match its pinned SHA-256. */
  modelCorrupt: 'ERR_MODEL_CORRUPT',
  /** The input does not fit the task type. */
  invalidInput: 'ERR_INVALID_INPUT',
  /** The requester already used this task id for a task of another type. */
  taskIdConflict: 'ERR_TASK_ID_CONFLICT',
  /** The provider is at capacity; `retryAfterMs` says when to try again. */
  busy: 'ERR_BUSY',
  /**
   * The sender sent more requests than the provider's rate limit allows; `retryAfterMs` says when
   * to try again. Sending on regardless gets it disconnected and refused for a while.
   */
  rateLimited: 'ERR_RATE_LIMITED',
  /** The request is larger than the provider takes for its task type; another provider may take it. */
  inputTooLarge: 'ERR_INPUT_TOO_LARGE',
  /** The provider is stopping. */
  shuttingDown: 'ERR_SHUTTING_DOWN',
  /** The receiver's access policy refuses the sender or the requester. */
  accessDenied: 'ERR_ACCESS_DENIED',
  /** A forwarded task cannot run here and has no hops left. */
  ttlExpired: 'ERR_TTL_EXPIRED',
  /** A forwarded task cannot run here and no neighbour reaches its task type. */
  noRoute: 'ERR_NO_ROUTE',
  /** A forwarded task came back to a node on its route. */
  forwardLoop: 'ERR_FORWARD_LOOP',
  /** Content named by a CID is larger than the receiver takes (minor 5). */
  contentTooLarge: 'ERR_CONTENT_TOO_LARGE',
  /**
   * Content named by a CID could not be fetched, in time, whole and intact (minor 5): an input on
   * a provider, an output on a requester.
   */
  contentUnavailable: 'ERR_CONTENT_UNAVAILABLE',
  // ---- the request failed its checks (task.reject naming the failed check, §4.3) ----
  badSignature: 'ERR_BAD_SIGNATURE',
  signerMismatch: 'ERR_SIGNER_MISMATCH',
  staleMessage: 'ERR_STALE_MESSAGE',
  replayedNonce: 'ERR_REPLAYED_NONCE',
  invalidMessage: 'ERR_INVALID_MESSAGE',
  unsupportedVersion: 'ERR_UNSUPPORTED_VERSION',
  // ---- how a run ended (task.result) ----
  /** `timeoutMs` elapsed (status `timeout`). */
  timeout: 'ERR_TIMEOUT',
  /** The requester cancelled (status `cancelled`). */
  cancelled: 'ERR_CANCELLED',
  /** The task ran and failed on its own terms (its code threw); the message says why. */
  taskFailed: 'ERR_TASK_FAILED',
  /** The output cannot travel: not JSON, or larger than a frame. */
  invalidOutput: 'ERR_INVALID_OUTPUT',
  /** Anything else; the details stay on the provider. */
  internal: 'ERR_INTERNAL',
  // ---- an attempt lost on the way (found by the requester, or by a relay and sent back) ----
  /** The connection or the task stream closed before the answer. */
  peerDisconnected: 'ERR_PEER_DISCONNECTED',
  /** The peer stopped answering: no accept in time, no answer to a liveness ping. */
  peerUnresponsive: 'ERR_PEER_UNRESPONSIVE',
  /** No result within `timeoutMs` plus the network's grace. */
  resultTimeout: 'ERR_RESULT_TIMEOUT',
  /** A task stream could not be opened (dial or protocol negotiation failed). */
  streamOpenFailed: 'ERR_STREAM_OPEN_FAILED',
  /** A result does not answer its request (task id or `requestHash`). */
  resultMismatch: 'ERR_RESULT_MISMATCH',
  /** A message out of order, of the wrong type or direction. */
  protocolViolation: 'ERR_PROTOCOL_VIOLATION',
  // ---- the task as a whole (the requester's own records; never sent) ----
  /** No peer (nor this node) can run the task type right now. */
  noCapablePeer: 'ERR_NO_CAPABLE_PEER',
  /** Every allowed attempt failed; the record lists each attempt's code. */
  retriesExhausted: 'ERR_RETRIES_EXHAUSTED',
  /** A redundant run ended without a majority of its providers agreeing. */
  noAgreement: 'ERR_NO_AGREEMENT',
  /** The requesting node stopped before the task finished. */
  exchangeStopped: 'ERR_EXCHANGE_STOPPED',
} as const)

/** A code a task can fail with: the closed union of {@link TASK_ERROR_CODES}. */
export type TaskErrorCode = (typeof TASK_ERROR_CODES)[keyof typeof TASK_ERROR_CODES]

const CODES: ReadonlySet<string> = new Set(Object.values(TASK_ERROR_CODES))

/** Whether `code` is one of the task error codes. */
export function isTaskErrorCode(code: unknown): code is TaskErrorCode {
  return typeof code === 'string' && CODES.has(code)
}

/**
 * A code received from a peer, as a task error code. Known codes stay as they are; an unknown
 * one (a newer peer's, or a peer that passes its engine's codes through) becomes `fallback`.
 *
 * @param fallback `ERR_TASK_FAILED` for the error of a result (the task ran), `ERR_INTERNAL` for a
 * rejection
 */
export function toTaskErrorCode(code: string, fallback: TaskErrorCode): TaskErrorCode {
  return CODES.has(code) ? (code as TaskErrorCode) : fallback
}

/**
 * Codes added by a minor version after the first, with that minor and the code a peer below it
 * is sent instead: one it knows, which its requester acts on the same way (both `ERR_BUSY` and
 * `ERR_RATE_LIMITED` ask it to wait `retryAfterMs`; both `ERR_UNSUPPORTED_TASK` and
 * `ERR_INPUT_TOO_LARGE` send the task to another provider). Without this an older peer would read
 * them as `ERR_INTERNAL` and count them as the provider's failures.
 */
const ADDED_CODES: Readonly<Partial<Record<TaskErrorCode, { minor: number; before: TaskErrorCode }>>> =
  Object.freeze({
    ERR_RATE_LIMITED: { minor: LIMIT_CODES_MINOR, before: TASK_ERROR_CODES.busy },
    ERR_INPUT_TOO_LARGE: { minor: LIMIT_CODES_MINOR, before: TASK_ERROR_CODES.unsupportedTask },
  })

/**
 * The code to send a peer that announced `peerMinor` (0 when it has not announced): `code` itself
 * when the peer knows it, else the older code that means the same to it (docs/protocol.md §7).
 */
export function taskErrorCodeFor(code: TaskErrorCode, peerMinor: number): TaskErrorCode {
  const added = ADDED_CODES[code]
  return added === undefined || peerMinor >= added.minor ? code : added.before
}
