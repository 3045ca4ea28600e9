import type { TaskCheckpoint, TaskProgress } from '../backend.js'
import { type Listener, type ListenerOptions, TypedEventTarget } from '../events.js'
import type { TaskErrorInfo, TaskMeta, TaskPersistence, TaskRecord, TaskStatus } from '../types.js'
import type { HeapItem } from './heap.js'
import type { BackendEntry } from './registry.js'
import { toError } from './task-error.js'

/** Events of one task's handle. */
export interface TaskHandleEvents {
  /** A progress report from the backend (throttled). */
  progress: TaskProgress
  /** The task changed status; `detail` is the new snapshot. */
  status: TaskRecord
}

/**
 * A submitted task. `result()` always resolves, with the final record whether the task completed
 * or not (check `status`, then `output` or `error`); `output()` is the shortcut that resolves with
 * the output or rejects with the task's coded error.
 */
export interface TaskHandle<Output = unknown> {
  readonly id: string
  readonly type: string
  /** The status now. */
  readonly status: TaskStatus
  /** A snapshot of the task now. */
  record(): TaskRecord<Output>
  /** Resolves with the final record once the task is `COMPLETED`, `FAILED`, `TIMEOUT` or `CANCELLED`. */
  result(): Promise<TaskRecord<Output>>
  /** Resolves with the output, or rejects with an error whose `code` is the record's error code. */
  output(): Promise<Output>
  /** Cancels the task if it has not finished; returns whether it did. Cleanup finishes within 2 s. */
  cancel(): boolean
  /** Listens for `progress` reports and `status` changes of this task. */
  addEventListener<K extends keyof TaskHandleEvents>(
    type: K,
    listener: Listener<TaskHandleEvents[K]> | null,
    options?: boolean | ListenerOptions,
  ): void
  removeEventListener<K extends keyof TaskHandleEvents>(
    type: K,
    listener: Listener<TaskHandleEvents[K]> | null,
  ): void
}

/**
 * Handle events, with the event target created on the first listener: most tasks never get one,
 * and an `EventTarget` per task is a measurable share of the queue's overhead.
 */
class HandleEvents {
  #target: TypedEventTarget<TaskHandleEvents> | undefined

  addEventListener<K extends keyof TaskHandleEvents>(
    type: K,
    listener: Listener<TaskHandleEvents[K]> | null,
    options?: boolean | ListenerOptions,
  ): void {
    this.#target ??= new TypedEventTarget()
    this.#target.addEventListener(type, listener, options)
  }

  removeEventListener<K extends keyof TaskHandleEvents>(
    type: K,
    listener: Listener<TaskHandleEvents[K]> | null,
  ): void {
    this.#target?.removeEventListener(type, listener)
  }

  emit<K extends keyof TaskHandleEvents>(type: K, detail: () => TaskHandleEvents[K]): void {
    this.#target?.emit(type, detail)
  }
}

/**
 * What the scheduler charged a started task's flow, to correct it once the task's real run time is
 * known (scheduler.ts). `flow` is the scheduler's own record.
 */
export interface Charge {
  readonly flow: unknown
  readonly weight: number
  readonly estimate: number
}

