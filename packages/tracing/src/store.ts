/**
 * The spans a node keeps: its own, and those its peers sent back for traces it asked about, in one
 * SQLite file in the data directory (`traces.db`), each deleted `retentionMs` after it was written.
 * Ended spans wait in memory for a moment and leave in one batch, one row per trace, to a thread
 * of their own that owns the database: the node's main thread pays for a span's JSON and a share
 * of one message, never for SQLite.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { TraceSpan } from '@p2p-ai/protocol'
import {
  DEFAULT_TRACE_RETENTION_MS,
  REMEMBERED_TASKS,
  REMEMBERED_TRACES,
  STORE_FLUSH_BATCH,
  STORE_FLUSH_INTERVAL_MS,
  STORE_PURGE_INTERVAL_MS,
  TRACE_STORE_FILE_NAME,
} from './constants.js'
import { TraceStoreError, TracingOptionError } from './errors.js'
import { RecentMap } from './recent.js'
import { type SpanBatch, SpanTable } from './span-table.js'
import type { StoredSpan } from './spans.js'
import { type StoreReply, type StoreRequest, serve } from './store-protocol.js'

export interface TraceStoreInit {
  /** Directory of the store file (`traces.db`), created if missing. Exactly one of this and `inMemory`. */
  readonly directory?: string
  /** Keep the spans in memory only (on the calling thread); for tests and short-lived nodes. */
  readonly inMemory?: boolean
  /**
   * How long a span is kept after it was written, in milliseconds.
   *
   * @default 172_800_000 (48 h)
   */
  readonly retentionMs?: number
  /**
   * How often expired spans are deleted; 0 turns the timer off (call `purge()`).
   *
   * @default 600_000 (10 min)
   */
  readonly purgeIntervalMs?: number
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number
}

/** Where a node's spans are kept, and read back for `task trace`. */
export interface TraceStore {
  /** The database file, or `:memory:`. */
  readonly path: string
  /**
   * Writes that failed since the store opened (their spans are lost; the node goes on): the node's
   * `tracing` health check turns `degraded` while it grows.
   */
  readonly writeErrors: number
  /** Queues an ended span of this node; it is written within `STORE_FLUSH_INTERVAL_MS`. */
  record(span: StoredSpan): void
  /** Adds spans of a trace that peers recorded (a span already kept is replaced when read). */
  add(traceId: string, spans: readonly TraceSpan[]): void
  /** The spans of a trace that have not expired, the earliest first, each span once. */
  spans(traceId: string): Promise<TraceSpan[]>
  /** The trace of a task this node recorded since it started (the newest, for a reused id). */
  traceOf(taskId: string): string | undefined
  /**
   * Whether the trace is among the newest this store wrote since it started (`REMEMBERED_TRACES`):
   * those it finds without scanning.
   */
  recent(traceId: string): boolean
  /** Spans kept. */
  count(): Promise<number>
  /** Sends the spans that wait to be written. */
  flush(): void
  /** Deletes expired spans now; resolves with how many rows went. */
  purge(): Promise<number>
  /** Writes what waits and closes the file. Idempotent. */
  close(): Promise<void>
}

/** Opens (or creates) a span store. Throws `TraceStoreError` when the file cannot be used. */
export function traceStore(init: TraceStoreInit): TraceStore {
  return new SpanStore(init)
}

/** Where the table lives: on this thread (memory), or on the store's thread (a file). */
interface Backend {
  /** Fire and forget (writes). */
  send(request: StoreRequest): void
  ask(request: StoreRequest): Promise<string | number | undefined>
}

class SpanStore implements TraceStore {
  readonly path: string
  writeErrors = 0
  readonly #retentionMs: number
  readonly #now: () => number
  readonly #backend: Backend
  /** Task id → trace id of the tasks recorded since this process started, the newest. */
  readonly #tasks = new RecentMap<string, string>(REMEMBERED_TASKS)
  /** Trace id → the batches holding its spans, for the traces written since this process started, the newest. */
  readonly #batches = new RecentMap<string, number[]>(REMEMBERED_TRACES)
  /** Batch ids grow with time across restarts: this process's start, in ms, times 1,000, plus a count. */
  #nextBatch = Date.now() * 1000
  #waiting: StoredSpan[] = []
  #flushTimer: NodeJS.Timeout | undefined
  readonly #purgeTimer: NodeJS.Timeout | undefined
  #closing: Promise<void> | undefined

