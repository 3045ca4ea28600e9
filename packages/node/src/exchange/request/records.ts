/**
 * Records of submitted tasks as the engine's result store keeps them: the fields the store has
 * columns for map 1:1, everything else of the record travels as JSON in one `meta` entry. A task
 * is stored twice in its life: when it is accepted (status `QUEUED`, with what it takes to run it
 * again), so that a crash of the node cannot make it vanish, and when it is final; the final
 * record replaces the acceptance.
 */
import type { TaskRecord } from '@p2p-ai/engine'
import { isTaskErrorCode, type JsonObject } from '@p2p-ai/protocol'
import { isFinalStatus, type NetworkTaskRecord, type SubmitOptions, type TaskSubmission } from '../types.js'
import type { TaskSpec } from './submission.js'

/** `backend` of a stored submitted task. */
export const SUBMITTED_BACKEND = 'network'
/** The `meta` entry holding the rest of the record as JSON. */
export const SUBMITTED_META_KEY = 'network'

/** What `meta.network` holds. */
interface StoredRest {
  timeoutMs: number
  target: string
  peer?: string
  provider?: string
  progress?: NetworkTaskRecord['progress']
  attempts: NetworkTaskRecord['attempts']
  timings?: NetworkTaskRecord['timings']
  redundancy?: NetworkTaskRecord['redundancy']
  traceId?: string
  /** The failure was a provider's own answer. */
  remote?: true
  /** Times the task was resumed after the node restarted. */
  resumed?: number
  /** Only in an acceptance record: the submission, to run the task again after a crash. */
  submission?: StoredSubmission
}

/** What an acceptance record keeps of a submission besides the columns (type, priority...). */
interface StoredSubmission {
  input: JsonObject
  maxAttempts: number
  waitForPeerMs: number
  allowLocal: boolean
  maxHops: number
  redundancy: number
  modelSha256?: string
}

/** A task whose acceptance is stored but not its end: the node stopped without finishing it. */
export interface InterruptedTask {
  readonly id: string
  readonly type: string
  readonly priority: number
  readonly timeoutMs: number
  readonly target: string
  readonly submittedAt: number
  /** Times it was resumed already. */
  readonly resumed: number
  /** How to submit it again; undefined when the stored row does not parse. */
  readonly submission: { readonly task: TaskSubmission; readonly options: SubmitOptions } | undefined
}

/** The store's form of a task just accepted (not final): enough to run it again after a crash. */
export function toAcceptedRecord(r: NetworkTaskRecord, spec: TaskSpec): TaskRecord {
  const rest: StoredRest = {
    timeoutMs: r.timeoutMs,
    target: r.target,
    attempts: [],
    ...(r.resumed === undefined ? {} : { resumed: r.resumed }),
    submission: {
      input: spec.input,
      maxAttempts: spec.maxAttempts,
      waitForPeerMs: spec.waitForPeerMs,
      allowLocal: spec.allowLocal,
      maxHops: spec.maxHops,
      redundancy: spec.redundancy,
      ...(spec.modelSha256 === undefined ? {} : { modelSha256: spec.modelSha256 }),
    },
  }
  return {
    id: r.id,
    type: r.type,
    status: 'QUEUED',
    priority: r.priority,
    backend: SUBMITTED_BACKEND,
    queuedAt: r.submittedAt,
    meta: { [SUBMITTED_META_KEY]: JSON.stringify(rest) },
  }
}

