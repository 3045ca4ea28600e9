import type { TaskCheckpoint, TaskProgress } from './backend.js'

/**
 * Where a task is in its life: `QUEUED → RUNNING → COMPLETED | FAILED | TIMEOUT | CANCELLED`.
 * A queued task may also go straight to `CANCELLED` (or `FAILED` if its backend is removed).
 */
export type TaskStatus = 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TIMEOUT' | 'CANCELLED'

/** All statuses, in life order. */
export const TASK_STATUSES: readonly TaskStatus[] = [
  'QUEUED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'CANCELLED',
]

/** Statuses a task never leaves. */
export type TerminalTaskStatus = Exclude<TaskStatus, 'QUEUED' | 'RUNNING'>

/** Whether `status` is final. */
export function isTerminal(status: TaskStatus): status is TerminalTaskStatus {
  return status !== 'QUEUED' && status !== 'RUNNING'
}

/** Why a task did not complete: exactly what crosses the wire. */
export interface TaskErrorInfo {
  /** Stable code, e.g. `ERR_TASK_TIMEOUT`, `ERR_MODEL_NOT_FOUND`, `ERR_BACKEND_FAILED`. */
  readonly code: string
  readonly message: string
}

/** Caller-defined string labels stored with a task, e.g. the requesting peer. */
export type TaskMeta = Readonly<Record<string, string>>

/**
 * A snapshot of one task. Timestamps are milliseconds since the Unix epoch from the engine's clock.
 * Records are plain JSON-serialisable objects; a new snapshot is taken on every query.
 */
export interface TaskRecord<Output = unknown> {
  readonly id: string
  readonly type: string
  readonly status: TaskStatus
  /** Higher runs first. */
  readonly priority: number
  /** Name of the backend that runs (or ran) the task. */
  readonly backend: string
  readonly queuedAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
  /** Latest progress report while running; `fraction` is 1 once completed. */
  readonly progress?: TaskProgress
  /** The backend's output; only when `status` is `COMPLETED`. */
  readonly output?: Output
  /** Only when `status` is `FAILED`, `TIMEOUT` or `CANCELLED`. */
  readonly error?: TaskErrorInfo
  readonly meta?: TaskMeta
}

/** A task to run. */
/** When and where a task's final record is kept: see `TaskRequest.persist`. */
export type TaskPersistence = 'before-result' | 'background' | 'memory'

export interface TaskRequest<Input = unknown> {
  /**
   * Stable id. A submission whose id matches a task the engine still knows (queued, running or with
   * a stored result) returns that task instead of running it again, which makes network retries
   * idempotent; a cancelled task's id runs anew (it has no result to answer with). Printable ASCII without spaces, at most 128 characters. Default: a random UUID.
   */
  readonly id?: string
  /** Task type, e.g. `chunk`. */
  readonly type: string
  /** Validated against the task type's schema before the task is queued (omitted: `undefined`). */
  readonly input?: Input
  /**
   * Higher runs first; equal priorities run in submission order. An integer.
   *
   * @default 0
   */
  readonly priority?: number
  /**
   * Execution time limit in milliseconds, counted from the start of the run (queue time is not
   * counted). At most the engine's `maxTimeoutMs`.
   *
   * @default the engine's `timeoutMs` (30 s)
   */
  readonly timeoutMs?: number
  /**
   * Where `timeoutMs` counts from: the start of the run, or the submission (queueing included, as
   * a remote requester's `timeoutMs` does: docs/protocol.md §2.1). Either way the task ends
   * `TIMEOUT` (`ERR_TASK_TIMEOUT`) when it runs out.
   *
   * @default 'start'
   */
  readonly timeoutFrom?: 'start' | 'submit'
  /** Labels kept in the task record, e.g. `{ requester: peerId }`. */
  readonly meta?: TaskMeta
  /**
   * Start from this checkpoint of an earlier run (reported by that run's backend as progress
   * `checkpoint`): handed to the backend as `BackendTask.resume`. `fraction` is 0..1.
   */
  readonly resume?: TaskCheckpoint
  /**
   * Whom the task is for. Tasks of different flows share the engine's slots fairly, weighted by
   * priority (a flow with one task waiting starts it as soon as a slot frees, however many another
   * flow queued), and once the queue is full a flow holding less than its share may still queue.
   * A node passes the requesting peer's PeerId. At most 128 characters.
   *
   * @default '' (one flow for every task submitted without one)
   */
  readonly flow?: string
  /**
   * The task's weight in its flow's share of the slots (scheduler.ts), an integer from 1 to 10.
   * Whoever runs tasks for others sets it to keep a requester from buying a larger share by
   * marking every task urgent (a node weighs a stranger's priority only up to the default).
   *
   * @default `weightOf(priority)`: 1 + the priority, clamped to 1..10
   */
  readonly weight?: number
  /**
   * When the task's final record is written to the result store relative to announcing the result.
   * `before-result` (the default): `result()` resolves (and `task:finished` fires) only once the record is
   * committed, so a result the caller saw survives a crash. `background`: the result is announced at once and
   * the record is committed right after; a reader still finds it (served from memory until committed). For
   * work done for a remote requester, who holds the signed result anyway and should not wait for our disk.
   *
   * An output that is not JSON-serialisable is found only by the write, which turns the task `FAILED`
   * (`ERR_BACKEND_FAILED`). With `background` the caller has already seen it `COMPLETED` by then: that
   * announced record stands, while the kept one (`get`, `list`, a resubmitted id, `handle.status`)
   * becomes `FAILED` without a further event. Such an output could not be sent to a peer either.
   * Without a store, both modes are the same: the record is kept in memory before it is announced.
   *
   * `memory`: the record never goes to the store; it is kept in the in-memory history (the last
   * `historyLimit` records, at most `historyMaxBytes`) like on an engine without a store, and a
   * resubmitted id is looked up in memory only. For work done for others that this node has no
   * reason to keep on its disk: a provider serving thousands of tasks a second would otherwise
   * write every stranger's output to disk and keep it for a day.
   *
   * @default 'before-result'
   */
  readonly persist?: TaskPersistence
}
