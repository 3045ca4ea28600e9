/**
 * `node.jobs`: submits jobs, finds them (running, or in the job store), cancels and resumes them,
 * resumes the ones a stopped or killed node left unfinished when it starts again, and interrupts
 * the running ones when it stops.
 */
import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { resolve } from 'node:path'
import { MAX_CHUNK_SIZE } from '@p2p-ai/engine'
import { MAX_PRIORITY, MAX_TIMEOUT_MS, MIN_PRIORITY, MIN_TIMEOUT_MS } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import type { ContentService } from '../content/types.js'
import { JOB_ID_PATTERN, JOB_PURGE_INTERVAL_MS } from './constants.js'
import {
  InvalidJobError,
  JobInputChangedError,
  JobInputError,
  JobNotFoundError,
  JobNotResumableError,
  JobOutputError,
} from './errors.js'
import { Job, type JobContext, type JobSettings, type JobSpec } from './job.js'
import { type ItemSource, itemSource, jsonlSource, splitSource } from './source.js'
import type { JobRow, JobStore } from './store.js'
import type {
  JobHandle,
  JobItem,
  JobList,
  JobListOptions,
  JobRecord,
  JobResumeOptions,
  JobSplit,
  JobSubmission,
} from './types.js'

export interface JobManagerInit {
  readonly exchange: JobContext['exchange']
  readonly store: JobStore
  readonly log: Logger
  readonly settings: JobSettings
  readonly onPeersChanged: JobContext['onPeersChanged']
  /** Resume, at `start()`, the jobs from files that a stopped or killed node left unfinished. */
  readonly resumeOnStart: boolean
  /** Large results are kept through it by CID, not in the store. */
  readonly content?: ContentService
}