/** An acceptance record back; undefined for a row that is not one (final, or not ours). */
export function fromAcceptedRecord(t: TaskRecord): InterruptedTask | undefined {
  if (t.backend !== SUBMITTED_BACKEND || isFinalStatus(t.status)) return undefined
  let rest: Partial<StoredRest> | undefined
  try {
    rest = JSON.parse(t.meta?.[SUBMITTED_META_KEY] ?? '') as Partial<StoredRest>
  } catch {
    rest = undefined
  }
  const sub = rest?.submission
  const readable =
    rest !== undefined &&
    typeof rest.timeoutMs === 'number' &&
    typeof rest.target === 'string' &&
    typeof sub === 'object' &&
    sub !== null &&
    typeof sub.input === 'object'
  return {
    id: t.id,
    type: t.type,
    priority: t.priority,
    timeoutMs: typeof rest?.timeoutMs === 'number' ? rest.timeoutMs : 0,
    target: typeof rest?.target === 'string' ? rest.target : 'auto',
    submittedAt: t.queuedAt,
    resumed: typeof rest?.resumed === 'number' ? rest.resumed : 0,
    submission:
      readable && rest !== undefined && sub !== undefined
        ? {
            task: {
              id: t.id,
              type: t.type,
              input: sub.input,
              priority: t.priority,
              timeoutMs: rest.timeoutMs as number,
            },
            options: {
              target: rest.target as string,
              maxAttempts: sub.maxAttempts,
              waitForPeerMs: sub.waitForPeerMs,
              allowLocal: sub.allowLocal,
              maxHops: sub.maxHops,
              redundancy: sub.redundancy,
              ...(sub.modelSha256 === undefined ? {} : { modelSha256: sub.modelSha256 }),
            },
          }
        : undefined,
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** The store's form of a final record. */
export function toStoredRecord(r: NetworkTaskRecord): TaskRecord {
  // Assigned one by one rather than spread in: written for every task, on the requester's thread.
  // The members go in the same order either way, so the stored JSON is the same.
  const rest: StoredRest = { timeoutMs: r.timeoutMs, target: r.target, attempts: r.attempts }
  if (r.peer !== undefined) rest.peer = r.peer
  if (r.provider !== undefined) rest.provider = r.provider
  if (r.progress !== undefined) rest.progress = r.progress
  if (r.timings !== undefined) rest.timings = r.timings
  if (r.redundancy !== undefined) rest.redundancy = r.redundancy
  if (r.error?.remote === true) rest.remote = true
  if (r.traceId !== undefined) rest.traceId = r.traceId
  if (r.resumed !== undefined) rest.resumed = r.resumed
  const stored: Mutable<TaskRecord> = {
    id: r.id,
    type: r.type,
    // Only final records are stored, and those statuses exist in both.
    status: r.status as TaskRecord['status'],
    priority: r.priority,
    backend: SUBMITTED_BACKEND,
    queuedAt: r.submittedAt,
  }
  if (r.startedAt !== undefined) stored.startedAt = r.startedAt
  if (r.finishedAt !== undefined) stored.finishedAt = r.finishedAt
  if (r.status === 'COMPLETED') stored.output = r.output
  if (r.error !== undefined) stored.error = { code: r.error.code, message: r.error.message }
  stored.meta = { [SUBMITTED_META_KEY]: JSON.stringify(rest) }
  return stored
}

/** The record back from the store's form; undefined for a row that is not one of ours or does not parse. */
export function fromStoredRecord(t: TaskRecord): NetworkTaskRecord | undefined {
  if (t.backend !== SUBMITTED_BACKEND || !isFinalStatus(t.status)) return undefined
  const json = t.meta?.[SUBMITTED_META_KEY]
  if (json === undefined) return undefined
  let rest: Partial<StoredRest>
  try {
    rest = JSON.parse(json) as Partial<StoredRest>
  } catch {
    return undefined
  }
  if (
    typeof rest !== 'object' ||
    rest === null ||
    typeof rest.timeoutMs !== 'number' ||
    typeof rest.target !== 'string' ||
    !Array.isArray(rest.attempts)
  ) {
    return undefined
  }
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    priority: t.priority,
    timeoutMs: rest.timeoutMs,
    target: rest.target,
    submittedAt: t.queuedAt,
    attempts: rest.attempts,
    ...(typeof rest.peer === 'string' ? { peer: rest.peer } : {}),
    ...(typeof rest.provider === 'string' ? { provider: rest.provider } : {}),
    ...(rest.redundancy === undefined ? {} : { redundancy: rest.redundancy }),
    ...(t.startedAt === undefined ? {} : { startedAt: t.startedAt }),
    ...(t.finishedAt === undefined ? {} : { finishedAt: t.finishedAt }),
    ...(rest.progress === undefined ? {} : { progress: rest.progress }),
    ...(t.status === 'COMPLETED' ? { output: t.output } : {}),
    ...(t.error === undefined
      ? {}
      : {
          error: {
            // Records of older versions may hold a code from before the closed set.
            code: isTaskErrorCode(t.error.code) ? t.error.code : 'ERR_TASK_FAILED',
            message: t.error.message,
            ...(rest.remote === true ? { remote: true as const } : {}),
          },
        }),
    ...(rest.timings === undefined ? {} : { timings: rest.timings }),
    ...(typeof rest.traceId === 'string' ? { traceId: rest.traceId } : {}),
    ...(typeof rest.resumed === 'number' ? { resumed: rest.resumed } : {}),
  }
}
