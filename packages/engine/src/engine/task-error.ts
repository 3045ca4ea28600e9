import { MAX_ERROR_MESSAGE_LENGTH } from '../constants.js'
import { BackendFailedError, RemoteTaskError } from '../errors.js'
import type { TaskErrorInfo } from '../types.js'

const CODE = /^ERR_[A-Z0-9_]+$/

/** The code of `err` if it carries one in the house format (`ERR_SOME_THING`). */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' && CODE.test(code) ? code : undefined
}

function messageOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.length > MAX_ERROR_MESSAGE_LENGTH
    ? `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH)}…`
    : message
}

/**
 * What a task record says about a failure: the error's own code, or `ERR_BACKEND_FAILED` with the
 * error's message for anything uncoded (a bug in a backend, a library's plain `Error`).
 */
export function taskErrorInfo(err: unknown): TaskErrorInfo {
  return { code: codeOf(err) ?? BackendFailedError.code, message: messageOf(err) }
}

/** An `Error` with a code for a failure known only by code, name and message. */
export function toError(info: {
  readonly code?: string
  readonly name?: string
  readonly message: string
}): Error {
  const code = info.code !== undefined && CODE.test(info.code) ? info.code : undefined
  if (code === undefined) return new BackendFailedError(info.message)
  return new RemoteTaskError(code, info.message, info.name)
}