const TASK_TYPE = /^[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*$/
const BOUNDARIES = new Set(['paragraph', 'sentence', 'word', 'none'])

export class JobManager implements JobList {
  readonly #init: JobManagerInit
  readonly #ctx: JobContext
  /** Jobs that run (or ran) in this process: one handle per job while it runs. */
  readonly #live = new Map<string, Job>()
  #purge: NodeJS.Timeout | undefined
  #stopped = false

  constructor(init: JobManagerInit) {
    this.#init = init
    this.#ctx = {
      exchange: init.exchange,
      store: init.store,
      log: init.log,
      settings: init.settings,
      slots: { used: 0 },
      onPeersChanged: init.onPeersChanged,
      ...(init.content === undefined ? {} : { content: init.content }),
    }
  }

  /**
   * Starts a job and returns its handle at once; its items go out as peers have room.
   *
   * @throws {InvalidJobError} for a malformed submission
   * @throws {JobInputError} when the input file cannot be read
   * @throws {JobOutputError} when the output file exists (without `overwrite`)
   */
  submit<Output = unknown>(submission: JobSubmission): JobHandle<Output> {
    if (this.#stopped) throw new InvalidJobError('the node is stopping: it takes no new jobs')
    const { spec, items } = settle(submission)
    const id = submission.id ?? randomBytes(8).toString('hex')
    if (typeof id !== 'string' || !JOB_ID_PATTERN.test(id)) {
      throw new InvalidJobError(
        `id: expected 8 to 32 characters from A-Z a-z 0-9 _ -, got ${JSON.stringify(id)}`,
      )
    }
    if (this.#init.store.getJob(id) !== undefined) {
      throw new InvalidJobError(`a job "${id}" exists already: resume it, or choose another id`)
    }
    if (spec.output !== undefined && !spec.overwrite && exists(spec.output)) {
      throw new JobOutputError(`the output file ${spec.output} exists already`)
    }
    const file = spec.source.path === undefined ? undefined : inputFile(spec.source.path)
    const now = Date.now()
    const row: JobRow = {
      id,
      type: spec.type,
      status: 'RUNNING',
      spec: JSON.stringify({
        ...spec,
        source: { ...spec.source, ...(file === undefined ? {} : { bytes: file.size }) },
      }),
      created_at: now,
      started_at: null,
      finished_at: null,
      expires_at: null,
      runs: 0,
      total: null,
      done: 0,
      failed: 0,
      emitted: 0,
      output_bytes: 0,
      input_size: file?.size ?? null,
      input_mtime: file?.mtimeMs ?? null,
      error_code: null,
      error_message: null,
    }
    this.#init.store.insertJob(row)
    const job = new Job(row, parseSpec(row), this.#ctx)
    this.#run(job, sourceOf(job.spec, items))
    return job as JobHandle<Output>
  }

  /**
   * Resumes a job that did not complete (interrupted, failed, cancelled): the items that have a
   * result are skipped, the rest run, the output goes on where it stopped. A running job's own
   * handle is returned as it is.
   *
   * @throws {JobNotFoundError}
   * @throws {JobNotResumableError} a completed job, or one from code without `input`
   * @throws {JobInputChangedError} the input file is not the one the job started with
   */
  resume<Output = unknown>(id: string, options: JobResumeOptions = {}): JobHandle<Output> {
    if (this.#stopped) throw new InvalidJobError('the node is stopping: it resumes no jobs')
    const live = this.#live.get(id)
    if (live?.running === true) return live as JobHandle<Output>
    const row = this.#row(id)
    if (row.status === 'COMPLETED') {
      throw new JobNotResumableError(`job ${id} completed: every item has its result`)
    }
    const spec = parseSpec(row)
    if (spec.source.kind === 'items' && options.input === undefined) {
      throw new JobNotResumableError(`job ${id} took its items from code: resume it with them again (input)`)
    }
    if (spec.source.path !== undefined) {
      const file = inputFile(spec.source.path)
      if (file.size !== row.input_size || file.mtimeMs !== row.input_mtime) {
        throw new JobInputChangedError(
          `the input ${spec.source.path} changed since job ${id} started (size or modification time): its results would not match its items`,
        )
      }
    }
    const job = live ?? new Job(row, spec, this.#ctx)
    this.#run(job, sourceOf(spec, options.input))
    return job as JobHandle<Output>
  }

  /** The job's record: a running job's live one, else the stored one; undefined if unknown or expired. */
  get(id: string): JobRecord | undefined {
    return this.handle(id)?.record()
  }

  /** A handle of any job the store knows: `results()` reads a finished job's results too. */
  handle(id: string): JobHandle | undefined {
    const live = this.#live.get(id)
    if (live !== undefined) return live
    const row = this.#init.store.getJob(id)
    return row === undefined ? undefined : new Job(row, parseSpec(row), this.#ctx)
  }

  /** Newest first. */
  list(options: JobListOptions = {}): JobRecord[] {
    const limit = options.limit ?? 100
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
      throw new InvalidJobError(`limit: expected an integer from 1 to 10000, got ${String(limit)}`)
    }
    return this.#init.store
      .listJobs(options.status, limit)
      .map((row) => (this.#live.get(row.id) ?? new Job(row, parseSpec(row), this.#ctx)).record())
  }

  /**
   * Cancels a running (or interrupted) job; returns whether it did.
   *
   * @throws {JobNotFoundError}
   */
  cancel(id: string, reason = 'cancelled by the requester'): boolean {
    const live = this.#live.get(id)
    if (live !== undefined) return live.cancel(reason)
    const row = this.#row(id)
    return new Job(row, parseSpec(row), this.#ctx).cancel(reason)
  }

  /**
   * Called once the node is active: resumes what a stopped or killed node left unfinished (jobs
   * from files; with `jobs.resumeOnStart`), marks the rest `INTERRUPTED`, and purges expired jobs.
   */
  start(): void {
    const log = this.#init.log
    try {
      this.#init.store.purge()
      for (const row of this.#init.store.unfinished()) {
        const spec = parseSpec(row)
        if (!this.#init.resumeOnStart || spec.source.kind === 'items') {
          if (row.status === 'RUNNING') this.#init.store.updateJob(row.id, { status: 'INTERRUPTED' })
          continue
        }
        try {
          this.resume(row.id)
          log.info({ job: row.id, type: row.type, done: row.done + row.failed }, 'resuming a job')
        } catch (err) {
          const e = err as { code?: string; message?: string }
          log.warn({ job: row.id, err }, 'cannot resume a job')
          this.#init.store.updateJob(row.id, {
            status: 'FAILED',
            finished_at: Date.now(),
            error_code: e.code ?? 'ERR_INTERNAL',
            error_message: e.message ?? String(err),
          })
        }
      }
    } catch (err) {
      log.error({ err }, 'could not read the job store')
    }
    this.#purge = setInterval(() => {
      try {
        this.#init.store.purge()
      } catch (err) {
        log.warn({ err }, 'could not purge expired jobs')
      }
    }, JOB_PURGE_INTERVAL_MS)
    this.#purge.unref()
  }

  /** The node is stopping: running jobs stop sending, commit what arrived and become `INTERRUPTED`. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#purge)
    await Promise.all([...this.#live.values()].map((job) => job.interrupt()))
  }

  #run(job: Job, source: ItemSource): void {
    this.#live.set(job.id, job)
    void job.run(source).finally(() => {
      // Kept while running only: afterwards the store answers for it.
      if (this.#live.get(job.id) === job && !job.running) this.#live.delete(job.id)
    })
  }

  #row(id: string): JobRow {
    const row = this.#init.store.getJob(id)
    if (row === undefined) throw new JobNotFoundError(`no job with id "${id}" (unknown, or expired)`)
    return row
  }
}

/** The stored spec of a job. */
function parseSpec(row: JobRow): JobSpec {
  return JSON.parse(row.spec) as JobSpec
}

function sourceOf(spec: JobSpec, items: Iterable<JobItem> | AsyncIterable<JobItem> | undefined): ItemSource {
  const { source, params } = spec
  if (source.kind === 'items') return itemSource(items as Iterable<JobItem>, params)
  if (source.kind === 'split') return splitSource(source.path as string, source.split as JobSplit, params)
  return jsonlSource(source.path as string, params)
}

/** Checks a submission once, up front, and settles its defaults. */
function settle(s: JobSubmission): {
  spec: JobSpec
  items: Iterable<JobItem> | AsyncIterable<JobItem> | undefined
} {
  if (s === null || typeof s !== 'object') throw new InvalidJobError('a job must be an object')
  const { type, input, split, params, output, order, failFast, priority, timeoutMs, maxAttempts } = s
  if (typeof type !== 'string' || type.length > 64 || !TASK_TYPE.test(type)) {
    throw new InvalidJobError(
      `type: expected a task type like "embed" or "mock", got ${JSON.stringify(type)}`,
    )
  }
  const fromFile = typeof input === 'string'
  const iterable =
    !fromFile &&
    input !== null &&
    typeof input === 'object' &&
    (Symbol.iterator in input || Symbol.asyncIterator in input)
  if (!fromFile && !iterable) {
    throw new InvalidJobError('input: expected a file path, or the items (an iterable or async iterable)')
  }
  if (split !== undefined) {
    if (!fromFile) throw new InvalidJobError('split: only a file input is split')
    checkSplit(split)
  }
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) {
    throw new InvalidJobError('params: expected a JSON object of input fields')
  }
  if (output !== undefined && (typeof output !== 'string' || output === '')) {
    throw new InvalidJobError('output: expected a file path')
  }
  if (order !== undefined && order !== 'input' && order !== 'completed') {
    throw new InvalidJobError(`order: expected 'input' or 'completed', got ${JSON.stringify(order)}`)
  }
  const int = (name: string, v: unknown, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new InvalidJobError(
        `${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
      )
    }
    return v
  }
  const p = int('priority', priority, MIN_PRIORITY, MAX_PRIORITY)
  const t = int('timeoutMs', timeoutMs, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS)
  const a = int('maxAttempts', maxAttempts, 1, 32)
  const spec: JobSpec = {
    type,
    source: fromFile
      ? {
          kind: split === undefined ? 'jsonl' : 'split',
          path: resolve(input),
          ...(split === undefined ? {} : { split: { ...split } }),
        }
      : { kind: 'items' },
    ...(params === undefined ? {} : { params }),
    ...(output === undefined ? {} : { output: resolve(output) }),
    overwrite: s.overwrite === true,
    order: order ?? 'input',
    failFast: failFast === true,
    ...(p === undefined ? {} : { priority: p }),
    ...(t === undefined ? {} : { timeoutMs: t }),
    ...(a === undefined ? {} : { maxAttempts: a }),
    allowLocal: s.allowLocal !== false,
  }
  return { spec, items: fromFile ? undefined : (input as Iterable<JobItem> | AsyncIterable<JobItem>) }
}

function checkSplit(split: JobSplit): void {
  if (split === null || typeof split !== 'object' || split.kind !== 'chunk') {
    throw new InvalidJobError(`split: expected { kind: 'chunk', size?, overlap?, boundary? }`)
  }
  const size = split.size ?? 1000
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
    throw new InvalidJobError(
      `split.size: expected an integer from 1 to ${MAX_CHUNK_SIZE}, got ${String(split.size)}`,
    )
  }
  if (
    split.overlap !== undefined &&
    (!Number.isSafeInteger(split.overlap) || split.overlap < 0 || split.overlap >= size)
  ) {
    throw new InvalidJobError(
      `split.overlap: expected an integer from 0 to ${size - 1}, got ${String(split.overlap)}`,
    )
  }
  if (split.boundary !== undefined && !BOUNDARIES.has(split.boundary)) {
    throw new InvalidJobError(
      `split.boundary: expected paragraph, sentence, word or none, got ${String(split.boundary)}`,
    )
  }
}

/** The input file's size and modification time; a missing or unreadable one is the job's `JobInputError`. */
function inputFile(path: string): { size: number; mtimeMs: number } {
  let stat: ReturnType<typeof statSync>
  try {
    stat = statSync(path)
  } catch (err) {
    throw new JobInputError(`cannot read the job's input ${path}: ${(err as Error).message}`, { cause: err })
  }
  if (!stat.isFile()) throw new JobInputError(`the job's input ${path} is not a file`)
  return { size: stat.size, mtimeMs: Math.floor(stat.mtimeMs) }
}

function exists(path: string): boolean {
  try {
    statSync(path)
    return true
  } catch {
    return false
  }
}
