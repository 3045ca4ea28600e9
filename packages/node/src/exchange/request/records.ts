/**
 * Final records of submitted tasks as the engine's result store keeps them: the fields the store
 * has columns for map 1:1, everything else of the record travels as JSON in one `meta` entry.
 */
import type { TaskRecord } from '@p2p-ai/engine'
import { isTaskErrorCode } from '@p2p-ai/protocol'
import { isFinalStatus, type NetworkTaskRecord } from '../types.js'

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
}

/** The store's form of a final record. */
export function toStoredRecord(r: NetworkTaskRecord): TaskRecord {
  const rest: StoredRest = {
    timeoutMs: r.timeoutMs,
    target: r.target,
    attempts: r.attempts,
    ...(r.peer === undefined ? {} : { peer: r.peer }),
    ...(r.provider === undefined ? {} : { provider: r.provider }),
    ...(r.progress === undefined ? {} : { progress: r.progress }),
    ...(r.timings === undefined ? {} : { timings: r.timings }),
    ...(r.redundancy === undefined ? {} : { redundancy: r.redundancy }),
    ...(r.error?.remote === true ? { remote: true } : {}),
    ...(r.traceId === undefined ? {} : { traceId: r.traceId }),
  }
  return {
    id: r.id,
    type: r.type,
    // Only final records are stored, and those statuses exist in both.
    status: r.status as TaskRecord['status'],
    priority: r.priority,
    backend: SUBMITTED_BACKEND,
    queuedAt: r.submittedAt,
    ...(r.startedAt === undefined ? {} : { startedAt: r.startedAt }),
    ...(r.finishedAt === undefined ? {} : { finishedAt: r.finishedAt }),
    ...(r.status === 'COMPLETED' ? { output: r.output } : {}),
    ...(r.error === undefined ? {} : { error: { code: r.error.code, message: r.error.message } }),
    meta: { [SUBMITTED_META_KEY]: JSON.stringify(rest) },
  }
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
  }
}
