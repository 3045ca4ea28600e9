/**
 * `node.tasks`: every task submitted on this node, live ones and a bounded history in memory, and,
 * with a result store, the final record of each for the store's TTL, across restarts.
 */
import { type ResultStore, TaskIdConflictError, type TaskStatus } from '@p2p-ai/engine'
import type { Logger } from 'pino'
import { taskLogFields } from '../../logger.js'
import { SUBMITTED_WRITE_DELAY_MS } from '../constants.js'
import { InvalidTaskError } from '../errors.js'
import {
  isFinalStatus,
  type NetworkTaskHandle,
  type NetworkTaskRecord,
  type TaskList,
  type TaskListOptions,
} from '../types.js'
import { fromStoredRecord, SUBMITTED_BACKEND, toStoredRecord } from './records.js'

/** A submitted task as the registry keeps it: a plain one or a redundant one. */
export interface TrackedTask extends NetworkTaskHandle {
  /** The provider of the current or last attempt (the accepted answer's, for a redundant task). */
  readonly peer: string | undefined
  /** The exchange is stopping: fail unless final. */
  halt(): void
}

const DEFAULT_LIST_LIMIT = 100
const MAX_LIST_LIMIT = 10_000

/** Where the registry keeps final records beyond its memory. */
export interface TaskRegistryStore {
  readonly store: ResultStore
  /** Store errors are logged here; they never fail a task. */
  readonly log: Logger
}

export class TaskRegistry implements TaskList {
  readonly #active = new Map<string, TrackedTask>()
  /** Tasks submitted with `listed: false`: halted on stop like the others, never listed or stored. */
  readonly #unlisted = new Set<TrackedTask>()
  /** Finished tasks, oldest first. */
  readonly #history = new Map<string, TrackedTask>()
  readonly #historyLimit: number
  readonly #store: TaskRegistryStore | undefined
  /** Final records not yet handed to the store (at most SUBMITTED_WRITE_DELAY_MS old). */
  #unwritten: NetworkTaskRecord[] = []
  #writeTimer: NodeJS.Timeout | undefined
  /** Writes to the store not yet durable. */
  readonly #writes = new Set<Promise<void>>()

  readonly #onFinished: ((task: TrackedTask) => void) | undefined

  /** `onFinished` is called once for each task as it becomes final. */
  constructor(historyLimit: number, store?: TaskRegistryStore, onFinished?: (task: TrackedTask) => void) {
    this.#historyLimit = historyLimit
    this.#store = store
    this.#onFinished = onFinished
  }

  get pending(): number {
    return this.#active.size + this.#unlisted.size
  }

  /**
   * The known task with this id, if any, so a resubmission joins it instead of running twice.
   *
   * `chosen`: the caller picked the id, so an earlier run of the node may have stored it; a freshly
   * generated id cannot be there, which spares a store read per submission.
   *
   * @throws {TaskIdConflictError} if the id is taken by a task of another type
   */
  existing(id: string, type: string, chosen = true): TrackedTask | undefined {
    const task = this.#active.get(id) ?? this.#history.get(id)
    const known = task?.type ?? (chosen ? this.#stored(id, false)?.type : undefined)
    if (known !== undefined && known !== type) {
      throw new TaskIdConflictError(`task "${id}" exists with type "${known}", not "${type}"`)
    }
    // A task known only from the store has no live handle: resubmitting it is a new run, whose
    // final record replaces the stored one.
    return task
  }

  /** Tasks not yet finished. */
  active(): TrackedTask[] {
    return [...this.#active.values(), ...this.#unlisted]
  }

  /**
   * Keeps `task` until it is final, then in the history (and, with a store, its final record).
   * An unlisted task is only kept until it is final, for `active()` and `pending`.
   */
  add(task: TrackedTask, listed = true): void {
    if (!listed) {
      this.#unlisted.add(task)
      void task.result().then(() => {
        this.#unlisted.delete(task)
        this.#onFinished?.(task)
      })
      return
    }
    this.#active.set(task.id, task)
    void task.result().then(() => this.#finished(task))
  }

  #finished(task: TrackedTask): void {
    if (this.#active.get(task.id) !== task) return
    this.#active.delete(task.id)
    this.#onFinished?.(task)
    // A snapshot only when there is somewhere to keep it: this runs once per task.
    if (this.#store !== undefined) this.#persist(task.record())
    if (this.#historyLimit === 0) return
    this.#history.set(task.id, task)
    while (this.#history.size > this.#historyLimit) {
      this.#history.delete(this.#history.keys().next().value as string)
    }
  }

  /** Resolves once every task now active is final, or after `ms`, whichever comes first. */
  async settled(ms: number): Promise<void> {
    const pending = this.active().map((task) => task.result())
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all(pending),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms)
      }),
    ])
    clearTimeout(timer)
  }

