/**
 * Errors of the content plug-in. Content that cannot be had or is too large fails with the node's
 * `ContentUnavailableError` and `ContentTooLargeError` (task error codes, docs/protocol.md §6.2);
 * these are the plug-in's own.
 */

/** No connected peer announces the model asked for (with that SHA-256, when one was given). */
export class ModelNotInSwarmError extends Error {
  static readonly code = 'ERR_MODEL_NOT_IN_SWARM'
  readonly code = ModelNotInSwarmError.code
  override readonly name = 'ModelNotInSwarmError'
}
