/**
 * Helpers around the task exchange: building requests, binding results to requests, and moving
 * errors across the wire.
 */
import { randomUUID } from 'node:crypto'
import type { JsonObject } from './canonical-json.js'
import { DEFAULT_PRIORITY, DEFAULT_TIMEOUT_MS, MAX_ERROR_MESSAGE_LENGTH } from './constants.js'
import type { PreparedEnvelope, SignedEnvelope } from './envelope.js'
import { RemoteError, ResultMismatchError } from './errors.js'
import type { ContentRef, TaskRequest, TaskResult, WireError } from './messages.js'
import { TASK_ERROR_CODES } from './task-errors.js'
import type { TraceContext } from './trace.js'

export interface TaskRequestInit {
  /** The requesting node's PeerId (the one that will sign the request). */
  requester: string
  /** What to run, like `embed`. */
  taskType: string
  /** Task-type specific input. Exactly one of `input` and `inputRef`. */
  input?: JsonObject
  /**
   * The input as content by CID (minor 5, docs/protocol.md §2.9): the UTF-8 JSON text of the input
   * object, fetched by the provider. Only towards a peer that announced `capabilities.content`.
   */
  inputRef?: ContentRef
  /**
   * Requester-chosen task id.
   *
   * @default a random UUID
   */
  id?: string
  /**
   * 0 (lowest) to 9 (highest).
   *
   * @default 5
   */
  priority?: number
  /**
   * How long the provider may take, from receiving the request to sending the result
   * (queueing included).
   *
   * @default 30_000
   */
  timeoutMs?: number
  /**
   * When the requester created the task, ms since the epoch.
   *
   * @default Date.now()
   */
  createdAt?: number
  /**
   * The trace context (minor 3): only towards a provider that announced protocol minor 3 or later,
   * and never on a request that will travel inside a `task.forward` (docs/protocol.md §2.7).
   */
  trace?: TraceContext
  /**
   * Minor 6: the checkpoint an earlier attempt reported, for the provider to start from
   * (docs/protocol.md §2.8). Send it only to a provider that announced minor 6 or later.
   */
  resume?: TaskResume
}

/** A checkpoint to resume from, as `task.request` carries it (minor 6). */
export type TaskResume = NonNullable<TaskRequest['resume']>

/** A fresh task id: a random (version 4) UUID. */
export function newTaskId(): string {
  return randomUUID()
}

/** Builds a task request payload, filling in defaults. `sealEnvelope` validates it. */
export function createTaskRequest(init: TaskRequestInit): TaskRequest {
  // Members in canonical order, so that canonicalizing the envelope takes its fast path.
  return {
    createdAt: init.createdAt ?? Date.now(),
    id: init.id ?? newTaskId(),
    ...(init.inputRef === undefined ? { input: init.input as JsonObject } : { inputRef: init.inputRef }),
    priority: init.priority ?? DEFAULT_PRIORITY,
    requester: init.requester,
    ...(init.resume === undefined ? {} : { resume: init.resume }),
    taskType: init.taskType,
    timeoutMs: init.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    ...(init.trace === undefined ? {} : { trace: init.trace }),
  }
}

/**
 * Checks that `result` answers `request`: same task id, and `requestHash` equal to the digest of
 * the signed request. A provider cannot then pass off a result computed for other input.
 *
 * @throws {ResultMismatchError}
 */
export function assertResultMatches(
  request: SignedEnvelope<'task.request'> | PreparedEnvelope<'task.request'>,
  result: TaskResult,
): void {
  const id = 'envelope' in request ? request.envelope.payload.id : request.unsigned.payload.id
  if (result.id !== id) {
    throw new ResultMismatchError(`result is for task ${result.id}, not ${id}`)
  }
  if (result.requestHash !== request.digest) {
    throw new ResultMismatchError(`result for task ${result.id} quotes a different request hash`)
  }
}

const ERROR_CODE = /^ERR_[A-Z0-9_]{1,60}$/
const LONE_SURROGATES = /\p{Surrogate}/gu

/**
 * Converts any thrown value to the `{ code, message }` sent in `task.reject` and `task.result`.
 * Errors with a well-formed `code` (`ERR_…`) keep it and their message (trimmed to 1,024
 * characters); anything else becomes `ERR_INTERNAL` with a generic message, so that stack
 * details and file paths stay on this machine.
 */
export function toWireError(err: unknown): WireError {
  const code = (err as { code?: unknown } | null)?.code
  const message = (err as { message?: unknown } | null)?.message
  if (typeof code !== 'string' || !ERROR_CODE.test(code) || typeof message !== 'string') {
    return { code: TASK_ERROR_CODES.internal, message: 'internal error' }
  }
  let text = message.replace(LONE_SURROGATES, '\uFFFD')
  if (text.length > MAX_ERROR_MESSAGE_LENGTH) {
    text = text.slice(0, MAX_ERROR_MESSAGE_LENGTH)
    // Never cut a surrogate pair in half: that would leave a string the schema refuses.
    if (/[\uD800-\uDBFF]$/.test(text)) {
      text = text.slice(0, -1)
    }
  }
  return { code, message: text }
}

/** Turns a wire error received from `peer` back into a throwable {@link RemoteError}. */
export function fromWireError(error: WireError): RemoteError {
  return new RemoteError(error.code, error.message)
}