  constructor(init: TraceStoreInit) {
    const retentionMs = init.retentionMs ?? DEFAULT_TRACE_RETENTION_MS
    const purgeIntervalMs = init.purgeIntervalMs ?? STORE_PURGE_INTERVAL_MS
    if ((init.directory === undefined) === (init.inMemory !== true)) {
      throw new TracingOptionError('a trace store needs exactly one of `directory` and `inMemory: true`')
    }
    if (!Number.isSafeInteger(retentionMs) || retentionMs <= 0) {
      throw new TracingOptionError(`retentionMs: expected a positive integer, got ${String(retentionMs)}`)
    }
    if (!Number.isSafeInteger(purgeIntervalMs) || purgeIntervalMs < 0) {
      throw new TracingOptionError(`purgeIntervalMs: expected an integer ≥ 0, got ${String(purgeIntervalMs)}`)
    }
    this.#retentionMs = retentionMs
    this.#now = init.now ?? Date.now
    this.path = init.directory === undefined ? ':memory:' : join(init.directory, TRACE_STORE_FILE_NAME)
    try {
      this.#backend = init.directory === undefined ? localBackend(this) : threadBackend(this.path, this)
    } catch (err) {
      throw new TraceStoreError(`cannot open the trace store ${this.path}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    if (purgeIntervalMs > 0) {
      this.#purgeTimer = setInterval(() => {
        this.purge().catch(() => {
          // Tried again at the next interval.
        })
      }, purgeIntervalMs)
      this.#purgeTimer.unref()
    }
  }

  record(span: StoredSpan): void {
    if (this.#closing !== undefined) return
    if (span.taskId !== undefined) this.#tasks.set(span.taskId, span.traceId)
    if (this.#waiting.push(span) >= STORE_FLUSH_BATCH) this.flush()
    else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.flush(), STORE_FLUSH_INTERVAL_MS)
      this.#flushTimer.unref()
    }
  }

  add(traceId: string, spans: readonly TraceSpan[]): void {
    this.#open()
    if (spans.length === 0) return
    this.#send(this.#batchOf(spans.map((span) => ({ traceId, taskId: undefined, span }))))
  }

  async spans(traceId: string): Promise<TraceSpan[]> {
    this.#open()
    this.flush()
    const hint = this.#batches.get(traceId) ?? []
    const text = (await this.#ask({ id: 0, op: 'read', traceId, now: this.#now(), hint })) as string
    // A span written twice (a peer's spans fetched again) is the later row's.
    const byId = new Map<string, TraceSpan>()
    for (const span of JSON.parse(text) as TraceSpan[]) byId.set(span.spanId, span)
    return [...byId.values()].sort((a, b) => a.startUs - b.startUs || (a.spanId < b.spanId ? -1 : 1))
  }

  traceOf(taskId: string): string | undefined {
    return this.#tasks.get(taskId)
  }

  recent(traceId: string): boolean {
    this.flush()
    return this.#batches.get(traceId) !== undefined
  }

  async count(): Promise<number> {
    this.#open()
    this.flush()
    return (await this.#ask({ id: 0, op: 'count', now: this.#now() })) as number
  }

  flush(): void {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    if (this.#waiting.length === 0) return
    const spans = this.#waiting
    this.#waiting = []
    this.#send(this.#batchOf(spans))
  }

  async purge(): Promise<number> {
    this.#open()
    this.flush()
    return (await this.#ask({ id: 0, op: 'purge', now: this.#now() })) as number
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#purgeTimer)
      this.flush()
      await this.#backend.ask({ id: 0, op: 'close' })
    })()
    return this.#closing
  }

  /** A write failed on the store's thread. */
  lost(): void {
    this.writeErrors++
  }

  #send(batch: SpanBatch): void {
    this.#backend.send({ id: 0, op: 'write', batch, expiresAt: this.#now() + this.#retentionMs })
  }

  async #ask(request: StoreRequest): Promise<string | number | undefined> {
    try {
      return await this.#backend.ask(request)
    } catch (err) {
      throw new TraceStoreError(`the trace store ${this.path} failed: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  /**
   * One batch: the spans by trace, as one JSON text (one string crosses to the store's thread, not
   * an object per span; one `JSON.stringify` of the whole batch costs a span much less than one of
   * its own), remembered under each of its traces.
   */
  #batchOf(spans: readonly StoredSpan[]): SpanBatch {
    const id = this.#nextBatch++
    const byTrace: Record<string, TraceSpan[]> = {}
    for (const { traceId, span } of spans) {
      const list = byTrace[traceId]
      if (list === undefined) byTrace[traceId] = [span]
      else list.push(span)
    }
    const traceIds = Object.keys(byTrace)
    for (const traceId of traceIds) {
      const held = this.#batches.get(traceId)
      if (held === undefined) this.#batches.set(traceId, [id])
      else held.push(id)
    }
    return { id, traceIds, json: JSON.stringify(byTrace) }
  }

  #open(): void {
    if (this.#closing !== undefined) throw new TraceStoreError(`the trace store ${this.path} is closed`)
  }
}

function localBackend(store: SpanStore): Backend {
  const table = new SpanTable(':memory:')
  return {
    send(request) {
      // A write runs inside a span's end: it fails by counting, as the thread's do, never by throwing.
      try {
        serve(table, request)
      } catch {
        store.lost()
      }
    },
    ask: async (request) => serve(table, request),
  }
}

function threadBackend(path: string, store: SpanStore): Backend {
  // From the sources (tests under vitest), the thread runs the compiled twin in dist.
  const here = fileURLToPath(import.meta.url)
  const compiled = here.endsWith('.ts') ? here.replace(/[/\\]src[/\\]store\.ts$/, '/dist/store.js') : here
  const entry = new URL('./store-worker.js', pathToFileURL(compiled))
  if (!existsSync(entry))
    throw new Error(`the store's thread module ${fileURLToPath(entry)} is missing (build first)`)
  const pending = new Map<
    number,
    { resolve(value: string | number | undefined): void; reject(err: Error): void }
  >()
  let worker: Worker | undefined
  let next = 1
  let failure: Error | undefined
  // Started with the first span: a node that records nothing runs no thread.
  const start = (): Worker => {
    if (worker !== undefined) return worker
    const thread = new Worker(entry, { workerData: { path } })
    // The thread never keeps the process alive on its own: only while a read waits for it.
    thread.unref()
    thread.on('message', (reply: StoreReply) => {
      if (reply.id === 0) {
        if (!reply.ok) store.lost()
        return
      }
      const waiter = pending.get(reply.id)
      pending.delete(reply.id)
      if (pending.size === 0) thread.unref()
      if (reply.ok) waiter?.resolve(reply.value)
      else waiter?.reject(new Error(reply.message))
    })
    thread.on('error', (err) => {
      // What the thread had not written yet is gone with it: at least one write failed.
      failure = err
      store.lost()
    })
    thread.on('exit', () => {
      failure ??= new Error('the trace store thread exited')
      for (const waiter of pending.values()) waiter.reject(failure)
      pending.clear()
    })
    worker = thread
    return thread
  }
  return {
    send(request) {
      if (failure === undefined) start().postMessage(request)
      else store.lost()
    },
    ask(request) {
      if (request.op === 'close' && worker === undefined) return Promise.resolve(undefined)
      if (failure !== undefined) {
        // A store whose thread ended (it could not open the file, or was closed) answers every
        // read with that; closing it again is done.
        return request.op === 'close' ? Promise.resolve(undefined) : Promise.reject(failure)
      }
      const thread = start()
      const id = next++
      if (pending.size === 0) thread.ref()
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        thread.postMessage({ ...request, id })
      })
    },
  }
}