/** The engine's mutable state of one queued or running task. */
export class TaskState implements HeapItem {
  heapIndex = -1
  /** Set by the scheduler while the task holds a slot. */
  charge: Charge | undefined = undefined
  status: TaskStatus = 'QUEUED'
  input: unknown
  startedAt: number | undefined
  finishedAt: number | undefined
  progress: TaskProgress | undefined
  /** `performance.now()` of the last forwarded progress report. */
  progressAt = Number.NEGATIVE_INFINITY
  /** Text deltas reported since the last forwarded progress report, concatenated in order. */
  pendingDelta = ''
  /** The newest checkpoint reported since the last forwarded progress report (undefined: none). */
  pendingCheckpoint: unknown
  /** Forwards `pendingDelta` (and `pendingCheckpoint`) when the throttle window that held it back ends. */
  deltaTimer: NodeJS.Timeout | undefined
  /** The checkpoint this run starts from, for the backend; dropped when the task ends. */
  resume: TaskCheckpoint | undefined
  output: unknown
  error: TaskErrorInfo | undefined
  /** The error as thrown (or as rebuilt from its code), for `output()` to reject with. */
  errorObject: Error | undefined
  controller: AbortController | undefined
  /** The task's timeout. */
  timer: NodeJS.Timeout | undefined
  /** After an abort: when the engine stops waiting for the backend to give the slot back. */
  graceTimer: NodeJS.Timeout | undefined
  /** Whether the task occupies a slot of its backend (from start until its run settled or was given up). */
  slotHeld = false
  /** The slot was given back after the grace period while the backend still had not stopped. */
  abandoned = false
  /** Keep no final record: the id may be submitted again and run anew (`cancel(id, { forget })`). */
  forget = false
  readonly done: Promise<TaskRecord>
  resolveDone!: (record: TaskRecord) => void
  handle: LiveTaskHandle | undefined
  readonly backend: string

  constructor(
    readonly entry: BackendEntry,
    readonly id: string,
    readonly type: string,
    readonly priority: number,
    readonly seq: number,
    readonly timeoutMs: number,
    readonly queuedAt: number,
    readonly meta: TaskMeta | undefined,
    input: unknown,
    /** Where the final record goes, and whether it is announced before the store has it. */
    readonly persist: TaskPersistence = 'before-result',
    /** Whom the task is for: flows share the slots fairly (scheduler.ts). */
    readonly flow = '',
    /** Its weight in its flow's share of the slots (scheduler.ts). */
    readonly weight = 1,
  ) {
    this.backend = entry.name
    this.input = input
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve
    })
  }

  record(): TaskRecord {
    return {
      id: this.id,
      type: this.type,
      status: this.status,
      priority: this.priority,
      backend: this.backend,
      queuedAt: this.queuedAt,
      ...(this.startedAt === undefined ? {} : { startedAt: this.startedAt }),
      ...(this.finishedAt === undefined ? {} : { finishedAt: this.finishedAt }),
      ...(this.progress === undefined ? {} : { progress: this.progress }),
      ...(this.status === 'COMPLETED' ? { output: this.output } : {}),
      ...(this.error === undefined ? {} : { error: this.error }),
      ...(this.meta === undefined ? {} : { meta: this.meta }),
    }
  }
}

/** The handle of a task this engine runs (or ran). */
export class LiveTaskHandle extends HandleEvents implements TaskHandle {
  readonly #state: TaskState
  readonly #cancel: (state: TaskState) => boolean

  constructor(state: TaskState, cancel: (state: TaskState) => boolean) {
    super()
    this.#state = state
    this.#cancel = cancel
  }

  get id(): string {
    return this.#state.id
  }

  get type(): string {
    return this.#state.type
  }

  get status(): TaskStatus {
    return this.#state.status
  }

  record(): TaskRecord {
    return this.#state.record()
  }

  result(): Promise<TaskRecord> {
    return this.#state.done
  }

  async output(): Promise<unknown> {
    const record = await this.#state.done
    if (record.status === 'COMPLETED') return record.output
    throw this.#state.errorObject ?? toError(record.error ?? { message: `task ${record.status}` })
  }

  cancel(): boolean {
    return this.#cancel(this.#state)
  }
}

/** The handle of a task known only from its finished record (in the history or the store). */
export class FinishedTaskHandle extends HandleEvents implements TaskHandle {
  readonly #record: TaskRecord

  constructor(record: TaskRecord) {
    super()
    this.#record = record
  }

  get id(): string {
    return this.#record.id
  }

  get type(): string {
    return this.#record.type
  }

  get status(): TaskStatus {
    return this.#record.status
  }

  record(): TaskRecord {
    return this.#record
  }

  async result(): Promise<TaskRecord> {
    return this.#record
  }

  async output(): Promise<unknown> {
    if (this.#record.status === 'COMPLETED') return this.#record.output
    throw toError(this.#record.error ?? { message: `task ${this.#record.status}` })
  }

  cancel(): boolean {
    return false
  }
}
