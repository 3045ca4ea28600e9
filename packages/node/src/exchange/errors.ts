/**
 * Errors of the task exchange. Callers match on `code`. A task that fails is one
 * `TaskFailedError` (from `handle.output()`), whose `code` is one of the task error codes
 * (`TaskErrorCode`); the per-attempt classes below are how this node's own findings carry their
 * code until they land in a task's `attempts` list, where they explain a failover.
 */
import type { TaskErrorCode } from '@p2p-ai/protocol'

/** One try of a task on one peer (or locally), as kept in the task record. */
export interface AttemptInfo {
  /** The provider's PeerId; this node's own PeerId for a local run. */
  readonly peer: string
  /** 1-based. */
  readonly attempt: number
  readonly startedAt: number
  readonly finishedAt?: number
  /** Why the attempt did not produce the task's result; absent for the one that did. */
  readonly error?: { readonly code: TaskErrorCode; readonly message: string }
}

/**
 * This node paused (its owner's limits: idle time only, a time window, on battery) and handed a
 * peer's task back before running it, or while it still ran after the grace period. On the wire it
 * is `ERR_BUSY`: the requester tries another peer.
 */
export class NodePausedError extends Error {
  static readonly code = 'ERR_NODE_PAUSED'
  readonly code = NodePausedError.code
  override readonly name = 'NodePausedError'
}

/** The task stream or the connection to the provider closed before the result arrived. */
export class PeerDisconnectedError extends Error {
  static readonly code = 'ERR_PEER_DISCONNECTED'
  readonly code = PeerDisconnectedError.code
  override readonly name = 'PeerDisconnectedError'
}

/** The provider stopped answering: no accept in time, or no answer to a liveness ping. */
export class PeerUnresponsiveError extends Error {
  static readonly code = 'ERR_PEER_UNRESPONSIVE'
  readonly code = PeerUnresponsiveError.code
  override readonly name = 'PeerUnresponsiveError'
}

/** No result arrived within the task's `timeoutMs` plus a grace period for the network. */
export class ResultTimeoutError extends Error {
  static readonly code = 'ERR_RESULT_TIMEOUT'
  readonly code = ResultTimeoutError.code
  override readonly name = 'ResultTimeoutError'
}

/** A task stream to the peer could not be opened (dial or protocol negotiation failed). */
export class StreamOpenError extends Error {
  static readonly code = 'ERR_STREAM_OPEN_FAILED'
  readonly code = StreamOpenError.code
  override readonly name = 'StreamOpenError'
}

/** The peer broke the task protocol (a message out of order, of the wrong type or direction). */
export class ProtocolViolationError extends Error {
  static readonly code = 'ERR_PROTOCOL_VIOLATION'
  readonly code = ProtocolViolationError.code
  override readonly name = 'ProtocolViolationError'
}

/** `target` is neither `'auto'`, `'local'` nor a PeerId. */
export class InvalidTargetError extends Error {
  static readonly code = 'ERR_INVALID_TARGET'
  readonly code = InvalidTargetError.code
  override readonly name = 'InvalidTargetError'
}

/** The task given to `submit` is malformed (type, input, priority, timeout or id). */
export class InvalidTaskError extends Error {
  static readonly code = 'ERR_INVALID_TASK'
  readonly code = InvalidTaskError.code
  override readonly name = 'InvalidTaskError'
}

/**
 * Verification by redundancy was asked for a run that cannot repeat itself: a `generate` that
 * samples (temperature above 0) without a seed. Exact agreement needs greedy or seeded decoding.
 */
export class NondeterministicTaskError extends Error {
  static readonly code = 'ERR_NONDETERMINISTIC_TASK'
  readonly code = NondeterministicTaskError.code
  override readonly name = 'NondeterministicTaskError'
}

/** The exchange (the node) stopped before the task finished, or was stopped when it was submitted. */
export class ExchangeStoppedError extends Error {
  static readonly code = 'ERR_EXCHANGE_STOPPED'
  readonly code = ExchangeStoppedError.code
  override readonly name = 'ExchangeStoppedError'
}

/** A task definition given to `registerTask` is malformed. */
export class InvalidTaskDefinitionError extends Error {
  static readonly code = 'ERR_INVALID_TASK_DEFINITION'
  readonly code = InvalidTaskDefinitionError.code
  override readonly name = 'InvalidTaskDefinitionError'
}

/**
 * The access policy refuses the peer: a request from a peer not on this node's allowlist, a task
 * for a peer not on it, or a forwarded result signed by one.
 */
export class AccessDeniedError extends Error {
  static readonly code = 'ERR_ACCESS_DENIED'
  readonly code = AccessDeniedError.code
  override readonly name = 'AccessDeniedError'
}

/** One provider's completed answer in a redundant run (`redundancy: k`). */
export interface RedundantAnswer {
  /** Who signed the result (this node's PeerId for a local run). */
  readonly peer: string
  /** Whether it agrees with the accepted answer (false for every answer when there is none). */
  readonly agreed: boolean
}

/** A task record's error: its code, why, and whether a provider said so (rather than this node). */
export interface TaskRecordError {
  readonly code: TaskErrorCode
  readonly message: string
  /** The failure is a provider's own answer (a `task.reject` or a failed `task.result`). */
  readonly remote?: true
}

/**
 * A task did not complete: what `handle.output()` rejects with. `code` says why (one of the task
 * error codes, docs/protocol.md §6.2); `attempts` lists every attempt and its own code.
 */
export class TaskFailedError extends Error {
  override readonly name = 'TaskFailedError'
  readonly code: TaskErrorCode
  readonly taskId: string
  /** Every attempt, in order, each with why it did not produce the result. */
  readonly attempts: readonly AttemptInfo[]
  /** Whether a provider answered this failure (a rejection or a failed result), rather than this node finding it. */
  readonly remote: boolean
  /** For `ERR_NO_AGREEMENT`: who signed each completed answer, and whether it agreed with the majority. */
  readonly answers: readonly RedundantAnswer[]

  constructor(
    taskId: string,
    error: TaskRecordError,
    attempts: readonly AttemptInfo[],
    answers: readonly RedundantAnswer[] = [],
  ) {
    super(error.message)
    this.code = error.code
    this.taskId = taskId
    this.attempts = attempts
    this.remote = error.remote === true
    this.answers = answers
  }
}

/** The message of `ERR_RETRIES_EXHAUSTED`: each attempt's peer and code. */
/**
 * Why a task ran out of attempts: each one's reason, and, when it stopped before `maxAttempts`
 * because no route was left (the peer it is pinned to is gone, say), that too: "2 of 4 attempts
 * failed" is what happened, "all 2 attempts failed" would not be.
 */
export function exhaustedMessage(
  attempts: readonly AttemptInfo[],
  maxAttempts: number,
  noRoute?: string,
): string {
  const reasons = attempts.map((a) => `#${a.attempt} ${short(a.peer)}: ${a.error?.code ?? 'unknown'}`)
  const head =
    attempts.length >= maxAttempts
      ? `all ${attempts.length} attempts failed`
      : `${attempts.length} of ${maxAttempts} attempts failed`
  return `${head} (${reasons.join('; ')})${noRoute === undefined ? '' : `, then ${noRoute}`}`
}

function short(peer: string): string {
  return peer.length > 16 ? `…${peer.slice(-8)}` : peer
}
