/**
 * Public types of `node.jobs`: many tasks of one type over the items of one input, with their
 * results written as they arrive and their state kept in SQLite (docs/jobs.md).
 */
import type { ChunkBoundary } from '@p2p-ai/engine'
import type { JsonObject } from '@p2p-ai/protocol'
import type { TypedEventTarget } from 'main-event'

/**
 * `RUNNING`: tasks are out (or the job waits for a capable peer). `INTERRUPTED`: the node stopped
 * (or died) before the job finished: it resumes when the node starts again (`jobs.resumeOnStart`)
 * or with `resume`. The last three are final: `COMPLETED` means every item has a result, some of
 * which may be failures (`items.failed`).
 */
export type JobStatus = 'RUNNING' | 'INTERRUPTED' | 'COMPLETED' | 'FAILED' | 'CANCELLED'

/** Whether a job in `status` is done for good. */
export function isFinalJobStatus(status: JobStatus): boolean {
  return status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELLED'
}

/**
 * How a text file becomes items: split like the `chunk` task type splits a text (the same
 * boundaries and overlap, streamed), each piece then the `text` of one task.
 */
export interface JobSplit {
  readonly kind: 'chunk'
  /** Longest piece, in characters. @default 1000 */
  readonly size?: number
  /** Characters a piece repeats from the end of the previous one. @default min(100, size / 10) */
  readonly overlap?: number
  /** @default 'paragraph' */
  readonly boundary?: ChunkBoundary
}

/** One item of a job's input given by code: an input object, or a text (`{ text }`). */
export type JobItem = JsonObject | string

/**
 * A job's input: the path of a file, or items from code. A file is a JSONL file (one input per
 * line: an object, or a string meaning `{ "text": ... }`), or with `split`, any UTF-8 text. Only a
 * job from a file resumes by itself after a restart; one from items resumes when `resume` is
 * given the same items again.
 */
export type JobInput = string | Iterable<JobItem> | AsyncIterable<JobItem>

/** A job to run. */
export interface JobSubmission {
  /** Task type of every item, like `embed` or `mock`. */
  type: string
  input: JobInput
  /** Split a text file into pieces first (only with a file `input`). */
  split?: JobSplit
  /** Fields added to every item's input (the item's own win), like `{ model: 'minilm' }`. */
  params?: JsonObject
  /**
   * A JSONL file the results are written to as they arrive, one line per item:
   * `{ "index", "line" | "start"/"end", "output" }` or `{ ..., "error": { code, message } }`.
   * Without one, results are kept in the job store for `results()` until the job expires.
   */
  output?: string
  /** Replace an `output` file that exists already. @default false: such a job is refused */
  overwrite?: boolean
  /**
   * The order of the output and of `results()`: the items' own, or as they complete (which never
   * waits for a slow item).
   *
   * @default 'input'
   */
  order?: 'input' | 'completed'
  /** Stop the job (`FAILED`, `ERR_JOB_ITEM_FAILED`) at the first item that fails. @default false */
  failFast?: boolean
  /** Job id, 8 to 32 characters from `A–Z a–z 0–9 _ -`. @default 16 random hex digits */
  id?: string
  /** Priority of every task, 0 to 9. @default 5 */
  priority?: number
  /** Time each task may take per attempt. @default 30_000 */
  timeoutMs?: number
  /** Attempts of each task (failover included) before its item counts as failed. @default 4 */
  maxAttempts?: number
  /** Whether this node may run items itself. @default true */
  allowLocal?: boolean
}

/** Where a job's items come from. */
export interface JobSource {
  readonly kind: 'jsonl' | 'split' | 'items'
  /** The input file (absolute). */
  readonly path?: string
  readonly split?: JobSplit
  /** The input file's size. */
  readonly bytes?: number
}

