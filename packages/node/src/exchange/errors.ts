/**
 * Errors of the task exchange. Callers match on `code`; the per-attempt ones also end up in a
 * task's `attempts` list, where they explain a failover.
 */

/** One try of a task on one peer (or locally), as kept in the task record. */
export interface AttemptInfo {
  /** The provider's PeerId; this node's own PeerId for a local run. */
  readonly peer: string
  /** 1-based. */
  readonly attempt: number
  readonly startedAt: number
  readonly finishedAt?: number
  /** Why the attempt did not produce the task's result; absent for the one that did. */
  readonly error?: { readonly code: string; readonly message: string }
}

/** No connected peer announces the task type (or every one that does is avoided right now). */
export class NoCapablePeerError extends Error {
  static readonly code = 'ERR_NO_CAPABLE_PEER'
  readonly code = NoCapablePeerError.code
  override readonly name = 'NoCapablePeerError'
}

/** Every allowed attempt failed; `attempts` says where and why, one entry per attempt. */
export class RetriesExhaustedError extends Error {
  static readonly code = 'ERR_RETRIES_EXHAUSTED'
  readonly code = RetriesExhaustedError.code
  override readonly name = 'RetriesExhaustedError'
  readonly attempts: readonly AttemptInfo[]

  constructor(attempts: readonly AttemptInfo[]) {
    const reasons = attempts.map((a) => `#${a.attempt} ${short(a.peer)}: ${a.error?.code ?? 'unknown'}`)
    super(`all ${attempts.length} attempts failed (${reasons.join('; ')})`)
    this.attempts = attempts
  }
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

/** The exchange (the node) stopped before the task finished, or was stopped when it was submitted. */
export class ExchangeStoppedError extends Error {
  static readonly code = 'ERR_EXCHANGE_STOPPED'
  readonly code = ExchangeStoppedError.code
  override readonly name = 'ExchangeStoppedError'
}

/** The caller cancelled the task (`handle.cancel()` or its `signal`). */
export class TaskCancelledError extends Error {
  static readonly code = 'ERR_CANCELLED'
  readonly code = TaskCancelledError.code
  override readonly name = 'TaskCancelledError'
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

/**
 * A redundant run (`redundancy: k`) ended without a majority of the k providers agreeing;
 * `answers` lists who signed each completed answer.
 */
export class NoAgreementError extends Error {
  static readonly code = 'ERR_NO_AGREEMENT'
  readonly code = NoAgreementError.code
  override readonly name = 'NoAgreementError'
  readonly answers: readonly RedundantAnswer[]

  constructor(message: string, answers: readonly RedundantAnswer[]) {
    super(message)
    this.answers = answers
  }
}

function short(peer: string): string {
  return peer.length > 16 ? `…${peer.slice(-8)}` : peer
}
