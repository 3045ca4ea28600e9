/**
 * Checks what comes back on an outbound task stream: control messages from the provider, and
 * signed results against the exact request they answer.
 */
import { assertResultMatches, openEnvelope, type TaskResult } from '@p2p-ai/protocol'
import { AccessDeniedError, ProtocolViolationError } from './errors.js'
import type { PendingAttempt, RequestRef, TaskRequesterInit } from './requester.js'
import { checkControl } from './wire.js'

/** What opening an envelope needs of the requester's options. */
type OpenInit = Pick<TaskRequesterInit, 'checks'>

/** An accept, progress or reject from `peer`, checked (and verified when it is signed). */
export function checkedControl<T extends 'task.accept' | 'task.progress' | 'task.reject'>(
  init: OpenInit,
  peer: string,
  value: unknown,
  type: T,
  signed: boolean,
): ReturnType<typeof checkControl<T>> {
  if (!signed) return checkControl(value, type)
  const opened = openFrom(init, peer, value)
  if (opened.envelope.type !== type) throw new ProtocolViolationError(`expected ${type}`)
  return opened.envelope.payload as ReturnType<typeof checkControl<T>>
}

/**
 * A result for `attempt`, sent by `peer`: it must answer the attempt's request or, after a retry
 * on the same stream, one of the `earlier` requests for the same task.
 */
export function verifyResult(
  init: OpenInit,
  peer: string,
  earlierByTask: ReadonlyMap<string, readonly RequestRef[]>,
  attempt: PendingAttempt,
  value: unknown,
  signed: boolean,
): { result: TaskResult; from: string } {
  if (!signed) throw new ProtocolViolationError('a task.result must be a signed envelope')
  // The signer must be the provider we sent the request to, or for a forwarded task, whoever
  // ran it at the end of the route: the digest check below binds either to our request.
  const opened = attempt.forwarded === true ? openForwarded(init, value) : openFrom(init, peer, value)
  if (opened.envelope.type !== 'task.result') throw new ProtocolViolationError('expected task.result')
  const result = opened.envelope.payload
  const from = opened.envelope.from
  if (attempt.signerAllowed !== undefined && !attempt.signerAllowed(from)) {
    throw new AccessDeniedError(
      `the result of task ${attempt.taskId} is signed by ${from}, who is not on the allowlist`,
    )
  }
  try {
    assertResultMatches(attempt.request, result)
  } catch (err) {
    const earlier = earlierByTask.get(attempt.taskId)
    const matches = (request: RequestRef): boolean => {
      try {
        assertResultMatches(request, result)
        return true
      } catch {
        return false
      }
    }
    if (earlier === undefined || !earlier.some(matches)) throw err
  }
  return { result, from }
}

function openForwarded(init: OpenInit, value: unknown) {
  return openEnvelope(value, init.checks)
}

function openFrom(init: OpenInit, peer: string, value: unknown) {
  return openEnvelope(value, { ...init.checks, expectedSender: peer })
}
