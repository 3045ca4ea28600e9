import type { TaskRecord } from '../types.js'

/** Per-call options of `submit`. */
export interface SubmitOptions {
  /** Aborts the admission (an asynchronous schema); once queued, use `handle.cancel()`. */
  readonly signal?: AbortSignal
}

/** Per-call options of `get`. */
export interface GetOptions {
  /**
   * Include the output. A status query passes `false`: a stored output may be megabytes of JSON,
   * which is parsed only when asked for.
   *
   * @default true
   */
  readonly output?: boolean
}

/** Per-call options of `cancel`. */
export interface CancelOptions {
  /** Why, as a coded error kept in the record. @default `ERR_TASK_CANCELLED` */
  readonly reason?: Error
  /**
   * Keep no record of the task: the same id submitted later runs anew instead of answering with
   * this cancellation (a task handed back to a requester that may send it again).
   *
   * @default false
   */
  readonly forget?: boolean
}

/** Per-call options of `run`. */
export interface RunOptions {
  /** Aborting cancels the task. */
  readonly signal?: AbortSignal
}

/** Per-call options of `stop`. */
export interface StopOptions {
  /** Aborting stops waiting for running tasks: they are cancelled at once. */
  readonly signal?: AbortSignal
  /**
   * How long running tasks may take to finish before they are cancelled, in milliseconds.
   *
   * @default 10_000
   */
  readonly timeoutMs?: number
}

/** Events of the engine; each `detail` is a fresh snapshot of the task. */
export interface TaskEngineEvents {
  'task:queued': TaskRecord
  'task:started': TaskRecord
  'task:progress': TaskRecord
  'task:completed': TaskRecord
  'task:failed': TaskRecord
  'task:timeout': TaskRecord
  'task:cancelled': TaskRecord
  /** Any final status. */
  'task:finished': TaskRecord
  /** Writing a record to the store failed; the record is kept in memory instead. */
  'store:error': Error
}
