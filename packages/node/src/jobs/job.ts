/**
 * One job: its items read from their source as slots free up, each sent as a task of its own
 * through the exchange (which routes it, fails it over and verifies its result), and the results
 * committed in batches, to the job store and the output file together. The object is also the
 * job's handle.
 *
 * Fan-out is bounded twice: by the router's view of free slots (each provider gets its
 * concurrency plus `jobs.queuePerPeer` of this node's tasks, counting everyone else's load there;
 * more for short tasks, about `JOB_QUEUED_WORK_MS` of their work), and by `jobs.maxInFlight` over
 * all jobs. Tasks go out in bursts, all there is room for in one turn, so those bound for one
 * provider share a write and a batch signature. The input is read only as fast as tasks go out,
 * and results leave memory at each commit, so memory stays bounded whatever the input's size.
 */

import { closeSync, openSync } from 'node:fs'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { JsonObject } from '@p2p-ai/protocol'
import { TypedEventEmitter } from 'main-event'
import type { Logger } from 'pino'
import { releaseHeld } from '../content/hold.js'
import { getJson } from '../content/json.js'
import type { ContentService } from '../content/types.js'
import type {
  NetworkTaskHandle,
  NetworkTaskRecord,
  SubmitOptions,
  TaskSubmission,
} from '../exchange/types.js'
import {
  JOB_COMMIT_BATCH,
  JOB_COMMIT_INTERVAL_MS,
  JOB_IDLE_POLL_MS,
  JOB_MAX_QUEUE_PER_PEER,
  JOB_QUEUED_WORK_MS,
  JOB_RATE_WINDOW_MS,
  JOB_REORDER_WINDOW,
  JOB_RUN_MS_WEIGHT,
} from './constants.js'
import { JobItemFailedError, JobOutputError, JobStoreError } from './errors.js'
import { JobOutput, readLine } from './output.js'
import type { ItemSource, SourceItem } from './source.js'
import type { ItemCommit, JobRow, JobStore, ResultRef } from './store.js'
import {
  isFinalJobStatus,
  type JobEvents,
  type JobHandle,
  type JobRecord,
  type JobResult,
  type JobResultsOptions,
  type JobSource,
  type JobStatus,
} from './types.js'

/** What a job is, as stored: everything a resume needs to run it again. */
export interface JobSpec {
  readonly type: string
  readonly source: JobSource
  readonly params?: JsonObject
  readonly output?: string
  readonly overwrite: boolean
  readonly order: 'input' | 'completed'
  readonly failFast: boolean
  readonly priority?: number
  readonly timeoutMs?: number
  readonly maxAttempts?: number
  readonly allowLocal: boolean
}

/** The settings every job of a node shares (`jobs.*`). */
export interface JobSettings {
  /** Tasks of all jobs out at once, at most. */
  readonly maxInFlight: number
  /** Tasks queued at each provider beyond its concurrency (the least: short tasks queue deeper). */
  readonly queuePerPeer: number
  /** Tasks per item, in all, when its task finds no way to run. */
  readonly itemAttempts: number
}

/** What a job runs on. */
export interface JobContext {
  readonly exchange: {
    submit(task: TaskSubmission, options?: SubmitOptions): NetworkTaskHandle
    capacity(
      task: { readonly type: string; readonly model?: string; readonly allowLocal?: boolean },
      depth: number,
    ): { readonly free: number; readonly reachable: boolean }
  }
  readonly store: JobStore
  readonly log: Logger
  readonly settings: JobSettings
  /**
   * With a content plug-in, a result whose output line is larger than its `inlineMaxBytes` is kept
   * as content by CID: the job store holds the reference, not the bytes.
   */
  readonly content?: ContentService
  /** Tasks out now over every job of the node (`settings.maxInFlight` bounds it). */
  readonly slots: { used: number }
  /** Calls `wake` whenever what peers offer may have changed; returns how to stop. */
  readonly onPeersChanged: (wake: () => void) => () => void
}

/**
 * What a job does when an item's task ended without a result, by the task's final code: `again`
 * asks once more later (as a new task: the network had no way to run it, which says nothing of
 * the item); anything else is the item's own failure (bad input, a task that failed, a timeout).
 */
