import type { StandardSchemaV1 } from '@standard-schema/spec'
import {
  MAX_FLOW_LENGTH,
  MAX_INPUT_ISSUES,
  MAX_META_ENTRIES,
  MAX_META_KEY_LENGTH,
  MAX_META_VALUE_LENGTH,
  MAX_TASK_ID_LENGTH,
} from '../constants.js'
import { type InputIssue, InvalidInputError, InvalidRequestError } from '../errors.js'
import type { TaskMeta, TaskRequest } from '../types.js'
import { MAX_WEIGHT } from './scheduler.js'

// Printable ASCII without spaces: safe in logs, file names, CLI arguments and SQL parameters.
const TASK_ID = /^[\x21-\x7e]+$/
// The registry's rule for task type names; anything else cannot be registered, so is not echoed back.
const TASK_TYPE = /^[a-z0-9][a-z0-9._-]{0,63}$/

/** Checks everything of a request but its input; throws `InvalidRequestError` naming the field. */
export function validateRequest(request: TaskRequest, maxTimeoutMs: number): void {
  if (request == null || typeof request !== 'object')
    throw new InvalidRequestError('a task request must be an object')
  const { id, type, priority, timeoutMs, meta, persist, timeoutFrom, resume, flow, weight } = request
  if (id !== undefined) {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_TASK_ID_LENGTH || !TASK_ID.test(id)) {
      throw new InvalidRequestError(
        `id: must be 1 to ${MAX_TASK_ID_LENGTH} printable ASCII characters without spaces, got ${describe(id)}`,
      )
    }
  }
  if (typeof type !== 'string' || !TASK_TYPE.test(type)) {
    throw new InvalidRequestError(`type: must match ${TASK_TYPE}, got ${describe(type)}`)
  }
  if (priority !== undefined && !Number.isSafeInteger(priority)) {
    throw new InvalidRequestError(`priority: must be an integer, got ${describe(priority)}`)
  }
  if (timeoutMs !== undefined) {
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > maxTimeoutMs) {
      throw new InvalidRequestError(
        `timeoutMs: must be an integer from 1 to ${maxTimeoutMs}, got ${describe(timeoutMs)}`,
      )
    }
  }
  if (meta !== undefined) validateMeta(meta)
  if (resume !== undefined) {
    const fraction = (resume as { fraction?: unknown } | null)?.fraction
    if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
      throw new InvalidRequestError(
        `resume: must be { state, fraction } with fraction from 0 to 1, got ${describe(resume)}`,
      )
    }
  }
  if (flow !== undefined && (typeof flow !== 'string' || flow.length > MAX_FLOW_LENGTH)) {
    throw new InvalidRequestError(
      `flow: must be a string of at most ${MAX_FLOW_LENGTH} characters, got ${describe(flow)}`,
    )
  }
  if (weight !== undefined && (!Number.isSafeInteger(weight) || weight < 1 || weight > MAX_WEIGHT)) {
    throw new InvalidRequestError(
      `weight: must be an integer from 1 to ${MAX_WEIGHT}, got ${describe(weight)}`,
    )
  }
  if (timeoutFrom !== undefined && timeoutFrom !== 'start' && timeoutFrom !== 'submit') {
    throw new InvalidRequestError(`timeoutFrom: must be 'start' or 'submit', got ${describe(timeoutFrom)}`)
  }
  if (
    persist !== undefined &&
    persist !== 'before-result' &&
    persist !== 'background' &&
    persist !== 'memory'
  ) {
    throw new InvalidRequestError(
      `persist: must be 'before-result', 'background' or 'memory', got ${describe(persist)}`,
    )
  }
}

function validateMeta(meta: TaskMeta): void {
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new InvalidRequestError('meta: must be an object of strings')
  }
  const entries = Object.entries(meta)
  if (entries.length > MAX_META_ENTRIES) {
    throw new InvalidRequestError(`meta: at most ${MAX_META_ENTRIES} entries, got ${entries.length}`)
  }
  for (const [key, value] of entries) {
    if (key.length > MAX_META_KEY_LENGTH) {
      throw new InvalidRequestError(
        `meta: key ${describe(key)} is longer than ${MAX_META_KEY_LENGTH} characters`,
      )
    }
    if (typeof value !== 'string' || value.length > MAX_META_VALUE_LENGTH) {
      throw new InvalidRequestError(
        `meta.${key}: must be a string of at most ${MAX_META_VALUE_LENGTH} characters`,
      )
    }
  }
}

/**
 * Validates `input` against a task type's schema. Returns the parsed value (schemas may apply
 * defaults or coercions), or a promise of it for asynchronous schemas; throws (or rejects with)
 * `InvalidInputError` listing every issue with its field path.
 */
export function validateInput(
  type: string,
  schema: StandardSchemaV1,
  input: unknown,
): unknown | Promise<unknown> {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>
  try {
    result = schema['~standard'].validate(input)
  } catch (err) {
    throw new InvalidInputError(`invalid input for task type "${type}": the schema threw: ${String(err)}`)
  }
  if (result instanceof Promise) return result.then((r) => unwrap(type, r))
  return unwrap(type, result)
}

function unwrap(type: string, result: StandardSchemaV1.Result<unknown>): unknown {
  if (result.issues === undefined) return result.value
  // Bounded: an array of a million bad items must not become a million-line error.
  const issues: InputIssue[] = result.issues.slice(0, MAX_INPUT_ISSUES).map((issue) => ({
    path: formatPath(issue.path),
    message: issue.message.slice(0, 200),
  }))
  const more = result.issues.length - issues.length
  const summary =
    issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; ') +
    (more > 0 ? `; and ${more} more` : '')
  throw new InvalidInputError(`invalid input for task type "${type}": ${summary}`, issues)
}

/** `['items', 2, 'text']` → `items[2].text`. */
export function formatPath(path: StandardSchemaV1.Issue['path']): string {
  if (path === undefined) return ''
  let out = ''
  for (const segment of path) {
    const key = typeof segment === 'object' && segment !== null ? segment.key : segment
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return typeof value
}
