/**
 * Errors of content by CID, shared by the node and its content plug-in. The first two carry task
 * error codes (docs/protocol.md §6.2), so they cross the wire as they are.
 */
import { TASK_ERROR_CODES } from '@p2p-ai/protocol'

/** Content could not be had whole, intact and in time (no peer had it, a block stalled, the DAG is broken). */
export class ContentUnavailableError extends Error {
  static readonly code = TASK_ERROR_CODES.contentUnavailable
  readonly code = ContentUnavailableError.code
  override readonly name = 'ContentUnavailableError'
}

/** Content is larger than this node takes (`content.maxBytes`), or than its disk limit leaves room for. */
export class ContentTooLargeError extends Error {
  static readonly code = TASK_ERROR_CODES.contentTooLarge
  readonly code = ContentTooLargeError.code
  override readonly name = 'ContentTooLargeError'
}

/** Content that should be one JSON text (a task's input or output) is not. */
export class InvalidContentError extends Error {
  static readonly code = 'ERR_INVALID_CONTENT'
  readonly code = InvalidContentError.code
  override readonly name = 'InvalidContentError'
}

/** This node has no content plug-in (`content.enabled`), or it is not running. */
export class ContentDisabledError extends Error {
  static readonly code = 'ERR_CONTENT_DISABLED'
  readonly code = ContentDisabledError.code
  override readonly name = 'ContentDisabledError'
}