/** A snapshot of one job. */
export interface JobRecord {
  readonly id: string
  readonly type: string
  readonly status: JobStatus
  readonly source: JobSource
  /** The output file (absolute), if any. */
  readonly output?: string
  readonly order: 'input' | 'completed'
  readonly failFast: boolean
  /** `Date.now()` values; `startedAt` is the latest (re)start. */
  readonly createdAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
  readonly items: {
    /** Items with a result (`done`: an output; `failed`: an error). */
    readonly done: number
    readonly failed: number
    /** Tasks out now. */
    readonly inFlight: number
    /** Items in the input, once it was read to its end. */
    readonly total?: number
  }
  /** While running: how far (0..1, estimated from the bytes read until the input's end is known), items per second and time left. */
  readonly progress?: {
    readonly fraction?: number
    readonly itemsPerSec: number
    readonly etaMs?: number
  }
  /** While running with no capable peer to send to: since when. */
  readonly waitingSince?: number
  /** When `FAILED`: why (also a failed item's when `failFast`). */
  readonly error?: { readonly code: string; readonly message: string }
}

/** One item's result, as a line of the output file holds it. */
export interface JobResult<Output = unknown> {
  /** The item's position in the input, from 0. */
  readonly index: number
  /** Its line in a JSONL input, from 1. */
  readonly line?: number
  /** Where its piece is in a split input, in characters (UTF-16 code units) of the whole text. */
  readonly start?: number
  readonly end?: number
  /** The task's output, when it completed. */
  readonly output?: Output
  /** Why the item failed: its line did not parse, or its task failed (the task's code). */
  readonly error?: { readonly code: string; readonly message: string }
}

/** Per-call options of `results()`. */
export interface JobResultsOptions {
  /** Stops reading: the iteration rejects with the signal's reason (the job goes on). */
  signal?: AbortSignal
}

/** Events of a job handle. */
export interface JobEvents {
  /** Results were committed (at most every 50 ms); `detail` is a snapshot. */
  progress: CustomEvent<JobRecord>
  /** The status changed. */
  status: CustomEvent<JobRecord>
}

/** A job submitted (or found) on this node. */
export interface JobHandle<Output = unknown> extends TypedEventTarget<JobEvents> {
  readonly id: string
  readonly status: JobStatus
  record(): JobRecord
  /**
   * Every result, from the first, in the job's order (`input` or `completed`), as they are
   * committed; ends when the job ends. Each iteration starts at the beginning.
   */
  results(options?: JobResultsOptions): AsyncIterableIterator<JobResult<Output>>
  /** Resolves with the record once the job is no longer running (final, or `INTERRUPTED`). */
  done(): Promise<JobRecord>
  /** Cancels a running job: tasks out are cancelled, results so far stay. Returns whether it did. */
  cancel(reason?: string): boolean
}

/** Per-call options of `jobs.list`. */
export interface JobListOptions {
  status?: JobStatus
  /** @default 100 */
  limit?: number
}

/** Per-call options of `jobs.resume`. */
export interface JobResumeOptions {
  /** For a job whose items came from code: the same items again (those done are skipped). */
  input?: Iterable<JobItem> | AsyncIterable<JobItem>
}

/**
 * `node.jobs`: many tasks of one type over the items of one input (docs/jobs.md).
 *
 * ```ts
 * const job = node.jobs.submit({ type: 'embed', input: 'docs.jsonl', output: 'out.jsonl' })
 * for await (const r of job.results()) if (r.error) console.error(`line ${r.line}: ${r.error.message}`)
 * ```
 */
export interface JobList {
  /** Starts a job and returns its handle at once (see `JobSubmission`). */
  submit<Output = unknown>(submission: JobSubmission): JobHandle<Output>
  /** Resumes a job that did not complete; items that have a result are skipped. */
  resume<Output = unknown>(id: string, options?: JobResumeOptions): JobHandle<Output>
  /** A job's record, running or stored; undefined if unknown or expired. */
  get(id: string): JobRecord | undefined
  /** A handle of any job this node knows, for `results()` and `done()`. */
  handle(id: string): JobHandle | undefined
  /** Jobs, newest first. */
  list(options?: JobListOptions): JobRecord[]
  /** Cancels a running or interrupted job; returns whether it did. */
  cancel(id: string, reason?: string): boolean
}