const ITEM_FAILURES: Readonly<Record<string, 'again'>> = Object.freeze({
  ERR_NO_CAPABLE_PEER: 'again',
  ERR_RETRIES_EXHAUSTED: 'again',
  ERR_SHUTTING_DOWN: 'again',
  ERR_BUSY: 'again',
  ERR_RATE_LIMITED: 'again',
  ERR_NO_ROUTE: 'again',
  ERR_EXCHANGE_STOPPED: 'again',
})

/** A result that arrived and is not written yet. */
interface Arrived {
  readonly idx: number
  readonly failed: boolean
  /** The output line (the result as JSON). */
  readonly line: string
  /** Already in the store (committed earlier, waiting for its turn in input order). */
  readonly stored: boolean
  /** The line kept as content by CID: the store holds this, not the line. */
  readonly ref?: ResultRef
}

interface Queued {
  readonly item: SourceItem
  /** This item's task number in this run (1 for its first). */
  readonly attempt: number
}

type Stop =
  | { readonly kind: 'cancel'; readonly reason: string }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'fail'; readonly code: string; readonly message: string }

export class Job extends TypedEventEmitter<JobEvents> implements JobHandle {
  readonly id: string
  readonly spec: JobSpec
  readonly #ctx: JobContext
  #row: JobRow
  #status: JobStatus
  #running = false
  #stop: Stop | undefined
  #source: ItemSource | undefined
  #output: JobOutput | undefined
  readonly #inFlight = new Map<number, NetworkTaskHandle>()
  #retry: Queued[] = []
  #pending: Arrived[] = []
  /** Input order: results waiting for an earlier item's, by index. */
  readonly #waiting = new Map<number, Arrived>()
  /** The highest index read from the input in this run. */
  #lastIndex = -1
  #waitingSince: number | undefined
  readonly #rate = new RateMeter()
  /** Running average of the providers' run time of this job's tasks (ms), once one completed. */
  #runMs: number | undefined
  #wake: (() => void) | undefined
  #commitWaiters: Array<() => void> = []
  #done: Promise<JobRecord>
  #resolveDone!: (record: JobRecord) => void

  constructor(row: JobRow, spec: JobSpec, ctx: JobContext) {
    super()
    this.id = row.id
    this.spec = spec
    this.#ctx = ctx
    this.#row = row
    this.#status = row.status
    this.#done = this.#newDone()
  }

  get status(): JobStatus {
    return this.#status
  }

  get running(): boolean {
    return this.#running
  }

