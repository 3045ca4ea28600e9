import type { ModelInfo } from '../backend.js'
import {
  DEFAULT_LIST_LIMIT,
  HEALTH_QUEUE_DEGRADED_RATIO,
  MAX_LIST_LIMIT,
  MAX_LIST_WINDOW,
} from '../constants.js'
import { InvalidRequestError } from '../errors.js'
import type { ResultStore } from '../store/store.js'
import { isTerminal, TASK_STATUSES, type TaskRecord, type TaskStatus } from '../types.js'
import type { Config } from './config.js'
import type { Registry } from './registry.js'
import { withoutOutput } from './results.js'
import type { TaskState } from './task.js'

/** Per-call options of `list`. */
export interface ListOptions {
  /** Only tasks with this status. */
  readonly status?: TaskStatus
  /** Only tasks of this type. */
  readonly type?: string
  /** Page size, 1 to 1000. @default 20 */
  readonly limit?: number
  /** Tasks to skip. @default 0 */
  readonly offset?: number
  /** Include outputs; `false` lists statuses cheaply, whatever the outputs' size. @default true */
  readonly output?: boolean
}

/** What an engine announces to peers. */
export interface EngineCapabilities {
  readonly taskTypes: ReadonlyArray<{
    readonly name: string
    readonly description?: string
    readonly backend: string
  }>
  readonly models: readonly ModelInfo[]
  /** Tasks that may run at once (under the engine's limits). */
  readonly concurrency: number
  readonly running: number
  readonly queued: number
  readonly maxQueueLength: number
  /**
   * `(running + queued) / concurrency`: 0 idle, 1 every slot busy, 2 a full round waiting. Peers
   * prefer the lowest.
   */
  readonly load: number
}

/** How busy an engine is right now. */
export interface EngineLoad {
  readonly running: number
  readonly queued: number
  /** Tasks that may run at once. */
  readonly concurrency: number
}

export interface EngineHealth {
  readonly status: 'healthy' | 'degraded' | 'unhealthy'
  /** `ok`, or every problem found, separated by `; `. */
  readonly detail: string
  readonly checks: {
    readonly running: number
    readonly queued: number
    readonly maxQueueLength: number
    readonly concurrency: number
    readonly backends: number
    /** Worker threads that crashed while running a task, since start. */
    readonly workerCrashes: number
    /** Cancelled runs that did not stop within the grace period and still have not. */
    readonly abandonedRuns: number
  }
}

export function list(
  options: ListOptions,
  active: Iterable<TaskState>,
  history: Iterable<readonly [TaskRecord, number]>,
  store: ResultStore | undefined,
): TaskRecord[] {
  const { status, type } = options
  const limit = options.limit ?? DEFAULT_LIST_LIMIT
  const offset = options.offset ?? 0
  if (status !== undefined && !TASK_STATUSES.includes(status)) {
    throw new InvalidRequestError(`status: must be one of ${TASK_STATUSES.join(', ')}, got ${String(status)}`)
  }
  if (type !== undefined && typeof type !== 'string') throw new InvalidRequestError('type: must be a string')
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new InvalidRequestError(
      `limit: must be an integer from 1 to ${MAX_LIST_LIMIT}, got ${String(limit)}`,
    )
  }
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + limit > MAX_LIST_WINDOW) {
    throw new InvalidRequestError(
      `offset: must be an integer from 0 to ${MAX_LIST_WINDOW - limit}, got ${String(offset)}`,
    )
  }
  const matches = (r: { status: TaskStatus; type: string }): boolean =>
    (status === undefined || r.status === status) && (type === undefined || r.type === type)
  const window = offset + limit
  // `seq` orders records queued in the same millisecond: submission order in memory; store rows
  // come newest first and rank below memory (they are from earlier or from a failed-over write).
  const found: Array<{ record: TaskRecord; seq: number }> = []
  if (status === undefined || !isTerminal(status)) {
    for (const state of active) if (matches(state)) found.push({ record: state.record(), seq: state.seq })
  }
  if (status === undefined || isTerminal(status)) {
    for (const [record, seq] of history) {
      if (matches(record))
        found.push({ record: options.output === false ? withoutOutput(record) : record, seq })
    }
    if (store !== undefined) {
      const rows = store.list({
        ...(status === undefined ? {} : { status }),
        ...(type === undefined ? {} : { type }),
        ...(options.output === false ? { output: false } : {}),
        limit: window,
      })
      for (const [i, record] of rows.entries()) found.push({ record, seq: -1 - i })
    }
  }
  const seen = new Set<string>()
  const out: TaskRecord[] = []
  found.sort((a, b) => b.record.queuedAt - a.record.queuedAt || b.seq - a.seq)
  for (const { record } of found) {
    if (seen.has(record.id)) continue
    seen.add(record.id)
    out.push(record)
    if (out.length === window) break
  }
  return out.slice(offset)
}

export function capabilities(
  registry: Registry,
  config: Config,
  concurrency: number,
  running: number,
  queued: number,
): EngineCapabilities {
  return {
    taskTypes: registry.taskTypes().map(({ type, backend }) => ({
      name: type.name,
      ...(type.description === undefined ? {} : { description: type.description }),
      backend,
    })),
    models: registry.models(),
    concurrency,
    running,
    queued,
    maxQueueLength: config.maxQueueLength,
    load: (running + queued) / concurrency,
  }
}

export interface HealthInput {
  readonly registry: Registry
  readonly config: Config
  /** Tasks that may run at once under the limits. */
  readonly concurrency: number
  readonly running: number
  readonly queued: number
  readonly abandoned: number
  readonly stopped: boolean
  readonly store: ResultStore | undefined
  readonly storeError: Error | undefined
}

export function health(input: HealthInput): EngineHealth {
  const { registry, config, running, queued } = input
  const unhealthy: string[] = []
  const degraded: string[] = []
  if (input.stopped) unhealthy.push('the engine is stopped')
  else if (input.store?.closed === true) unhealthy.push('the result store is closed')
  if (input.storeError !== undefined) degraded.push(`result store: ${input.storeError.message}`)
  if (queued >= config.maxQueueLength * HEALTH_QUEUE_DEGRADED_RATIO) {
    degraded.push(`queue ${queued}/${config.maxQueueLength}`)
  }
  const entries = registry.registered()
  if (entries.length === 0) degraded.push('no backends registered')
  let workerCrashes = 0
  for (const entry of entries) {
    workerCrashes += entry.pool?.crashes ?? 0
    const loadError = entry.loadError ?? entry.pool?.loadError
    if (loadError !== undefined) {
      degraded.push(
        `backend ${entry.name} failed to load: ${loadError.code ?? 'ERR_BACKEND_FAILED'} ${loadError.message}`,
      )
    }
  }
  if (input.abandoned > 0)
    degraded.push(`${input.abandoned} cancelled runs did not stop within the grace period`)
  const problems = [...unhealthy, ...degraded]
  return {
    status: unhealthy.length > 0 ? 'unhealthy' : degraded.length > 0 ? 'degraded' : 'healthy',
    detail: problems.length > 0 ? problems.join('; ') : 'ok',
    checks: {
      running,
      queued,
      maxQueueLength: config.maxQueueLength,
      concurrency: input.concurrency,
      backends: entries.length,
      workerCrashes,
      abandonedRuns: input.abandoned,
    },
  }
}
