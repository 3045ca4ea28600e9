/** No model with this name is registered, or its files are missing from disk. */
export class ModelNotFoundError extends Error {
  static readonly code = 'ERR_MODEL_NOT_FOUND'
  readonly code = ModelNotFoundError.code
  override readonly name = 'ModelNotFoundError'
}

/**
 * A model's files cannot be trusted or used: the sha256 differs from the one registered or
 * recorded when it was pulled, ONNX Runtime cannot parse the graph, or a companion file
 * (`tokenizer.json`, an OCR dictionary) is malformed.
 */
export class ModelCorruptError extends Error {
  static readonly code = 'ERR_MODEL_CORRUPT'
  readonly code = ModelCorruptError.code
  override readonly name = 'ModelCorruptError'
}

/** A registry entry or `pullModel` argument is malformed (bad name, relative path, bad sha256...). */
export class InvalidModelEntryError extends Error {
  static readonly code = 'ERR_INVALID_MODEL_ENTRY'
  readonly code = InvalidModelEntryError.code
  override readonly name = 'InvalidModelEntryError'
}

/** The model exists but cannot serve this task (e.g. `embed` on a graph without `input_ids`). */
export class UnsupportedModelError extends Error {
  static readonly code = 'ERR_UNSUPPORTED_MODEL'
  readonly code = UnsupportedModelError.code
  override readonly name = 'UnsupportedModelError'
}

/**
 * An input tensor does not match the model: unknown or missing name, wrong dtype, wrong rank or
 * size, data that does not fit the dtype. The message names the input, what was expected and what
 * was given.
 */
export class InvalidTensorError extends Error {
  static readonly code = 'ERR_INVALID_TENSOR'
  readonly code = InvalidTensorError.code
  override readonly name = 'InvalidTensorError'
}

/** The named tokenizer does not exist: neither `words` nor a registered model with a `tokenizer.json`. */
export class TokenizerNotFoundError extends Error {
  static readonly code = 'ERR_TOKENIZER_NOT_FOUND'
  readonly code = TokenizerNotFoundError.code
  override readonly name = 'TokenizerNotFoundError'
}

/** The image could not be decoded (not PNG/JPEG/WebP/..., truncated, too large, bad base64). */
export class InvalidImageError extends Error {
  static readonly code = 'ERR_INVALID_IMAGE'
  readonly code = InvalidImageError.code
  override readonly name = 'InvalidImageError'
}

/** ONNX Runtime rejected a run that passed validation (e.g. a shape conflict inside the graph). */
export class InferenceFailedError extends Error {
  static readonly code = 'ERR_INFERENCE_FAILED'
  readonly code = InferenceFailedError.code
  override readonly name = 'InferenceFailedError'
}

/** The `onnx` backend's init is invalid (negative thread count, zero cache size...). */
export class InvalidOnnxOptionsError extends Error {
  static readonly code = 'ERR_INVALID_ONNX_OPTIONS'
  readonly code = InvalidOnnxOptionsError.code
  override readonly name = 'InvalidOnnxOptionsError'
}

/** Why a download failed; stable values callers may switch on. */
export type DownloadFailureReason =
  /** The host name did not resolve (offline, or no such host). */
  | 'dns'
  /** Nothing listens at the endpoint. */
  | 'connection-refused'
  /** The connection was reset, or another socket-level error. */
  | 'network'
  /** No bytes arrived for the stall timeout. */
  | 'timeout'
  /** The server answered with a non-2xx status; see `status`. */
  | 'http-status'
  /** The bytes received do not match the sha256 the server announced. */
  | 'integrity'
  /** Too many redirects, or a redirect without a usable `Location`. */
  | 'redirect'
  /** The download could not be written to disk. */
  | 'filesystem'

/** A model download failed; `reason` says why and `status` holds the HTTP status if there was one. */
export class ModelDownloadFailedError extends Error {
  static readonly code = 'ERR_MODEL_DOWNLOAD_FAILED'
  readonly code = ModelDownloadFailedError.code
  override readonly name = 'ModelDownloadFailedError'
  readonly reason: DownloadFailureReason
  readonly url: string
  readonly status?: number

  constructor(
    message: string,
    details: { reason: DownloadFailureReason; url: string; status?: number },
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.reason = details.reason
    this.url = details.url
    if (details.status !== undefined) this.status = details.status
  }
}
