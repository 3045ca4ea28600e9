/**
 * One attempt of a task on a peer: the signed request (or forward) it sends, and the pending
 * attempt that turns the provider's answers into the attempt's outcome. The task's state stays in
 * the task; the attempt reports to it through `RemoteAttemptHooks`.
 */
import type { PeerId } from '@libp2p/interface'
import {
  createTaskRequest,
  encodeJsonFrame,
  FrameTooLargeError,
  MAX_SIGNATURE_JSON_BYTES,
  prepareEnvelope,
  sealForward,
  sealPrepared,
  TASK_ERROR_CODES,
  type TaskResult,
} from '@p2p-ai/protocol'
import { type AttemptOutcome, codeOf, failedResult, type TaskContext, type TaskSpec } from './attempt.js'
import { RESULT_GRACE_MS } from './constants.js'
import { InvalidTaskError } from './errors.js'
import type { PendingAttempt } from './requester.js'
import type { NetworkTaskProgress } from './types.js'
import { rejectVerdict, transportVerdict } from './wire.js'

/** Where a remote attempt goes. */
export interface RemoteTarget {
  readonly peer: string
  readonly peerId: PeerId
  /** Send a `task.forward` (the peer relays it towards a provider) rather than a request. */
  readonly forward: boolean
}

/** How a remote attempt reports to its task. */
export interface RemoteAttemptHooks {
  /** Whether the task is final already (cancelled, halted). */
  finished(): boolean
  /** The provider accepted the task: running at once (queue position 0) or queued. */
  accepted(queuePosition: number | undefined): void
  progress(progress: NetworkTaskProgress): void
  /** A verified result for the task; `provider` signed it (forwarded attempts only). */
  result(result: TaskResult, provider: string | undefined): void
  /** The attempt is ready to go: the task keeps it (to cancel it, or `settle` it early) and sends it. */
  dispatch(attempt: PendingAttempt, settle: (outcome: AttemptOutcome) => void): void
  /** The attempt ended. */
  settled(attempt: PendingAttempt): void
}

/** Runs one attempt of the task `spec` on `target`; resolves with how it ended, never rejects. */
export function runRemote(
  spec: TaskSpec,
  ctx: TaskContext,
  submittedAt: number,
  target: RemoteTarget,
  hooks: RemoteAttemptHooks,
): Promise<AttemptOutcome> {
  const { peer, forward } = target
  let request: PendingAttempt['request']
  let frame: PendingAttempt['frame']
  try {
    const prepared = prepareEnvelope(
      ctx.signer,
      'task.request',
      createTaskRequest({
        requester: ctx.self,
        taskType: spec.type,
        input: spec.input,
        id: spec.id,
        priority: spec.priority,
        timeoutMs: spec.timeoutMs,
        createdAt: submittedAt,
      }),
    )
    if (prepared.byteLength + MAX_SIGNATURE_JSON_BYTES > ctx.maxFrameBytes) {
      throw new FrameTooLargeError(
        `the request is ${prepared.byteLength} bytes; task frames hold at most ${ctx.maxFrameBytes}`,
      )
    }
    if (forward) {
      // A forward carries the request unchanged to a provider whose protocol minor we do not
      // know, so it is signed on its own, with the links left beyond the neighbour.
      const [signed] = sealPrepared(ctx.signer, [prepared])
      request = signed as NonNullable<typeof signed>
      const json = sealForward(ctx.signer, request.envelope, spec.maxHops - 1, []).json
      frame = encodeJsonFrame(json, { maxFrameBytes: ctx.maxFrameBytes })
    } else {
      // Signed by the stream when it leaves, in a batch with whatever leaves with it.
      request = prepared
      frame = prepared
    }
  } catch (err) {
    // The input is not canonical JSON (NaN, a Date, a cycle...) or too large for a frame: no
    // peer could ever take it.
    const error = new InvalidTaskError(`input: ${(err as Error).message}`)
    return Promise.resolve({ kind: 'failed', error, verdict: { kind: 'final' } })
  }
  return new Promise<AttemptOutcome>((resolve) => {
    const sentAt = performance.now()
    const settle = (outcome: AttemptOutcome): void => {
      hooks.settled(attempt)
      resolve(outcome)
    }
    const attempt: PendingAttempt = {
      taskId: spec.id,
      peer,
      request,
      frame,
      ...(forward ? { forwarded: true, signerAllowed: ctx.allows } : {}),
      acceptBy: sentAt + ctx.acceptTimeoutMs,
      resultBy: sentAt + spec.timeoutMs + RESULT_GRACE_MS,
      accepted: false,
      accept: (payload) => hooks.accepted(payload.queuePosition),
      progress: (payload) => {
        hooks.progress({
          fraction: payload.progress,
          ...(payload.message === undefined ? {} : { message: payload.message }),
        })
      },
      reject: (payload) => {
        const code = payload.error.code
        if (forward && (code === TASK_ERROR_CODES.noRoute || code === TASK_ERROR_CODES.ttlExpired)) {
          ctx.routeRefused(peer, spec.type)
        }
        settle({
          kind: 'failed',
          error: payload.error,
          verdict: rejectVerdict(payload.error.code),
          ...(payload.retryAfterMs === undefined ? {} : { retryAfterMs: payload.retryAfterMs }),
        })
      },
      result: (result, signed) => {
        if (hooks.finished()) return settle({ kind: 'done' })
        const provider = forward ? signed.from : undefined
        if (result.status === 'completed') {
          ctx.reputation.recordSuccess(peer, performance.now() - sentAt - result.timings.totalMs)
          hooks.result(result, provider)
          settle({ kind: 'done' })
          return
        }
        hooks.result(result, provider)
        settle(failedResult(result))
      },
      fail: (error) => {
        const code = codeOf(error)
        settle({ kind: 'failed', error: { code, message: error.message }, verdict: transportVerdict(code) })
      },
    }
    hooks.dispatch(attempt, settle)
  })
}
