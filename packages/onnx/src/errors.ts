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