  record(): JobRecord {
    const r = this.#row
    let done = r.done
    let failed = r.failed
    for (const a of this.#pending) {
      if (a.failed) failed++
      else done++
    }
    const total = this.#source?.total ?? r.total ?? undefined
    return {
      id: this.id,
      type: this.spec.type,
      status: this.#status,
      source: this.spec.source,
      ...(this.spec.output === undefined ? {} : { output: this.spec.output }),
      order: this.spec.order,
      failFast: this.spec.failFast,
      createdAt: r.created_at,
      ...(r.started_at === null ? {} : { startedAt: r.started_at }),
      ...(r.finished_at === null ? {} : { finishedAt: r.finished_at }),
      items: {
        done,
        failed,
        inFlight: this.#inFlight.size,
        ...(total === undefined ? {} : { total }),
      },
      ...(this.#running ? { progress: this.#progress(done + failed, total) } : {}),
      ...(this.#running && this.#waitingSince !== undefined ? { waitingSince: this.#waitingSince } : {}),
      ...(r.error_code === null ? {} : { error: { code: r.error_code, message: r.error_message ?? '' } }),
    }
  }

  done(): Promise<JobRecord> {
    return this.#done
  }

  cancel(reason = 'cancelled'): boolean {
    if (!this.#running) {
      if (this.#status !== 'INTERRUPTED') return false
      // Not running, not finished: it only needs to be final.
      this.#finish('CANCELLED', { code: 'ERR_CANCELLED', message: reason })
      return true
    }
    this.#halt({ kind: 'cancel', reason })
    return true
  }

  /** The node is stopping: the job stops sending, commits what arrived and is `INTERRUPTED`. */
  interrupt(): Promise<JobRecord> {
    if (this.#running) this.#halt({ kind: 'interrupt' })
    return this.#done
  }

  async *results(options: JobResultsOptions = {}): AsyncIterableIterator<JobResult> {
    const { signal } = options
    const store = this.#ctx.store
    let seq = 0
    let fd: number | undefined
    try {
      for (;;) {
        signal?.throwIfAborted()
        const rows = store.emittedFrom(this.id, seq, 256)
        for (const row of rows) {
          seq = row.emit_seq + 1
          if (row.result_cid !== null) {
            yield (await this.#readKept({ cid: row.result_cid, size: row.result_size ?? 0 })) as JobResult
            continue
          }
          let line = row.result
          if (line === null) {
            fd ??= openSync(this.spec.output as string, 'r')
            line = readLine(fd, row.out_offset as number, row.out_length as number)
          }
          yield JSON.parse(line) as JobResult
        }
        if (rows.length === 256) continue
        if (!this.#running && seq >= this.#row.emitted) return
        await new Promise<void>((resolve, reject) => {
          const onAbort = (): void => reject(signal?.reason)
          signal?.addEventListener('abort', onAbort, { once: true })
          this.#commitWaiters.push(() => {
            signal?.removeEventListener('abort', onAbort)
            resolve()
          })
        })
      }
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }

  /**
   * Runs the job over `source` until every item has a result, or it is cancelled, interrupted or
   * fails. Never rejects: how it ended is in its record.
   */
  async run(source: ItemSource): Promise<void> {
    if (this.#running) return
    this.#running = true
    this.#stop = undefined
    this.#source = source
    if (isFinalJobStatus(this.#status) || this.#status === 'INTERRUPTED') this.#done = this.#newDone()
    const runs = this.#row.runs + 1
    // An earlier run opened the output file, so it is the job's own, unless opening it is what
    // failed (it was someone else's): only then may a run with nothing committed open it again.
    const ownsOutput = runs > 1 && this.#row.error_code !== JobOutputError.code
    const startedAt = Date.now()
    this.#setRow({
      status: 'RUNNING',
      runs,
      started_at: startedAt,
      finished_at: null,
      error_code: null,
      error_message: null,
    })
    this.#setStatus('RUNNING')
    const ctx = this.#ctx
    const commits = setInterval(() => this.#commitSafely(), JOB_COMMIT_INTERVAL_MS)
    const unsubscribe = ctx.onPeersChanged(() => this.#wake?.())
    try {
      if (this.spec.output !== undefined) {
        this.#output = new JobOutput(
          this.spec.output,
          this.#row.output_bytes,
          this.spec.overwrite,
          ownsOutput,
        )
      }
      if (this.spec.order === 'input') {
        const lost: Array<{ idx: number; failed: boolean }> = []
        for (const row of ctx.store.unwritten(this.id)) {
          let line = row.result ?? ''
          let ref: ResultRef | undefined
          if (row.result_cid !== null) {
            ref = { cid: row.result_cid, size: row.result_size ?? 0 }
            try {
              line = JSON.stringify(await this.#readKept(ref))
            } catch (err) {
              // Its content is gone (expired, or the plug-in is off now): the item runs again.
              ctx.log.warn({ job: this.id, item: row.idx, cid: ref.cid, err }, 'a kept result is gone')
              lost.push({ idx: row.idx, failed: row.failed === 1 })
              continue
            }
          }
          this.#waiting.set(row.idx, {
            idx: row.idx,
            failed: row.failed === 1,
            line,
            stored: true,
            ...(ref === undefined ? {} : { ref }),
          })
        }
        if (lost.length > 0) {
          ctx.store.forget(this.id, lost)
          const failed = lost.filter((l) => l.failed).length
          this.#row = {
            ...this.#row,
            done: this.#row.done - (lost.length - failed),
            failed: this.#row.failed - failed,
          }
        }
      }
      await this.#loop(source, runs)
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown }
      this.#stop ??= {
        kind: 'fail',
        code: typeof e.code === 'string' ? e.code : 'ERR_INTERNAL',
        message: typeof e.message === 'string' ? e.message : String(err),
      }
      ctx.log.warn({ job: this.id, err }, 'job failed')
    } finally {
      clearInterval(commits)
      unsubscribe()
      for (const handle of this.#inFlight.values()) handle.cancel('the job stopped')
      this.#commitSafely()
      this.#output?.close()
      this.#output = undefined
      this.#end()
    }
  }

  async #loop(source: ItemSource, runs: number): Promise<void> {
    const items = source.items(this.#ctx.store.doneItems(this.id))
    let exhausted = false
    try {
      while (this.#stop === undefined) {
        const room = this.#room()
        // A burst: everything there is room for goes out in this turn, so the tasks bound for one
        // provider leave in one write under one batch signature, and its results come back the
        // same way, instead of one write (and one signature) each.
        let sent = 0
        while (sent < room && this.#stop === undefined) {
          let next = this.#retry.shift()
          if (next === undefined) {
            if (exhausted) break
            // In input order a slow item holds the output back: stay within a window of it.
            if (
              this.spec.order === 'input' &&
              this.#lastIndex + 1 >= this.#row.emitted + JOB_REORDER_WINDOW
            ) {
              break
            }
            const read = await items.next()
            if (read.done === true) {
              exhausted = true
              break
            }
            this.#lastIndex = read.value.index
            next = { item: read.value, attempt: 1 }
          }
          if (next.item.error !== undefined) {
            this.#arrived(next.item, undefined, next.item.error)
            continue
          }
          this.#send(next, runs)
          sent++
        }
        if (sent === 0) {
          if (exhausted && this.#inFlight.size === 0 && this.#retry.length === 0) return
          await this.#sleep(JOB_IDLE_POLL_MS)
          continue
        }
        // Lets the engine admit a task run here, and the results that arrive this turn free their
        // slots, before the router is asked for room again.
        await nextTurn()
      }
    } finally {
      await items.return(undefined)
    }
  }

  /**
   * How many more tasks may go out now: the router's free slots for the job's task type, within
   * `jobs.maxInFlight` (and one while nothing is out, when a route exists but its capacity is
   * unknown). While none can, notes since when no peer could take one.
   */
  #room(): number {
    const { slots, settings, exchange } = this.#ctx
    const left = settings.maxInFlight - slots.used
    if (left <= 0) return 0
    const model = this.spec.params?.model
    const { free, reachable } = exchange.capacity(
      {
        type: this.spec.type,
        ...(typeof model === 'string' ? { model } : {}),
        allowLocal: this.spec.allowLocal,
      },
      this.#queuePerPeer(),
    )
    if (free > 0 || (reachable && this.#inFlight.size === 0)) {
      this.#waitingSince = undefined
      return Math.min(left, Math.max(1, free))
    }
    if (!reachable && this.#inFlight.size === 0) this.#waitingSince ??= Date.now()
    return 0
  }

  /** Tasks to queue at each provider beyond its free slots: deeper for short tasks (`JOB_QUEUED_WORK_MS`). */
  #queuePerPeer(): number {
    const configured = this.#ctx.settings.queuePerPeer
    if (this.#runMs === undefined) return configured
    const byTime = Math.floor(JOB_QUEUED_WORK_MS / Math.max(1, this.#runMs))
    return Math.max(configured, Math.min(JOB_MAX_QUEUE_PER_PEER, byTime))
  }

  #send(queued: Queued, runs: number): void {
    const { item, attempt } = queued
    const { spec } = this
    // A new id per run and per retry: a provider answers a repeated id from the run it had, and
    // that run was cancelled when this node stopped or its task was given up.
    const id = `${this.id}-${runs}-${item.index}${attempt > 1 ? `_${attempt}` : ''}`
    let handle: NetworkTaskHandle
    try {
      handle = this.#ctx.exchange.submit(
        {
          type: spec.type,
          input: item.input as JsonObject,
          id,
          ...(spec.priority === undefined ? {} : { priority: spec.priority }),
          ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
        },
        {
          listed: false,
          allowLocal: spec.allowLocal,
          ...(spec.maxAttempts === undefined ? {} : { maxAttempts: spec.maxAttempts }),
        },
      )
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown }
      this.#arrived(item, undefined, {
        code: typeof e.code === 'string' ? e.code : 'ERR_INVALID_INPUT',
        message: typeof e.message === 'string' ? e.message : String(err),
      })
      return
    }
    this.#inFlight.set(item.index, handle)
    this.#ctx.slots.used++
    void handle.result().then((record) => this.#settled(queued, record))
  }

  #settled(queued: Queued, record: NetworkTaskRecord): void {
    const { item } = queued
    if (record.status === 'COMPLETED') {
      const runMs = record.timings?.runMs
      if (runMs !== undefined) {
        this.#runMs =
          this.#runMs === undefined ? runMs : this.#runMs + (runMs - this.#runMs) * JOB_RUN_MS_WEIGHT
      }
      const line = resultLine(item, record.output, undefined)
      const content = this.#ctx.content
      if (
        content !== undefined &&
        Buffer.byteLength(line) > content.inlineMaxBytes &&
        !this.#writtenNext(item.index)
      ) {
        this.#keep(item, line, content)
        return
      }
      this.#release(item)
      this.#arrived(item, record.output, undefined, { line })
      return
    }
    this.#release(item)
    // Stopping: what did not finish is not a result; the item runs again when the job resumes.
    if (this.#stop !== undefined) return
    const error = record.error ?? { code: 'ERR_INTERNAL', message: `task ${record.status.toLowerCase()}` }
    if (ITEM_FAILURES[error.code] === 'again' && queued.attempt < this.#ctx.settings.itemAttempts) {
      this.#retry.push({ item, attempt: queued.attempt + 1 })
      return
    }
    this.#arrived(item, undefined, { code: error.code, message: error.message })
  }

  /** The item's task is over: its slot is free. */
  #release(item: SourceItem): void {
    this.#inFlight.delete(item.index)
    this.#ctx.slots.used--
    this.#wake?.()
  }

  /**
   * Whether the result of item `idx` goes to the output file at the next commit (within
   * JOB_COMMIT_INTERVAL_MS): as it completes, or in input order when every earlier item has its
   * result. Such a result is never kept by CID: the file is its one copy on disk.
   */
  #writtenNext(idx: number): boolean {
    if (this.spec.output === undefined) return false
    if (this.spec.order === 'completed') return true
    const pending = new Set(this.#pending.map((a) => a.idx))
    for (let i = this.#row.emitted; i < idx; i++) if (!this.#waiting.has(i) && !pending.has(i)) return false
    return true
  }

  /**
   * A large result is kept as content by CID before it is committed, so the store holds its
   * reference, not its bytes. The content is held until the line is written to the output file,
   * then released (deleted), so that the result is on disk once: as content while it waits, in
   * the file after. Without an output file it stays until it expires, for `results()`. Until then the item counts as in flight (the job does not end
   * without it); a run that ended meanwhile drops it (the item runs again on resume), and a put
   * that fails keeps the line in the store as any other.
   */
  #keep(item: SourceItem, line: string, content: ContentService): void {
    content.put(Buffer.from(line, 'utf8'), { hold: this.spec.output !== undefined }).then(
      (ref) => {
        this.#release(item)
        if (this.#running) this.#arrived(item, undefined, undefined, { line, ref })
        else this.#letGo([ref])
      },
      (err: unknown) => {
        this.#ctx.log.warn({ job: this.id, item: item.index, err }, 'could not keep a large result by CID')
        this.#release(item)
        if (this.#running) this.#arrived(item, undefined, undefined, { line })
      },
    )
  }

  /** A result kept as content by CID, parsed. */
  async #readKept(ref: ResultRef): Promise<unknown> {
    const content = this.#ctx.content
    if (content === undefined) {
      throw new JobStoreError(`result ${ref.cid} is kept by CID, and this node has no content plug-in now`)
    }
    // Read back, not kept again: the hold it has (or its expiry) says how long it stays.
    return getJson(content, ref, { maxBytes: content.maxBytes, ttlMs: 0 })
  }

  /** Results kept by CID that are in the output file now: their content goes. */
  #letGo(refs: readonly ResultRef[]): void {
    const content = this.#ctx.content
    if (content === undefined || this.spec.output === undefined) return
    for (const ref of refs) {
      releaseHeld(content, ref, (err) =>
        this.#ctx.log.debug({ job: this.id, cid: ref.cid, err }, 'could not release a written result'),
      )
    }
  }

  #arrived(
    item: SourceItem,
    output: unknown,
    error: { code: string; message: string } | undefined,
    made?: { readonly line: string; readonly ref?: ResultRef },
  ): void {
    this.#pending.push({
      idx: item.index,
      failed: error !== undefined,
      line: made?.line ?? resultLine(item, output, error),
      stored: false,
      ...(made?.ref === undefined ? {} : { ref: made.ref }),
    })
    this.#rate.add(Date.now())
    if (error !== undefined && this.spec.failFast && this.#stop === undefined) {
      const where = item.line === undefined ? `item ${item.index}` : `item ${item.index} (line ${item.line})`
      const e = new JobItemFailedError(`${where} failed: ${error.code}: ${error.message}`)
      this.#halt({ kind: 'fail', code: e.code, message: e.message })
    }
    if (this.#pending.length >= JOB_COMMIT_BATCH) this.#commitSafely()
  }

