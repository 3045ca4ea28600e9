/**
 * `node.tasks`: every task submitted on this node, live ones and a bounded history in memory, and,
 * with a result store, the record of each for the store's TTL, across restarts: written when the
 * task is accepted and again when it ends, so that neither a task nor its result vanishes in a
 * crash (docs/delivery.md).
 */
import { type ResultStore, TaskIdConflictError, type TaskRecord, type TaskStatus } from '@p2p-ai/engine'
import type { Logger } from 'pino'
import { taskLogFields } from '../../logger.js'
import { ACCEPTANCE_WRITE_DELAY_MS, SUBMITTED_WRITE_DELAY_MS } from '../constants.js'
import { InvalidTaskError } from '../errors.js'
import {
  isFinalStatus,
  type NetworkTaskHandle,
  type NetworkTaskRecord,
  type TaskList,
  type TaskListOptions,
} from '../types.js'
import {
  fromAcceptedRecord,
  fromStoredRecord,
  type InterruptedTask,
  SUBMITTED_BACKEND,
  toAcceptedRecord,
  toStoredRecord,
} from './records.js'
import type { TaskSpec } from './submission.js'

interface Deferred {
  readonly promise: Promise<void>
  resolve(): void
}

function deferred(): Deferred {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** A submitted task as the registry keeps it: a plain one or a redundant one. */
export interface TrackedTask extends NetworkTaskHandle {
  /** The submission, settled. */
  readonly spec: TaskSpec
  readonly isFinished: boolean
  /** The provider of the current or last attempt (the accepted answer's, for a redundant task). */
  readonly peer: string | undefined
  /** The exchange is stopping: fail unless final. */
  halt(): void
}

const DEFAULT_LIST_LIMIT = 100
const MAX_LIST_LIMIT = 10_000
/** Rows read per page when looking for interrupted tasks at start. */
const INTERRUPTED_PAGE = 500

/** Where the registry keeps records beyond its memory. */
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
  /**
   * The history's ids in the Map's order, as a ring, so that the oldest is found without iterating
   * the Map from its start: a Map keeps deleted entries there until it is rebuilt, so that walk
   * grew with the history and cost more than the rest of a finished task's bookkeeping.
   */
  readonly #historyRing: string[] = []
  #historyNext = 0
  readonly #historyLimit: number
  readonly #store: TaskRegistryStore | undefined
  /**
   * Accepted tasks whose acceptance is not written yet: it goes after ACCEPTANCE_WRITE_DELAY_MS,
   * or at once when someone asks (`durable`, as the control API does before it answers). Most
   * tasks submitted from code end sooner, and are then written once, final: a store write per task,
   * not two, on the exchange's hot path.
   */
  readonly #accepted = new Map<string, { readonly task: TrackedTask; readonly at: number }>()
  #acceptTimer: NodeJS.Timeout | undefined
  /**
   * Tasks whose latest record goes in the next burst, at most SUBMITTED_WRITE_DELAY_MS away (or at
   * once when asked for). Its stored form is made when it is written: acceptance or final.
   */
  readonly #unwritten = new Map<string, TrackedTask>()
  #writeTimer: NodeJS.Timeout | undefined
  #writeNow: NodeJS.Immediate | undefined
  /** Settles when the records unwritten now have been handed to the store. */
  #handedOver = deferred()
  /** Writes to the store not yet committed, by task id (the latest record of each). */
  readonly #writes = new Map<string, Promise<boolean>>()
  /** Tasks whose latest write failed (bounded like the history). */
  readonly #notDurable = new Set<string>()

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
   * Keeps `task` until it is final, then in the history. With a store, its acceptance is written
   * (so that a crash before it ends leaves a trace to resume it from), then its final record.
   * `sync`: write the acceptance before returning (a resumed task, whose count of resumptions
   * must be on disk before it runs again, in case it is what brings the node down).
   * `listed: false`: kept only until it is final, for `active()` and `pending`; never stored (its
   * caller, a job, keeps its own record and resumes it itself).
   */
  add(task: TrackedTask, options: { sync?: boolean; listed?: boolean } = {}): void {
    if (options.listed === false) {
      this.#unlisted.add(task)
      void task.result().then(() => {
        this.#unlisted.delete(task)
        this.#onFinished?.(task)
      })
      return
    }
    this.#active.set(task.id, task)
    if (this.#store !== undefined && !task.isFinished) {
      if (options.sync === true) this.#putNow(toAcceptedRecord(task.record(), task.spec), task.id)
      else this.#accept(task)
    }
    void task.result().then(() => this.#finished(task))
  }

  #finished(task: TrackedTask): void {
    if (this.#active.get(task.id) !== task) return
    this.#active.delete(task.id)
    this.#onFinished?.(task)
    // Its acceptance, if not written yet, never will be: the final record says more.
    this.#accepted.delete(task.id)
    if (this.#store !== undefined) this.#persist(task)
    if (this.#historyLimit === 0) return
    // A task of an id the history holds already takes its place, as `Map.set` does.
    if (!this.#history.has(task.id)) {
      const ring = this.#historyRing
      if (ring.length < this.#historyLimit) ring.push(task.id)
      else {
        this.#history.delete(ring[this.#historyNext] as string)
        ring[this.#historyNext] = task.id
        this.#historyNext = (this.#historyNext + 1) % this.#historyLimit
      }
    }
    this.#history.set(task.id, task)
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

  /** Resolves once every record so far is committed (or failed and was logged). */
  async flush(): Promise<void> {
    // Tasks that ended this turn, whose result callbacks have not run yet, go too.
    for (const task of [...this.#active.values()]) if (task.isFinished) this.#finished(task)
    this.#takeAccepted()
    this.#writeUnwritten()
    while (this.#writes.size > 0) await Promise.all([...this.#writes.values()])
  }

  durable(id: string): Promise<boolean> {
    if (this.#store === undefined) return Promise.resolve(false)
    const task = this.#active.get(id)
    // Ended this turn: its final record is what must be durable, not its acceptance.
    if (task?.isFinished === true) this.#finished(task)
    const accepted = this.#accepted.get(id)
    if (accepted !== undefined) {
      this.#accepted.delete(id)
      this.#unwritten.set(id, accepted.task)
    }
    if (this.#unwritten.has(id)) {
      // Asked for: the records waiting go now, together (a group commit), not after the delay.
      this.#writeNow ??= setImmediate(() => this.#writeUnwritten())
      return this.#handedOver.promise.then(() => this.durable(id))
    }
    return this.#writes.get(id) ?? Promise.resolve(!this.#notDurable.has(id))
  }

  /**
   * Tasks whose acceptance is stored but not their end: this node stopped without a graceful
   * shutdown (a crash, a kill) while they ran. Read once, at start.
   */
  interrupted(): InterruptedTask[] {
    const s = this.#store
    if (s === undefined || s.store.closed) return []
    const found: InterruptedTask[] = []
    try {
      for (let offset = 0; ; offset += INTERRUPTED_PAGE) {
        const page = s.store.list({ status: 'QUEUED', limit: INTERRUPTED_PAGE, offset })
        for (const row of page) {
          const task = fromAcceptedRecord(row)
          if (task !== undefined && !this.#active.has(task.id)) found.push(task)
        }
        if (page.length < INTERRUPTED_PAGE) break
      }
    } catch (err) {
      s.log.warn({ err }, 'could not read the tasks a crash interrupted')
    }
    // Oldest first: they run again in the order they were submitted.
    return found.reverse()
  }

  /** Stores the final record of a task that is not in memory (an interrupted one given up), now. */
  putFinal(record: NetworkTaskRecord): void {
    if (this.#store !== undefined) this.#putNow(toStoredRecord(record), record.id)
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

  #accept(task: TrackedTask): void {
    this.#accepted.set(task.id, { task, at: performance.now() })
    if (this.#acceptTimer === undefined) this.#armAcceptTimer(ACCEPTANCE_WRITE_DELAY_MS)
  }

  #armAcceptTimer(ms: number): void {
    this.#acceptTimer = setTimeout(() => this.#acceptancesDue(), ms)
    this.#acceptTimer.unref()
  }

  /** Writes the acceptances that have waited their delay; the younger ones wait on. */
  #acceptancesDue(): void {
    this.#acceptTimer = undefined
    const now = performance.now()
    // Oldest first (insertion order): the due ones are a prefix.
    for (const [id, { task, at }] of this.#accepted) {
      const wait = at + ACCEPTANCE_WRITE_DELAY_MS - now
      if (wait > 0) {
        this.#armAcceptTimer(wait)
        break
      }
      this.#accepted.delete(id)
      this.#unwritten.set(id, task)
    }
    this.#writeUnwritten()
  }

  /** Moves every waiting acceptance into the next burst. */
  #takeAccepted(): void {
    clearTimeout(this.#acceptTimer)
    this.#acceptTimer = undefined
    for (const [id, { task }] of this.#accepted) this.#unwritten.set(id, task)
    this.#accepted.clear()
  }

  #persist(task: TrackedTask): void {
    // Handed to the store in bursts: the writer thread then commits many records per transaction,
    // which costs far less CPU per record than one transaction each (docs/benchmarks/exchange.md).
    this.#unwritten.set(task.id, task)
    if (this.#writeTimer === undefined) {
      this.#writeTimer = setTimeout(() => this.#writeUnwritten(), SUBMITTED_WRITE_DELAY_MS)
      this.#writeTimer.unref()
    }
  }

  #writeUnwritten(): void {
    clearTimeout(this.#writeTimer)
    this.#writeTimer = undefined
    clearImmediate(this.#writeNow)
    this.#writeNow = undefined
    const tasks = [...this.#unwritten.values()]
    this.#unwritten.clear()
    const records: TaskRecord[] = []
    const traceIds: Array<string | undefined> = []
    for (const task of tasks) {
      const record = task.record()
      records.push(task.isFinished ? toStoredRecord(record) : toAcceptedRecord(record, task.spec))
      traceIds.push(record.traceId)
    }
    this.#write(records, traceIds)
    const handedOver = this.#handedOver
    this.#handedOver = deferred()
    handedOver.resolve()
  }

  /** Hands a burst of records to the store's writer thread at once: one message for all. */
  #write(records: readonly TaskRecord[], traceIds: ReadonlyArray<string | undefined>): void {
    const s = this.#store
    if (s === undefined || records.length === 0) return
    let writes: Promise<void>[]
    try {
      writes = s.store.putManyAsync(records)
    } catch (err) {
      writes = records.map(() => Promise.reject(err))
    }
    records.forEach((record, i) => {
      const { id } = record
      const tracked: Promise<boolean> = (writes[i] as Promise<void>).then(
        () => this.#written(id, tracked, true),
        (err: unknown) => {
          s.log.warn(
            { err, ...taskLogFields(id, traceIds[i]) },
            'could not store the record of a submitted task',
          )
          return this.#written(id, tracked, false)
        },
      )
      this.#writes.set(id, tracked)
    })
  }

  #written(id: string, write: Promise<boolean>, ok: boolean): boolean {
    // A newer record of the same task may be on its way: that one decides.
    if (this.#writes.get(id) === write) {
      this.#writes.delete(id)
      this.#markDurable(id, ok)
    }
    return ok
  }

  /** A synchronous write, outside the bursts: for the few records written at start. */
  #putNow(record: TaskRecord, id: string): void {
    const s = this.#store
    if (s === undefined) return
    try {
      s.store.put(record)
      this.#markDurable(id, true)
    } catch (err) {
      s.log.warn({ err, ...taskLogFields(id) }, 'could not store the record of a submitted task')
      this.#markDurable(id, false)
    }
  }

  #markDurable(id: string, ok: boolean): void {
    if (ok) {
      this.#notDurable.delete(id)
      return
    }
    this.#notDurable.add(id)
    if (this.#notDurable.size > Math.max(this.#historyLimit, DEFAULT_LIST_LIMIT)) {
      this.#notDurable.delete(this.#notDurable.values().next().value as string)
    }
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
