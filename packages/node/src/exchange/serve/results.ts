/**
 * What a provider answers: the outcome of a run as a `task.result` (docs/protocol.md §5.5), its
 * timings, and the envelope, prepared for signing and sized to fit a frame.
 */
import type { TaskRecord } from '@p2p-ai/engine'
import {
  type ContentRef,
  FrameTooLargeError,
  MAX_SIGNATURE_JSON_BYTES,
  type PreparedEnvelope,
  prepareEnvelope,
  type Signer,
  type TaskResult,
  type TaskTimings,
  toWireError,
  type WireError,
} from '@p2p-ai/protocol'
import { taskErrorOf } from '../failures.js'

/** What a result says, without its id, request hash and timings. */
export type ResultOutcome =
  | { readonly status: 'completed'; readonly output: unknown }
  /** Minor 5: the output stored as content, for the requester to fetch (docs/protocol.md §2.9). */
  | { readonly status: 'completed'; readonly outputRef: ContentRef }
  | { readonly status: 'failed' | 'timeout' | 'cancelled'; readonly error: WireError }

/** A thrown value as a wire error: a task error code (normalised) and a message that fits. */
export function wireErrorOf(err: unknown): WireError {
  return toWireError(taskErrorOf(err))
}

/** The engine's final record of a run as the result's outcome. */
export function outcomeOf(record: TaskRecord): ResultOutcome {
  switch (record.status) {
    case 'COMPLETED':
      return { status: 'completed', output: record.output === undefined ? null : record.output }
    case 'TIMEOUT':
      return {
        status: 'timeout',
        error: toWireError({ code: 'ERR_TIMEOUT', message: record.error?.message ?? 'timeout' }),
      }
    case 'CANCELLED': {
      const error = wireErrorOf(record.error ?? { code: 'ERR_TASK_CANCELLED', message: 'cancelled' })
      // Cancelled by an engine that is stopping is the provider's failure, not the requester's wish.
      return error.code === 'ERR_CANCELLED' ? { status: 'cancelled', error } : { status: 'failed', error }
    }
    default:
      return {
        status: 'failed',
        error: wireErrorOf(record.error ?? { code: 'ERR_INTERNAL', message: 'failed' }),
      }
  }
}

/**
 * A result's timings (docs/protocol.md §5.5): `totalMs` from receiving the request to now, on
 * this node's monotonic clock; `queuedMs` and `runMs` from the engine's record of the run, whose
 * clock has millisecond steps, clamped so that `queuedMs + runMs ≤ totalMs` always holds.
 */
export function timingsOf(receivedAt: number, record: TaskRecord | undefined): TaskTimings {
  const totalMs = round(performance.now() - receivedAt)
  if (record?.startedAt === undefined) return { queuedMs: totalMs, runMs: 0, totalMs }
  const finished = record.finishedAt ?? Date.now()
  const runMs = Math.min(totalMs, Math.max(0, finished - record.startedAt))
  const queuedMs = Math.min(round(totalMs - runMs), Math.max(0, record.startedAt - record.queuedAt))
  return { queuedMs, runMs, totalMs }
}

/**
 * The result envelope, prepared for signing, that fits a frame of `maxFrameBytes`; an output that
 * cannot travel (not JSON, or too large) becomes an `ERR_INVALID_OUTPUT` result instead.
 */
export function prepareResult(
  signer: Signer,
  maxFrameBytes: number,
  base: { id: string; requestHash: string; timings: TaskTimings },
  outcome: ResultOutcome,
): PreparedEnvelope<'task.result'> {
  try {
    return prepareSized(signer, maxFrameBytes, resultPayload(base, outcome))
  } catch (err) {
    return prepareSized(
      signer,
      maxFrameBytes,
      resultPayload(base, {
        status: 'failed',
        error: toWireError({ code: 'ERR_INVALID_OUTPUT', message: (err as Error).message }),
      }),
    )
  }
}

/** The result's payload, its members in canonical order so that canonicalizing takes its fast path. */
function resultPayload(
  base: { id: string; requestHash: string; timings: TaskTimings },
  outcome: ResultOutcome,
): TaskResult {
  const { id, requestHash, timings } = base
  if ('error' in outcome) return { error: outcome.error, id, requestHash, status: outcome.status, timings }
  if ('outputRef' in outcome)
    return { id, outputRef: outcome.outputRef, requestHash, status: outcome.status, timings }
  return { id, output: outcome.output, requestHash, status: outcome.status, timings } as TaskResult
}

function prepareSized(
  signer: Signer,
  maxFrameBytes: number,
  result: TaskResult,
): PreparedEnvelope<'task.result'> {
  const prepared = prepareEnvelope(signer, 'task.result', result)
  if (prepared.byteLength + MAX_SIGNATURE_JSON_BYTES > maxFrameBytes) {
    throw new FrameTooLargeError(
      `the result is ${prepared.byteLength} bytes; frames on this stream hold at most ${maxFrameBytes}`,
    )
  }
  return prepared
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