  /** Resolves once every final record so far is durable (or failed and was logged). */
  async flush(): Promise<void> {
    this.#writeUnwritten()
    while (this.#writes.size > 0) await Promise.all([...this.#writes])
  }

  get(id: string): NetworkTaskRecord | undefined {
    return this.handle(id)?.record() ?? this.#stored(id, true)
  }

  /** Memory only: a task known only from the store (a previous run of the node) has no handle. */
  handle(id: string): NetworkTaskHandle | undefined {
    return this.#active.get(id) ?? this.#history.get(id)
  }

  list(options: TaskListOptions = {}): NetworkTaskRecord[] {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InvalidTaskError(
        `limit: expected an integer from 1 to ${MAX_LIST_LIMIT}, got ${String(limit)}`,
      )
    }
    const matches = (task: TrackedTask): boolean =>
      (options.status === undefined || task.status === options.status) &&
      (options.type === undefined || task.type === options.type) &&
      (options.peer === undefined || task.peer === options.peer)
    const found: NetworkTaskRecord[] = []
    for (const task of [...this.#active.values(), ...this.#history.values()]) {
      if (matches(task)) found.push(task.record())
    }
    found.push(...this.#listStored(options, limit))
    found.sort((a, b) => b.submittedAt - a.submittedAt)
    return found.slice(0, limit)
  }

  #persist(record: NetworkTaskRecord): void {
    // Handed to the store in bursts: the writer thread then commits many records per transaction,
    // which costs far less CPU per record than one transaction each (docs/benchmarks/exchange.md).
    this.#unwritten.push(record)
    if (this.#writeTimer === undefined) {
      this.#writeTimer = setTimeout(() => this.#writeUnwritten(), SUBMITTED_WRITE_DELAY_MS)
      this.#writeTimer.unref()
    }
  }

  #writeUnwritten(): void {
    clearTimeout(this.#writeTimer)
    this.#writeTimer = undefined
    const records = this.#unwritten
    this.#unwritten = []
    for (const record of records) this.#write(record)
  }

  #write(record: NetworkTaskRecord): void {
    const s = this.#store
    if (s === undefined) return
    let write: Promise<void>
    try {
      write = s.store.putAsync(toStoredRecord(record))
    } catch (err) {
      write = Promise.reject(err)
    }
    const tracked = write.then(
      () => {
        this.#writes.delete(tracked)
      },
      (err: unknown) => {
        this.#writes.delete(tracked)
        s.log.warn({ err, ...taskLogFields(record.id) }, 'could not store the record of a submitted task')
      },
    )
    this.#writes.add(tracked)
  }

  /** The stored record of a task not in memory; undefined if none, unreadable or the store is closed. */
  #stored(id: string, output: boolean): NetworkTaskRecord | undefined {
    const s = this.#store
    if (s === undefined || s.store.closed) return undefined
    try {
      const row = s.store.get(id, { output })
      return row === undefined ? undefined : fromStoredRecord(row)
    } catch (err) {
      s.log.warn({ err, ...taskLogFields(id) }, 'could not read the record of a submitted task')
      return undefined
    }
  }

  /** Up to `limit` stored records matching `options` that are not in memory, newest first. */
  #listStored(options: TaskListOptions, limit: number): NetworkTaskRecord[] {
    const s = this.#store
    if (s === undefined || s.store.closed) return []
    if (options.status !== undefined && !isFinalStatus(options.status)) return []
    const found: NetworkTaskRecord[] = []
    const pageSize = Math.min(MAX_LIST_LIMIT, limit + this.#active.size + this.#history.size)
    try {
      for (let offset = 0; found.length < limit; offset += pageSize) {
        // Outputs (embeddings can be large) are read only for the records returned.
        const page = s.store.list({
          limit: pageSize,
          offset,
          output: false,
          ...(options.status === undefined ? {} : { status: options.status as TaskStatus }),
          ...(options.type === undefined ? {} : { type: options.type }),
        })
        for (const row of page) {
          if (row.backend !== SUBMITTED_BACKEND || this.#active.has(row.id) || this.#history.has(row.id))
            continue
          const summary = fromStoredRecord(row)
          if (summary === undefined) continue
          if (options.peer !== undefined && summary.peer !== options.peer) continue
          const record = this.#stored(row.id, true)
          if (record === undefined) continue
          found.push(record)
          if (found.length === limit) break
        }
        if (page.length < pageSize) break
      }
    } catch (err) {
      s.log.warn({ err }, 'could not list the records of submitted tasks')
    }
    return found
  }
}
