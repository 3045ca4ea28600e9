/**
 * The spans a node keeps: its own, and those its peers sent back for traces it asked about, in one
 * SQLite file in the data directory (`traces.db`), each deleted `retentionMs` after it was written.
 * Ended spans wait in memory for a moment, as lines of the batch's text (`span-lines.ts`), and
 * leave in one row per batch to a thread of their own that owns the database: the node's main
 * thread pays for a span's line and a share of one message, never for SQLite.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { TraceSpan } from '@p2p-ai/protocol'
import { wallOf } from './clock.js'
import {
  DEFAULT_TRACE_RETENTION_MS,
  REMEMBERED_TASKS,
  REMEMBERED_TRACE_SLOTS,
  STORE_FLUSH_BATCH,
  STORE_FLUSH_INTERVAL_MS,
  STORE_PURGE_INTERVAL_MS,
  TRACE_STORE_FILE_NAME,
} from './constants.js'
import { TraceStoreError, TracingOptionError } from './errors.js'
import { RecentMap } from './recent.js'
import { batchHeader, spanLine, traceSpanLine } from './span-lines.js'
import { type SpanBatch, SpanTable } from './span-table.js'
import type { StoredSpan } from './spans.js'
import { type StoreReply, type StoreRequest, type StoreValue, serve } from './store-protocol.js'

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
  /**
   * The PeerId of the node whose spans these are, written once per batch instead of once per span.
   *
   * @default each span names its node
   */
  readonly node?: string
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
  /**
   * Queues an ended span of this node given as its fields, straight into the store's format
   * (`span-lines.ts`): how the plug-in's own spans are recorded, with no object in between. Times
   * are `performance.now()` instants; `attributes` is what `attributeText` made of them.
   */
  recordSpan(
    traceId: string,
    spanId: string,
    parentId: string | undefined,
    name: string,
    kind: TraceSpan['kind'],
    status: TraceSpan['status'],
    startMs: number,
    endMs: number,
    attributes: string,
    taskId: string | undefined,
  ): void
  /** Adds spans of a trace that peers recorded (a span already kept is replaced when read). */
  add(traceId: string, spans: readonly TraceSpan[]): void
  /** The spans of a trace that have not expired, the earliest first, each span once. */
  spans(traceId: string): Promise<TraceSpan[]>
  /** The trace of a task this node recorded since it started (the newest, for a reused id). */
  traceOf(taskId: string): string | undefined
  /**
   * Whether the trace is among the newest this store wrote since it started (about 100,000, by
   * `REMEMBERED_TRACE_SLOTS`): those it finds without scanning.
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
  ask(request: StoreRequest): Promise<StoreValue>
}

class SpanStore implements TraceStore {
  readonly path: string
  writeErrors = 0
  readonly #retentionMs: number
  readonly #now: () => number
  readonly #backend: Backend
  /** Task id → trace id of the tasks recorded since this process started, the newest. */
  readonly #tasks = new RecentMap<string, string>(REMEMBERED_TASKS)
  /**
   * The batches that hold the traces written since this process started, the newest: by a hash of
   * the trace id, the first and last batch (as offsets from `#firstBatch`, 0 for none) and a second
   * hash to tell the trace from another of the same slot. Numbers in preallocated arrays: no entry
   * per trace for the collector to follow. A trace whose slot a newer one took is found by a scan.
   */
  readonly #slotFirst = new Int32Array(REMEMBERED_TRACE_SLOTS)
  readonly #slotLast = new Int32Array(REMEMBERED_TRACE_SLOTS)
  readonly #slotCheck = new Uint32Array(REMEMBERED_TRACE_SLOTS)
  /** Batch ids grow with time across restarts: this process's start, in ms, times 1,000, plus a count. */
  readonly #firstBatch = Date.now() * 1000
  #nextBatch = this.#firstBatch + 1
  readonly #node: string
  /**
   * The batch that waits: its text in UTF-8 so far (each span's line is written as it ends, so no
   * string or object of it outlives the span's end), its length, how many spans, the id it will
   * have (0 while none waits) and the instant its times count from (microseconds since the epoch).
   */
  #waiting = Buffer.allocUnsafeSlow(BATCH_BYTES)
  #waitingBytes = 0
  #waitingCount = 0
  #waitingBatch = 0
  #baseUs = 0
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
    this.#node = init.node ?? ''
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
    let line =
      this.#waitingBatch === 0 ? '' : traceSpanLine(span.traceId, span.span, this.#node, this.#baseUs)
    if (!this.#fits(line.length)) line = ''
    this.#begin(span.traceId, span.taskId)
    if (line === '') line = traceSpanLine(span.traceId, span.span, this.#node, this.#baseUs)
    this.#write(line)
  }

  recordSpan(
    traceId: string,
    spanId: string,
    parentId: string | undefined,
    name: string,
    kind: TraceSpan['kind'],
    status: TraceSpan['status'],
    startMs: number,
    endMs: number,
    attributes: string,
    taskId: string | undefined,
  ): void {
    if (this.#closing !== undefined) return
    // Ids, a name of at most 64 characters, two numbers: the rest of a line is its attributes.
    this.#fits(attributes.length + 256)
    this.#begin(traceId, taskId)
    const base = this.#baseUs
    const start = Math.floor(wallOf(startMs) * 1000) - base
    const end = Math.max(start, Math.floor(wallOf(endMs) * 1000) - base)
    this.#write(`${spanLine(traceId, spanId, parentId, '', name, kind, status, start, end)}${attributes}\n`)
  }

  /**
   * Whether a line of `length` characters fits the batch that waits (at most 3 bytes each in
   * UTF-8); if it does not, that batch leaves now and the line opens the next.
   */
  #fits(length: number): boolean {
    if (this.#waitingBytes + length * 3 <= this.#waiting.length) return true
    this.flush()
    if (length * 3 + 1024 > this.#waiting.length) this.#waiting = Buffer.allocUnsafeSlow(length * 3 + 1024)
    return false
  }

  /** Opens a batch if none waits, and remembers the span's trace and task. */
  #begin(traceId: string, taskId: string | undefined): void {
    if (taskId !== undefined) this.#tasks.set(taskId, traceId)
    if (this.#waitingBatch === 0) {
      this.#waitingBatch = this.#nextBatch++
      this.#baseUs = Math.floor(wallOf(performance.now()) * 1000)
      this.#waitingBytes = this.#waiting.write(batchHeader(this.#baseUs, this.#node), 0, 'utf8')
    }
    this.#remember(traceId, this.#waitingBatch)
  }

  #write(line: string): void {
    this.#waitingBytes += this.#waiting.write(line, this.#waitingBytes, 'utf8')
    this.#queued()
  }

  #queued(): void {
    if (++this.#waitingCount >= STORE_FLUSH_BATCH) this.flush()
    else if (this.#flushTimer === undefined) {
      this.#flushTimer = setTimeout(() => this.flush(), STORE_FLUSH_INTERVAL_MS)
      this.#flushTimer.unref()
    }
  }

  add(traceId: string, spans: readonly TraceSpan[]): void {
    this.#open()
    if (spans.length === 0) return
    const id = this.#nextBatch++
    this.#remember(traceId, id)
    let text = batchHeader(0, '')
    for (const span of spans) text += traceSpanLine(traceId, span, '', 0)
    this.#send(id, utf8.encode(text))
  }

  async spans(traceId: string): Promise<TraceSpan[]> {
    this.#open()
    this.flush()
    const slot = this.#slot(traceId)
    const hint =
      slot === undefined
        ? []
        : [
            this.#firstBatch + (this.#slotFirst[slot] as number),
            this.#firstBatch + (this.#slotLast[slot] as number),
          ]
    const found = (await this.#ask({ id: 0, op: 'read', traceId, now: this.#now(), hint })) as TraceSpan[]
    // A span written twice (a peer's spans fetched again) is the later row's.
    const byId = new Map<string, TraceSpan>()
    for (const span of found) byId.set(span.spanId, span)
    return [...byId.values()].sort((a, b) => a.startUs - b.startUs || (a.spanId < b.spanId ? -1 : 1))
  }

  traceOf(taskId: string): string | undefined {
    return this.#tasks.get(taskId)
  }

  recent(traceId: string): boolean {
    return this.#slot(traceId) !== undefined
  }

  async count(): Promise<number> {
    this.#open()
    this.flush()
    return (await this.#ask({ id: 0, op: 'count', now: this.#now() })) as number
  }

  flush(): void {
    clearTimeout(this.#flushTimer)
    this.#flushTimer = undefined
    if (this.#waitingCount === 0) return
    const bytes = this.#waiting.subarray(0, this.#waitingBytes)
    const id = this.#waitingBatch
    // The buffer moves to the store's thread: the next batch gets one of its own.
    this.#waiting = Buffer.allocUnsafeSlow(BATCH_BYTES)
    this.#waitingBytes = 0
    this.#waitingCount = 0
    this.#waitingBatch = 0
    this.#send(id, bytes)
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

  /**
   * Sends a batch to be written: its text in UTF-8, in a buffer of its own that moves to the
   * store's thread rather than being copied there.
   */
  #send(id: number, bytes: Uint8Array): void {
    const batch: SpanBatch = { id, bytes }
    this.#backend.send({ id: 0, op: 'write', batch, expiresAt: this.#now() + this.#retentionMs })
  }

  async #ask(request: StoreRequest): Promise<StoreValue> {
    try {
      return await this.#backend.ask(request)
    } catch (err) {
      throw new TraceStoreError(`the trace store ${this.path} failed: ${(err as Error).message}`, {
        cause: err,
      })
    }
  }

  /** Remembers that batch `id` holds spans of the trace. */
  #remember(traceId: string, id: number): void {
    const hash = hexHash(traceId, 0)
    const check = hexHash(traceId, 8)
    const slot = hash & (REMEMBERED_TRACE_SLOTS - 1)
    const offset = id - this.#firstBatch
    if (this.#slotCheck[slot] !== check || this.#slotFirst[slot] === 0) {
      this.#slotCheck[slot] = check
      this.#slotFirst[slot] = offset
    }
    this.#slotLast[slot] = offset
  }

  /** The slot of a trace this store remembers, if it does. */
  #slot(traceId: string): number | undefined {
    if (traceId.length < 16) return undefined
    const slot = hexHash(traceId, 0) & (REMEMBERED_TRACE_SLOTS - 1)
    return this.#slotFirst[slot] !== 0 && this.#slotCheck[slot] === hexHash(traceId, 8) ? slot : undefined
  }

  #open(): void {
    if (this.#closing !== undefined) throw new TraceStoreError(`the trace store ${this.path} is closed`)
  }
}

const utf8 = new TextEncoder()

/** Bytes of the buffer a batch is written into; a batch leaves when it is full, whatever its count. */
const BATCH_BYTES = 512 * 1024

/** 32 bits of a hex id from its `at`th digit (ids are random: any 8 digits hash them). */
function hexHash(id: string, at: number): number {
  let hash = 0
  for (let i = at; i < at + 8; i++) {
    const c = id.charCodeAt(i)
    hash = ((hash << 4) | (c <= 57 ? c - 48 : (c | 32) - 87)) >>> 0
  }
  return hash
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
  const pending = new Map<number, { resolve(value: StoreValue): void; reject(err: Error): void }>()
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
      if (failure === undefined) {
        const thread = start()
        if (request.op === 'write') thread.postMessage(request, [request.batch.bytes.buffer as ArrayBuffer])
        else thread.postMessage(request)
      } else store.lost()
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
