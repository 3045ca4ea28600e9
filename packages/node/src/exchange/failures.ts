/**
 * What a requester does when an attempt of a task ends without its result: one table, by task
 * error code (docs/protocol.md §6.2), for each of the four ways an attempt can end:
 *
 * - `rejected`: the provider (or a relay) answered `task.reject`: it did not run the task;
 * - `failed`: it answered a `task.result` that is not `completed`: it ran (or started) the task;
 * - `lost`: no usable answer came: the stream broke, the peer went quiet, a deadline passed, or
 *   what came back did not verify;
 * - `local`: this node's own engine ran it (or refused it).
 *
 * A verdict says whether the task tries again elsewhere (`retry`) or ends with this failure
 * (`final`), what the failure says about the peer asked (`blame`, which goes into its reputation:
 * `busy` keeps it out for its `retryAfterMs`, `failure` counts towards its circuit breaker,
 * `misbehaviour` opens it at once), whether only another peer can help (`notCapable`: final for a
 * task aimed at one peer), and whether the peer's announced route is stale (`staleRoute`: it is
 * skipped for the task type until it announces again).
 *
 * Codes reach this table through the normalisers at the end of the file and nowhere else: the
 * engine's codes, thrown errors and codes from peers all become a `TaskErrorCode` first.
 */
import { type TaskErrorCode, toTaskErrorCode } from '@p2p-ai/protocol'
import type { Blame } from '../peers/reputation.js'

/** How an attempt ended without the task's result. */
export type AttemptEnd = 'rejected' | 'failed' | 'lost' | 'local'

/** What the requester does about a failed attempt. */
export interface Verdict {
  readonly next: 'final' | 'retry'
  readonly blame: Blame
  /** Only another peer can help: final for a task aimed at one peer. */
  readonly notCapable: boolean
  /** The peer's announced route to the task type is stale: skip it for that type until it announces anew. */
  readonly staleRoute: boolean
}

const verdict = (next: Verdict['next'], blame: Blame, notCapable = false, staleRoute = false): Verdict =>
  Object.freeze({ next, blame, notCapable, staleRoute })

/** The task's own outcome: retrying elsewhere would only repeat it. */
const FINAL = verdict('final', 'none')
/** Try another peer; nobody is to blame (the peer is stopping, a duplicate route...). */
const RETRY = verdict('retry', 'none')
/** Try another peer; this one is at capacity (not a failure). */
const BUSY = verdict('retry', 'busy')
/** Try another peer; this one failed to do its part. */
const FAULT = verdict('retry', 'failure')
/** Try another peer; this one's answer is forged or broken. */
const FOUL = verdict('retry', 'misbehaviour')
/** Try another peer; this one lacks what the task needs (stale capabilities). */
const ELSEWHERE = verdict('retry', 'none', true)
/** Try another peer; this one has what the task needs in a broken state. */
const BROKEN = verdict('retry', 'failure', true)
/** Try another peer; this neighbour's announced route to the task type no longer holds. */
const STALE = verdict('retry', 'none', true, true)

type Row = Readonly<Record<AttemptEnd, Verdict>>
const row = (rejected: Verdict, failed: Verdict, lost: Verdict, local: Verdict): Row =>
  Object.freeze({ rejected, failed, lost, local })

/**
 * The policy, by code. Columns: `rejected`, `failed`, `lost`, `local`. A code that cannot arrive
 * one way (a peer cannot "reject" with a timeout) still has a verdict there, the safe one for a
 * peer that sends it anyway.
 */
