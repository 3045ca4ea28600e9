import { BackendFailedError } from '../errors.js'
import type { ResultStore } from '../store/store.js'
import type { TaskRecord } from '../types.js'
import type { TaskState } from './task.js'
import { taskErrorInfo } from './task-error.js'

/**
 * Where finished records go: the store when there is one, else (or when a write fails) a history in
 * memory bounded by count and by the estimated size of the outputs, so a run of large results
 * cannot exhaust the heap.
 */
export class Results {
  /** The last store failure, until a write succeeds again. */
  storeError: Error | undefined
  readonly #store: ResultStore | undefined
  readonly #history: History
  readonly #onStoreError: (err: Error) => void
  /** Records being written by the store's writer thread, served from here until committed. */
  readonly #pending = new Map<string, readonly [TaskRecord, number]>()
  readonly #inflight = new Set<Promise<void>>()

  constructor(
    store: ResultStore | undefined,
    limit: number,
    maxBytes: number,
    onStoreError: (err: Error) => void,
  ) {
    this.#store = store
    this.#history = new History(limit, maxBytes)
    this.#onStoreError = onStoreError
  }

  /** The store, unless closed. */
  get store(): ResultStore | undefined {
    const store = this.#store
    return store === undefined || store.closed ? undefined : store
  }

  /** Records in memory (history, then writes in flight), with their submission sequence numbers. */
  *history(): Iterable<readonly [TaskRecord, number]> {
    yield* this.#history.entries()
    yield* this.#pending.values()
  }

  /**
   * Keeps the final record of `state`: synchronously (returns `undefined`), or through the store's
   * writer thread (returns a promise that settles once the record is kept somewhere; meanwhile it
   * is served from memory). An output that cannot be stored as JSON turns the task into a `FAILED`
   * one: that is the backend's failure, as it could not be sent to a peer either. (A task persisted
   * in the background has been announced `COMPLETED` by then; only its kept record changes.)
   */
  persist(state: TaskState): Promise<void> | undefined {
    const store = this.store
    if (store === undefined || state.persist === 'memory') {
      this.#history.add(state.record(), state.seq)
      return undefined
    }
    const write = this.#write(store, state)
    this.#inflight.add(write)
    void write.finally(() => this.#inflight.delete(write))
    return write
  }

  async #write(store: ResultStore, state: TaskState): Promise<void> {
    const record = state.record()
    this.#pending.set(state.id, [record, state.seq])
    try {
      await store.putAsync(record)
      this.storeError = undefined
    } catch (err) {
      if (err instanceof TypeError && state.status === 'COMPLETED') {
        state.status = 'FAILED'
        state.output = undefined
        state.progress = undefined
        state.errorObject = new BackendFailedError(
          `output of task ${state.id} is not JSON-serialisable: ${err.message}`,
        )
        state.error = taskErrorInfo(state.errorObject)
        return this.#write(store, state)
      }
      this.storeError = err as Error
      this.#onStoreError(err as Error)
      this.#history.add(state.record(), state.seq)
    } finally {
      if (this.#pending.get(state.id)?.[0] === record) this.#pending.delete(state.id)
    }
  }

  /** Resolves once every write in flight has settled. */
  async flush(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight])
  }

  /** The record of a finished task kept in memory (history, writes in flight), without asking the store. */
  inMemory(id: string): TaskRecord | undefined {
    return this.#pending.get(id)?.[0] ?? this.#history.get(id)
  }

  /** The record of a finished task; store errors propagate. */
  get(id: string, output = true): TaskRecord | undefined {
    const record = this.#pending.get(id)?.[0] ?? this.#history.get(id)
    if (record !== undefined) return output ? record : withoutOutput(record)
    return this.store?.get(id, { output })
  }

  /** Like `get`, but a broken store counts as not knowing the task (and shows in `storeError`). */
  find(id: string): TaskRecord | undefined {
    try {
      return this.get(id)
    } catch (err) {
      this.storeError = err as Error
      return undefined
    }
  }
}

/** A copy of `record` without its output. */
export function withoutOutput(record: TaskRecord): TaskRecord {
  if (record.output === undefined) return record
  const { output: _, ...rest } = record
  return rest
}

/** Finished records in memory, oldest first, evicted by count and by estimated bytes. */
class History {
  readonly #records = new Map<string, { record: TaskRecord; seq: number; bytes: number }>()
  #bytes = 0

  constructor(
    readonly limit: number,
    readonly maxBytes: number,
  ) {}

  add(record: TaskRecord, seq: number): void {
    if (this.limit === 0) return
    const bytes = estimateBytes(record.output, this.maxBytes)
    this.#drop(record.id)
    this.#records.set(record.id, { record, seq, bytes })
    this.#bytes += bytes
    // The newest record always stays, however large: its caller may still ask for it.
    while (this.#records.size > 1 && (this.#records.size > this.limit || this.#bytes > this.maxBytes)) {
      this.#drop(this.#records.keys().next().value as string)
    }
  }

  get(id: string): TaskRecord | undefined {
    return this.#records.get(id)?.record
  }

  *entries(): Iterable<readonly [TaskRecord, number]> {
    for (const { record, seq } of this.#records.values()) yield [record, seq]
  }

  #drop(id: string): void {
    const entry = this.#records.get(id)
    if (entry === undefined) return
    this.#records.delete(id)
    this.#bytes -= entry.bytes
  }
}

/**
 * A rough size of a JSON-like value in memory (UTF-16 strings, 8-byte numbers, small object
 * overheads), counting no further than `cap`: cheap enough to run on every finished task.
 */
export function estimateBytes(value: unknown, cap: number): number {
  let total = 0
  const stack: unknown[] = [value]
  while (stack.length > 0 && total <= cap) {
    const v = stack.pop()
    if (typeof v === 'string') total += 16 + 2 * v.length
    else if (typeof v !== 'object' || v === null) total += 8
    else if (ArrayBuffer.isView(v)) total += 64 + v.byteLength
    else if (Array.isArray(v)) {
      total += 16 + 8 * v.length
      for (const item of v) stack.push(item)
    } else {
      for (const [key, item] of Object.entries(v)) {
        total += 16 + 2 * key.length
        stack.push(item)
      }
    }
  }
  return total
}
