/**
 * One class per failure. Callers match on `code`, which is stable and is the only thing
 * (with `message`) that crosses the wire; `name` equals the class name for stack traces.
 */

/** Base class of every error this package throws or yields. */
export abstract class ProtocolError extends Error {
  abstract readonly code: string
}

// ---- framing (yielded by the decoders) ------------------------------------------------------

/** A frame's length prefix announces more bytes than `maxFrameBytes`. Fatal for the stream. */
export class FrameTooLargeError extends ProtocolError {
  static readonly code = 'ERR_FRAME_TOO_LARGE'
  readonly code = FrameTooLargeError.code
  override readonly name = 'FrameTooLargeError'
}

/** The stream ended inside a length prefix or a frame body. Fatal for the stream. */
export class FrameTruncatedError extends ProtocolError {
  static readonly code = 'ERR_FRAME_TRUNCATED'
  readonly code = FrameTruncatedError.code
  override readonly name = 'FrameTruncatedError'
}

/** The length prefix is not a minimal unsigned varint of at most 9 bytes. Fatal for the stream. */
export class InvalidVarintError extends ProtocolError {
  static readonly code = 'ERR_INVALID_VARINT'
  readonly code = InvalidVarintError.code
  override readonly name = 'InvalidVarintError'
}

/** A frame body is not well-formed UTF-8. The frame is skipped; the stream goes on. */
export class InvalidUtf8Error extends ProtocolError {
  static readonly code = 'ERR_INVALID_UTF8'
  readonly code = InvalidUtf8Error.code
  override readonly name = 'InvalidUtf8Error'
}

/** A frame body is not one JSON text. The frame is skipped; the stream goes on. */
export class InvalidJsonError extends ProtocolError {
  static readonly code = 'ERR_INVALID_JSON'
  readonly code = InvalidJsonError.code
  override readonly name = 'InvalidJsonError'
}

/** The byte source itself threw (for example a stream reset); the original error is `cause`. */
export class StreamFailedError extends ProtocolError {
  static readonly code = 'ERR_STREAM_FAILED'
  readonly code = StreamFailedError.code
  override readonly name = 'StreamFailedError'
}

/** The caller's `signal` aborted the operation. */
export class AbortedError extends ProtocolError {
  static readonly code = 'ERR_ABORTED'
  readonly code = AbortedError.code
  override readonly name = 'AbortedError'
}

// ---- values and messages --------------------------------------------------------------------

/**
 * A value cannot be canonicalized or serialized as JSON: a non-finite number, a lone
 * surrogate, `undefined`, a non-plain object, a cycle or nesting deeper than the limit.
 */
export class InvalidJsonValueError extends ProtocolError {
  static readonly code = 'ERR_INVALID_JSON_VALUE'
  readonly code = InvalidJsonValueError.code
  override readonly name = 'InvalidJsonValueError'
  /** Where the offending value sits, like `payload.input.values[3]` (empty for the root). */
  readonly path: string
  /** What is wrong with it, without the path. */
  readonly reason: string

  constructor(path: string, reason: string) {
    super(path === '' ? reason : `${path}: ${reason}`)
    this.path = path
    this.reason = reason
  }
}

/** A message does not match its schema: wrong type, out of range, unknown or missing field. */
export class InvalidMessageError extends ProtocolError {
  static readonly code = 'ERR_INVALID_MESSAGE'
  readonly code = InvalidMessageError.code
  override readonly name = 'InvalidMessageError'
  /** The offending field, like `payload.timeoutMs` (empty for the envelope itself). */
  readonly path: string

  constructor(path: string, reason: string) {
    super(path === '' ? `invalid message: ${reason}` : `invalid message at ${path}: ${reason}`)
    this.path = path
  }
}

/** The envelope's `v` is a major version this implementation does not speak. */
export class UnsupportedVersionError extends ProtocolError {
  static readonly code = 'ERR_UNSUPPORTED_VERSION'
  readonly code = UnsupportedVersionError.code
  override readonly name = 'UnsupportedVersionError'
}

// ---- authenticity ---------------------------------------------------------------------------

/** The signature does not verify under the public key embedded in `from`. */
export class BadSignatureError extends ProtocolError {
  static readonly code = 'ERR_BAD_SIGNATURE'
  readonly code = BadSignatureError.code
  override readonly name = 'BadSignatureError'
}

/**
 * The signer is not who it should be: `from` differs from the connection's remote peer, or a
 * task request names a `requester` other than its signer.
 */
export class SignerMismatchError extends ProtocolError {
  static readonly code = 'ERR_SIGNER_MISMATCH'
  readonly code = SignerMismatchError.code
  override readonly name = 'SignerMismatchError'
}

/** `ts` lies outside the accepted clock skew, or is older than the replay cache can vouch for. */
export class StaleMessageError extends ProtocolError {
  static readonly code = 'ERR_STALE_MESSAGE'
  readonly code = StaleMessageError.code
  override readonly name = 'StaleMessageError'
}

/** The same sender already used this nonce inside the window. */
export class ReplayedNonceError extends ProtocolError {
  static readonly code = 'ERR_REPLAYED_NONCE'
  readonly code = ReplayedNonceError.code
  override readonly name = 'ReplayedNonceError'
}

/** A task result does not answer the request it is matched with (task id or request hash differ). */
export class ResultMismatchError extends ProtocolError {
  static readonly code = 'ERR_RESULT_MISMATCH'
  readonly code = ResultMismatchError.code
  override readonly name = 'ResultMismatchError'
}

// ---- usage ----------------------------------------------------------------------------------

/** A construction or call option is out of range. Thrown synchronously, before any work. */
export class InvalidOptionError extends ProtocolError {
  static readonly code = 'ERR_INVALID_OPTION'
  readonly code = InvalidOptionError.code
  override readonly name = 'InvalidOptionError'
}

/**
 * A forwarded task (`task.forward`) reached a node that is already on its route: it went round in
 * a circle.
 */
export class ForwardLoopError extends ProtocolError {
  static readonly code = 'ERR_FORWARD_LOOP'
  readonly code = ForwardLoopError.code
  override readonly name = 'ForwardLoopError'
}

/**
 * An error a remote peer reported in a `task.reject` or `task.result`. Unlike the other
 * classes its `code` is whatever the peer sent (for example `ERR_BUSY`); `remote` marks it.
 */
export class RemoteError extends ProtocolError {
  readonly code: string
  override readonly name = 'RemoteError'
  readonly remote = true

  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/** Errors the frame decoders yield; `fatal` ones end the stream. */
export type FrameError =
  | FrameTooLargeError
  | FrameTruncatedError
  | InvalidVarintError
  | InvalidUtf8Error
  | InvalidJsonError
  | StreamFailedError
  | AbortedError