export const FAILURE_POLICY: Readonly<Record<TaskErrorCode, Row>> = Object.freeze({
  // the provider cannot or will not take the task
  ERR_UNSUPPORTED_TASK: row(ELSEWHERE, ELSEWHERE, FAULT, ELSEWHERE),
  ERR_UNKNOWN_MODEL: row(ELSEWHERE, ELSEWHERE, FAULT, ELSEWHERE),
  ERR_MODEL_CORRUPT: row(BROKEN, BROKEN, FAULT, ELSEWHERE),
  ERR_INVALID_INPUT: row(FINAL, FINAL, FINAL, FINAL),
  ERR_TASK_ID_CONFLICT: row(FINAL, FINAL, FINAL, FINAL),
  ERR_BUSY: row(BUSY, BUSY, BUSY, RETRY),
  // Over the provider's rate limit: like busy, it is kept out for its retryAfterMs (a task aimed at
  // it waits that long), and the task goes elsewhere meanwhile.
  ERR_RATE_LIMITED: row(BUSY, BUSY, BUSY, RETRY),
  // Larger than this provider takes for the type; another may take it.
  ERR_INPUT_TOO_LARGE: row(ELSEWHERE, ELSEWHERE, FAULT, FINAL),
  ERR_SHUTTING_DOWN: row(RETRY, RETRY, RETRY, RETRY),
  // The peer's policy refuses us (rejected), or we refuse the signer of its result (lost).
  ERR_ACCESS_DENIED: row(ELSEWHERE, ELSEWHERE, FAULT, FINAL),
  ERR_TTL_EXPIRED: row(STALE, STALE, FAULT, FINAL),
  ERR_NO_ROUTE: row(STALE, STALE, FAULT, FINAL),
  ERR_FORWARD_LOOP: row(STALE, STALE, FAULT, FINAL),
  // Content by CID (minor 5): larger than this provider takes (another may take it); or not fetched
  // whole and in time: by the provider (its input, from us) or by us (its output, from it).
  ERR_CONTENT_TOO_LARGE: row(ELSEWHERE, ELSEWHERE, FAULT, FINAL),
  ERR_CONTENT_UNAVAILABLE: row(FAULT, FAULT, FAULT, FINAL),
  // Our request failed the provider's checks: we signed it, so the provider (or a relay) is
  // broken or lying; a stale clock is only a failure.
  ERR_BAD_SIGNATURE: row(FOUL, FAULT, FOUL, FINAL),
  ERR_SIGNER_MISMATCH: row(FOUL, FAULT, FOUL, FINAL),
  ERR_STALE_MESSAGE: row(FAULT, FAULT, FAULT, FINAL),
  // A relay may pass on one signed request twice (it failed over): not a lie.
  ERR_REPLAYED_NONCE: row(FAULT, FAULT, FOUL, FINAL),
  ERR_INVALID_MESSAGE: row(FOUL, FAULT, FOUL, FINAL),
  ERR_UNSUPPORTED_VERSION: row(FOUL, FAULT, FOUL, FINAL),
  // how a run ended: the task's own outcome, unless the provider gave up on it unasked
  ERR_TIMEOUT: row(FINAL, FINAL, FAULT, FINAL),
  ERR_CANCELLED: row(FAULT, FAULT, FAULT, FINAL),
  ERR_TASK_FAILED: row(FINAL, FINAL, FAULT, FINAL),
  ERR_INVALID_OUTPUT: row(FINAL, FINAL, FAULT, FINAL),
  ERR_INTERNAL: row(FAULT, FAULT, FAULT, RETRY),
  // an attempt lost on the way (found here, or by a relay and sent back)
  ERR_PEER_DISCONNECTED: row(FAULT, FAULT, FAULT, FAULT),
  ERR_PEER_UNRESPONSIVE: row(FAULT, FAULT, FAULT, FAULT),
  ERR_RESULT_TIMEOUT: row(FAULT, FAULT, FAULT, FAULT),
  ERR_STREAM_OPEN_FAILED: row(FAULT, FAULT, FAULT, FAULT),
  ERR_RESULT_MISMATCH: row(FAULT, FAULT, FOUL, FINAL),
  ERR_PROTOCOL_VIOLATION: row(FAULT, FAULT, FOUL, FINAL),
  // the task as a whole: never sent by a peer that follows the protocol
  ERR_NO_CAPABLE_PEER: row(FAULT, FAULT, FAULT, FINAL),
  ERR_RETRIES_EXHAUSTED: row(FAULT, FAULT, FAULT, FINAL),
  ERR_NO_AGREEMENT: row(FAULT, FAULT, FAULT, FINAL),
  ERR_EXCHANGE_STOPPED: row(FAULT, FAULT, FAULT, FINAL),
})

/** The verdict for an attempt that ended `end` with `code`. */
export function verdictOf(code: TaskErrorCode, end: AttemptEnd): Verdict {
  return FAILURE_POLICY[code][end]
}

// ---- normalisers: every code becomes a TaskErrorCode here, once --------------------------------

/**
 * Codes of `@p2p-ai/engine` (and its backends) and of this package's own errors that name a task
 * error code other than their own. Anything else coded that is not a task error code is what a
 * backend threw: the task ran and failed (`ERR_TASK_FAILED`).
 */
