// One class per failure, each with a stable `code`: only `code` and `message` cross the wire, so
// every message says what went wrong and what to do about it. A missing or damaged model is the
// engine's `ModelNotFoundError` (`ERR_MODEL_NOT_FOUND`) or `ModelCorruptError` (`ERR_MODEL_CORRUPT`),
// so the network treats an ONNX model and a GGUF model that are missing or damaged alike; a bad
// model entry is the engine's `InvalidModelEntryError` (`ERR_INVALID_MODEL_ENTRY`).

/**
 * The model with its context needs more memory than the engine's memory budget (or than the
 * machine has free): the engine's `ModelTooLargeError`, one class for every backend.
 */
export { ModelTooLargeError } from '@p2p-ai/engine'

/** The prompt (after the chat template) does not fit the model's context. */
export class ContextLengthExceededError extends Error {
  static readonly code = 'ERR_CONTEXT_LENGTH_EXCEEDED'
  readonly code = ContextLengthExceededError.code
  override readonly name = 'ContextLengthExceededError'
}

/** The backend's init is invalid (zero threads, a negative budget...). */
export class InvalidLlamaOptionsError extends Error {
  static readonly code = 'ERR_INVALID_LLAMA_OPTIONS'
  readonly code = InvalidLlamaOptionsError.code
  override readonly name = 'InvalidLlamaOptionsError'
}

/**
 * llama.cpp's native binary cannot be loaded on this machine (no prebuilt binary for the
 * platform, or the platform package was not installed). The backend never downloads or compiles
 * one itself.
 */
export class LlamaUnavailableError extends Error {
  static readonly code = 'ERR_LLAMA_UNAVAILABLE'
  readonly code = LlamaUnavailableError.code
  override readonly name = 'LlamaUnavailableError'
}

/** llama.cpp failed in the middle of a generation (a decode error, a disposed context...). */
export class GenerationFailedError extends Error {
  static readonly code = 'ERR_GENERATION_FAILED'
  readonly code = GenerationFailedError.code
  override readonly name = 'GenerationFailedError'
}

/**
 * A pull's reference does not name exactly one GGUF file of the repository: no file has the
 * quantization, several do, the model is split in several files, or the repository has none. The
 * message lists the quantizations the repository has.
 */
export class GgufFileNotFoundError extends Error {
  static readonly code = 'ERR_GGUF_FILE_NOT_FOUND'
  readonly code = GgufFileNotFoundError.code
  override readonly name = 'GgufFileNotFoundError'
}