  /** Commits; a failure (the output file cannot be written, the store broke) fails the job. */
  #commitSafely(): void {
    try {
      this.#commit()
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown }
      this.#ctx.log.warn({ job: this.id, err }, 'job commit failed')
      this.#halt({
        kind: 'fail',
        code: typeof e.code === 'string' ? e.code : 'ERR_INTERNAL',
        message: typeof e.message === 'string' ? e.message : String(err),
      })
    }
  }

  /**
   * Writes what arrived: the results whose turn it is to the output file, then, in one
   * transaction, every result (written or waiting) and the job's counters and output length.
   */
  #commit(): void {
    if (this.#pending.length === 0) return
    const batch = this.#pending
    this.#pending = []
    let emit: Arrived[]
    if (this.spec.order === 'completed') emit = batch
    else {
      for (const a of batch) this.#waiting.set(a.idx, a)
      emit = []
      for (let next = this.#row.emitted; this.#waiting.has(next); next++) {
        emit.push(this.#waiting.get(next) as Arrived)
        this.#waiting.delete(next)
      }
    }
    const output = this.#output
    const places = output === undefined ? undefined : output.append(emit.map((a) => a.line))
    const firstSeq = this.#row.emitted
    const emitted = new Map<number, ItemCommit>()
    emit.forEach((a, i) => {
      const place = places?.[i]
      emitted.set(a.idx, {
        idx: a.idx,
        failed: a.failed,
        // Written to the file: the row keeps where. Without one, the store keeps the line (or its CID).
        result: place === undefined && a.ref === undefined ? a.line : null,
        ref: place === undefined ? (a.ref ?? null) : null,
        emitSeq: firstSeq + i,
        offset: place?.offset ?? null,
        length: place?.length ?? null,
      })
    })
    const items = batch.map(
      (a): ItemCommit =>
        emitted.get(a.idx) ?? {
          idx: a.idx,
          failed: a.failed,
          result: a.ref === undefined ? a.line : null,
          ref: a.ref ?? null,
          emitSeq: null,
          offset: null,
          length: null,
        },
    )
    const earlier = emit.filter((a) => a.stored).map((a) => emitted.get(a.idx) as ItemCommit)
    const job = { emitted: firstSeq + emit.length, outputBytes: output?.bytes ?? this.#row.output_bytes }
    this.#ctx.store.commit(this.id, items, earlier, job)
    if (places !== undefined) this.#letGo(emit.flatMap((a) => (a.ref === undefined ? [] : [a.ref])))
    let done = 0
    for (const a of batch) if (!a.failed) done++
    this.#row = {
      ...this.#row,
      done: this.#row.done + done,
      failed: this.#row.failed + batch.length - done,
      emitted: job.emitted,
      output_bytes: job.outputBytes,
    }
    for (const a of this.#waiting.values()) if (!a.stored) this.#waiting.set(a.idx, { ...a, stored: true })
    for (const wake of this.#commitWaiters.splice(0)) wake()
    if (this.listenerCount('progress') > 0) this.safeDispatchEvent('progress', { detail: this.record() })
  }

  #halt(stop: Stop): void {
    if (this.#stop !== undefined) return
    this.#stop = stop
    const reason =
      stop.kind === 'cancel'
        ? stop.reason
        : stop.kind === 'interrupt'
          ? 'the node is stopping'
          : 'the job failed'
    for (const handle of this.#inFlight.values()) handle.cancel(reason)
    this.#wake?.()
  }

  /** The run is over: its final (or interrupted) state goes to the store and to listeners. */
  #end(): void {
    const stop = this.#stop
    this.#running = false
    const total = this.#source?.total
    if (total !== undefined) this.#setRow({ total })
    if (stop === undefined) this.#finish('COMPLETED')
    else if (stop.kind === 'cancel')
      this.#finish('CANCELLED', { code: 'ERR_CANCELLED', message: stop.reason })
    else if (stop.kind === 'fail') this.#finish('FAILED', { code: stop.code, message: stop.message })
    else {
      this.#setRow({ status: 'INTERRUPTED' })
      this.#setStatus('INTERRUPTED')
      this.#settleDone()
    }
  }

  #finish(status: 'COMPLETED' | 'FAILED' | 'CANCELLED', error?: { code: string; message: string }): void {
    this.#setRow({
      status,
      finished_at: Date.now(),
      ...(error === undefined ? {} : { error_code: error.code, error_message: error.message }),
    })
    this.#setStatus(status)
    this.#settleDone()
  }

  #settleDone(): void {
    this.#waitingSince = undefined
    for (const wake of this.#commitWaiters.splice(0)) wake()
    this.#resolveDone(this.record())
  }

  #setRow(fields: Partial<Omit<JobRow, 'id'>>): void {
    this.#row = { ...this.#row, ...fields } as JobRow
    try {
      this.#ctx.store.updateJob(this.id, fields)
    } catch (err) {
      this.#ctx.log.warn({ job: this.id, err }, 'could not store the state of a job')
    }
  }

  #setStatus(status: JobStatus): void {
    if (this.#status === status) return
    this.#status = status
    if (this.listenerCount('status') > 0) this.safeDispatchEvent('status', { detail: this.record() })
  }

  #progress(processed: number, total: number | undefined): NonNullable<JobRecord['progress']> {
    const perSec = this.#rate.perSecond(Date.now())
    const source = this.#source
    const bytes = this.spec.source.bytes
    let estimated = total
    if (estimated === undefined && source !== undefined && bytes !== undefined && source.bytesRead > 0) {
      // Items read so far, scaled by the share of the file they came from.
      estimated = Math.max(processed, Math.round(((this.#lastIndex + 1) * bytes) / source.bytesRead))
    }
    if (estimated === undefined) return { itemsPerSec: perSec }
    const fraction = estimated === 0 ? 1 : Math.min(1, processed / estimated)
    const left = Math.max(0, estimated - processed)
    return {
      fraction,
      itemsPerSec: perSec,
      ...(perSec > 0 ? { etaMs: Math.round((left / perSec) * 1000) } : {}),
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#wake = done
    })
  }

  #newDone(): Promise<JobRecord> {
    return new Promise((resolve) => {
      this.#resolveDone = resolve
    })
  }
}