const ALIASES: Readonly<Record<string, TaskErrorCode>> = Object.freeze({
  ERR_TASK_TIMEOUT: 'ERR_TIMEOUT',
  ERR_TASK_CANCELLED: 'ERR_CANCELLED',
  ERR_QUEUE_FULL: 'ERR_BUSY',
  // A paused node hands a task back: busy for now, another peer may run it.
  ERR_NODE_PAUSED: 'ERR_BUSY',
  ERR_UNSUPPORTED_TASK_TYPE: 'ERR_UNSUPPORTED_TASK',
  ERR_ENGINE_STOPPED: 'ERR_SHUTTING_DOWN',
  ERR_MODEL_NOT_FOUND: 'ERR_UNKNOWN_MODEL',
  ERR_UNSUPPORTED_MODEL: 'ERR_UNKNOWN_MODEL',
  ERR_TOKENIZER_NOT_FOUND: 'ERR_UNKNOWN_MODEL',
  // The provider cannot hold the model in its memory budget, or has no llama.cpp build for its
  // platform: another provider may.
  ERR_MODEL_TOO_LARGE: 'ERR_UNKNOWN_MODEL',
  ERR_LLAMA_UNAVAILABLE: 'ERR_UNSUPPORTED_TASK',
  ERR_INVALID_REQUEST: 'ERR_INVALID_INPUT',
  ERR_INVALID_IMAGE: 'ERR_INVALID_INPUT',
  ERR_INVALID_TENSOR: 'ERR_INVALID_INPUT',
  ERR_INVALID_DATA: 'ERR_INVALID_INPUT',
  ERR_INVALID_JSON_VALUE: 'ERR_INVALID_INPUT',
  ERR_FRAME_TOO_LARGE: 'ERR_INVALID_OUTPUT',
  ERR_WORKER_CRASHED: 'ERR_INTERNAL',
  ERR_STORE_FAILED: 'ERR_INTERNAL',
  ERR_STORE_CLOSED: 'ERR_INTERNAL',
  ERR_BACKEND_NOT_FOUND: 'ERR_UNSUPPORTED_TASK',
  ERR_STREAM_FAILED: 'ERR_PEER_DISCONNECTED',
  ERR_FRAME_TRUNCATED: 'ERR_PEER_DISCONNECTED',
  ERR_INVALID_VARINT: 'ERR_PROTOCOL_VIOLATION',
  ERR_INVALID_UTF8: 'ERR_PROTOCOL_VIOLATION',
  ERR_INVALID_JSON: 'ERR_PROTOCOL_VIOLATION',
  ERR_ABORTED: 'ERR_CANCELLED',
})

const CODED = /^ERR_[A-Z0-9_]{1,60}$/

/**
 * The task error code of something that went wrong on this node: an engine record's code, a
 * thrown error's `code`. An uncoded error is `ERR_INTERNAL`; a coded one the table does not know
 * came from the task's own code (`ERR_TASK_FAILED`).
 */
export function localCode(code: unknown): TaskErrorCode {
  if (typeof code !== 'string' || !CODED.test(code)) return 'ERR_INTERNAL'
  return ALIASES[code] ?? toTaskErrorCode(code, 'ERR_TASK_FAILED')
}

/** The task error code of a thrown value (see `localCode`). */
export function codeOf(err: unknown): TaskErrorCode {
  return localCode((err as { code?: unknown } | null)?.code)
}

/**
 * The task error code of a peer's answer: a rejection's code, or a failed result's (whose status
 * decides for `timeout` and `cancelled`). A code this node does not know is read as §6.2 says.
 */
export function remoteCode(code: string, status?: 'failed' | 'timeout' | 'cancelled'): TaskErrorCode {
  if (status === 'timeout') return 'ERR_TIMEOUT'
  if (status === 'cancelled') return 'ERR_CANCELLED'
  return toTaskErrorCode(code, status === undefined ? 'ERR_INTERNAL' : 'ERR_TASK_FAILED')
}

/**
 * An error (thrown, or an engine record's) as `{ code, message }` with its code normalised (see
 * `localCode`). A code that is not a task error code stays readable at the front of the message
 * (`ERR_MOCK_FAILURE: …`); an uncoded error's details stay on this machine.
 */
export function taskErrorOf(err: unknown): { code: TaskErrorCode; message: string } {
  const original = (err as { code?: unknown } | null)?.code
  const message = (err as { message?: unknown } | null)?.message
  const text = typeof message === 'string' ? message : ''
  if (typeof original !== 'string' || !CODED.test(original))
    return { code: 'ERR_INTERNAL', message: 'internal error' }
  const code = localCode(original)
  if (code === original || ALIASES[original] !== undefined) return { code, message: text || code }
  return { code, message: text.startsWith(original) ? text : `${original}: ${text}` }
}