/** An item's output line: its result as JSON. */
function resultLine(
  item: SourceItem,
  output: unknown,
  error: { code: string; message: string } | undefined,
): string {
  const result: JobResult = {
    index: item.index,
    ...(item.line === undefined ? {} : { line: item.line }),
    ...(item.start === undefined ? {} : { start: item.start, end: item.end as number }),
    ...(error === undefined ? { output } : { error }),
  }
  return JSON.stringify(result)
}

/** Events per half second over the last `JOB_RATE_WINDOW_MS`, for items per second. */
class RateMeter {
  static readonly BUCKET_MS = 500
  readonly #counts = new Array<number>(JOB_RATE_WINDOW_MS / RateMeter.BUCKET_MS).fill(0)
  #bucket = -1
  #first = -1

  add(now: number): void {
    this.#advance(now)
    if (this.#first < 0) this.#first = this.#bucket
    const i = this.#bucket % this.#counts.length
    this.#counts[i] = (this.#counts[i] as number) + 1
  }

  perSecond(now: number): number {
    this.#advance(now)
    if (this.#first < 0) return 0
    // Over the window, or since the first event when that is shorter (a job that just started).
    const buckets = Math.min(this.#counts.length, this.#bucket - this.#first + 1)
    const span = Math.max(1, buckets) * RateMeter.BUCKET_MS
    let sum = 0
    for (const c of this.#counts) sum += c
    return (sum * 1000) / span
  }

  #advance(now: number): void {
    const bucket = Math.floor(now / RateMeter.BUCKET_MS)
    if (this.#bucket < 0) {
      this.#bucket = bucket
      return
    }
    for (let b = this.#bucket + 1; b <= bucket && b - this.#bucket <= this.#counts.length; b++) {
      this.#counts[b % this.#counts.length] = 0
    }
    if (bucket > this.#bucket) this.#bucket = bucket
  }
}
