/**
 * The job store: one SQLite file (WAL) under the data directory with every job and, per job, one
 * row per item that has a result. An item's row is written in the same transaction as the job's
 * counters and the length of its output file, so after a crash (even `kill -9`) the store says
 * exactly which items are done, and the output file is cut back to what the store knows.
 *
 * Results wait in the store (`result`) only until they are written to the output file (then the
 * row keeps where: `out_offset`, `out_length`); a job without an output file keeps them there for
 * `results()` until it expires. A result larger than the node's `content.inlineMaxBytes`, on a
 * node with content, is kept as content by CID instead (`result_cid`, `result_size`): the store
 * holds its reference, never its bytes.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { JOB_STORE_APPLICATION_ID, JOB_STORE_FILE_NAME, JOB_STORE_SCHEMA_VERSION } from './constants.js'
import { JobStoreError } from './errors.js'
import type { JobStatus } from './types.js'

const SCHEMA = `
CREATE TABLE jobs (
  id            TEXT    NOT NULL PRIMARY KEY,
  type          TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  spec          TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  started_at    INTEGER,
  finished_at   INTEGER,
  expires_at    INTEGER,
  runs          INTEGER NOT NULL DEFAULT 0,
  total         INTEGER,
  done          INTEGER NOT NULL DEFAULT 0,
  failed        INTEGER NOT NULL DEFAULT 0,
  emitted       INTEGER NOT NULL DEFAULT 0,
  output_bytes  INTEGER NOT NULL DEFAULT 0,
  input_size    INTEGER,
  input_mtime   INTEGER,
  error_code    TEXT,
  error_message TEXT
);
CREATE INDEX jobs_by_created ON jobs (created_at);
CREATE TABLE items (
  job_id     TEXT    NOT NULL,
  idx        INTEGER NOT NULL,
  failed     INTEGER NOT NULL,
  emit_seq   INTEGER,
  result     TEXT,
  out_offset INTEGER,
  out_length INTEGER,
  result_cid  TEXT,
  result_size INTEGER,
  PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE INDEX items_by_emit ON items (job_id, emit_seq) WHERE emit_seq IS NOT NULL;
CREATE INDEX items_unwritten ON items (job_id, idx) WHERE emit_seq IS NULL;
`

/** A job's row. */
export interface JobRow {
  id: string
  type: string
  status: JobStatus
  /** The submission as stored (JSON): what a resume needs to run the job again. */
  spec: string
  created_at: number
  started_at: number | null
  finished_at: number | null
  expires_at: number | null
  /** Times the job was started (its item task ids carry it, so a restart never meets an old run). */
  runs: number
  total: number | null
  done: number
  failed: number
  /** Results written to the output (or committed, without one), in emission order. */
  emitted: number
  output_bytes: number
  input_size: number | null
  input_mtime: number | null
  error_code: string | null
  error_message: string | null
}

/** A result kept as content by CID: the output line's UTF-8 bytes. */
export interface ResultRef {
  readonly cid: string
  readonly size: number
}

/** A result to commit: written to the output already (`emitSeq` set) or waiting for its turn. */
export interface ItemCommit {
  readonly idx: number
  readonly failed: boolean
  /** The output line (JSON), kept in the store while unwritten or when the job has no output file. */
  readonly result: string | null
  /** Instead of `result`: the line kept as content by CID (a large result, on a node with content). */
  readonly ref: ResultRef | null
  readonly emitSeq: number | null
  readonly offset: number | null
  readonly length: number | null
}

/** A committed result, as `results()` reads it. */
export interface EmittedRow {
  readonly emit_seq: number
  readonly result: string | null
  readonly out_offset: number | null
  readonly out_length: number | null
  readonly result_cid: string | null
  readonly result_size: number | null
}

/** A committed result not written yet (a job in input order, waiting for an earlier item). */
export interface UnwrittenRow {
  readonly idx: number
  readonly failed: number
  readonly result: string | null
  readonly result_cid: string | null
  readonly result_size: number | null
}

export interface JobStoreInit {
  /** The directory of the store file, created 0700. */
  readonly directory: string
  /** How long a finished job is kept. */
  readonly ttlMs: number
  /** @default Date.now */
  readonly now?: () => number
}

export class JobStore {
  readonly path: string
  /** Where a store that was not a database was moved at open, if that happened. */
  readonly recoveredFrom: string | undefined
  readonly #db: Database.Database
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #insertItem: Database.Statement
  readonly #emitItem: Database.Statement
  readonly #updateCounts: Database.Statement
  readonly #doneAfter: Database.Statement<[string, number, number], { idx: number }>
  readonly #emitted: Database.Statement<[string, number, number], EmittedRow>
  #closed = false

  constructor(init: JobStoreInit) {
    this.#ttlMs = init.ttlMs
    this.#now = init.now ?? Date.now
    try {
      mkdirSync(init.directory, { recursive: true, mode: 0o700 })
    } catch (err) {
      throw new JobStoreError(`cannot create the job store directory ${init.directory}: ${String(err)}`, {
        cause: err,
      })
    }
    this.path = join(init.directory, JOB_STORE_FILE_NAME)
    let recoveredFrom: string | undefined
    let db: Database.Database
    try {
      db = open(this.path)
    } catch (err) {
      if (!(err instanceof NotADatabase)) throw err
      // Jobs are work in progress, not results anyone holds: a store that is not a database is
      // moved aside (kept for a look) and the node starts with none rather than not at all.
      recoveredFrom = `${this.path}.corrupt-${this.#now()}`
      for (const suffix of ['', '-wal', '-shm']) {
        if (existsSync(this.path + suffix)) renameSync(this.path + suffix, recoveredFrom + suffix)
      }
      db = open(this.path)
    }
    this.recoveredFrom = recoveredFrom
    this.#db = db
    this.#insertItem = db.prepare(
      'INSERT OR REPLACE INTO items (job_id, idx, failed, emit_seq, result, out_offset, out_length, result_cid, result_size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    )
    this.#emitItem = db.prepare(
      'UPDATE items SET emit_seq = ?, result = ?, out_offset = ?, out_length = ?, result_cid = ?, result_size = ? WHERE job_id = ? AND idx = ?',
    )
    this.#updateCounts = db.prepare(
      'UPDATE jobs SET done = done + ?, failed = failed + ?, emitted = ?, output_bytes = ? WHERE id = ?',
    )
    this.#doneAfter = db.prepare('SELECT idx FROM items WHERE job_id = ? AND idx >= ? ORDER BY idx LIMIT ?')
    this.#emitted = db.prepare(
      'SELECT emit_seq, result, out_offset, out_length, result_cid, result_size FROM items WHERE job_id = ? AND emit_seq >= ? ORDER BY emit_seq LIMIT ?',
    )
  }

  get closed(): boolean {
    return this.#closed
  }

  insertJob(row: JobRow): void {
    this.#run(() =>
      this.#db
        .prepare(
          `INSERT INTO jobs (${JOB_COLUMNS}) VALUES (${JOB_COLUMNS.split(', ')
            .map((c) => `@${c}`)
            .join(', ')})`,
        )
        .run(row),
    )
  }

  /** Sets some fields of a job; a final status also sets when it expires. */
  updateJob(id: string, fields: Partial<Omit<JobRow, 'id'>>): void {
    const entries = Object.entries(fields)
    if (fields.finished_at !== undefined && fields.finished_at !== null) {
      entries.push(['expires_at', fields.finished_at + this.#ttlMs])
    }
    if (entries.length === 0) return
    const sql = `UPDATE jobs SET ${entries.map(([k]) => `${k} = @${k}`).join(', ')} WHERE id = @id`
    this.#run(() => this.#db.prepare(sql).run({ ...Object.fromEntries(entries), id }))
  }

  getJob(id: string): JobRow | undefined {
    return this.#run(
      () => this.#db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(id) as JobRow | undefined,
    )
  }

  /** Newest first. */
  listJobs(status: JobStatus | undefined, limit: number): JobRow[] {
    return this.#run(
      () =>
        (status === undefined
          ? this.#db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs ORDER BY created_at DESC LIMIT ?`).all(limit)
          : this.#db
              .prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE status = ? ORDER BY created_at DESC LIMIT ?`)
              .all(status, limit)) as JobRow[],
    )
  }

  /** Jobs that were running when the node stopped or died, or were interrupted. */
  unfinished(): JobRow[] {
    return this.#run(
      () =>
        this.#db
          .prepare(
            `SELECT ${JOB_COLUMNS} FROM jobs WHERE status IN ('RUNNING', 'INTERRUPTED') ORDER BY created_at`,
          )
          .all() as JobRow[],
    )
  }

  /**
   * One commit of a job, in one transaction: new results (`items`), results committed earlier that
   * were written now (`emitted`), and the job's counters and output length.
   */
  commit(
    jobId: string,
    items: readonly ItemCommit[],
    emitted: readonly ItemCommit[],
    job: { readonly emitted: number; readonly outputBytes: number },
  ): void {
    let done = 0
    let failed = 0
    for (const item of items) {
      if (item.failed) failed++
      else done++
    }
    this.#run(() =>
      this.#db.transaction(() => {
        for (const i of items) {
          this.#insertItem.run(
            jobId,
            i.idx,
            i.failed ? 1 : 0,
            i.emitSeq,
            i.result,
            i.offset,
            i.length,
            i.ref?.cid ?? null,
            i.ref?.size ?? null,
          )
        }
        for (const i of emitted) {
          this.#emitItem.run(
            i.emitSeq,
            i.result,
            i.offset,
            i.length,
            i.ref?.cid ?? null,
            i.ref?.size ?? null,
            jobId,
            i.idx,
          )
        }
        this.#updateCounts.run(done, failed, job.emitted, job.outputBytes, jobId)
      })(),
    )
  }

  /**
   * A reader of which items of a job have a result, for skipping them when its input is read
   * again: ask in increasing order of index; the store is read a page at a time.
   */
  doneItems(jobId: string): (idx: number) => boolean {
    const PAGE = 4096
    let page: number[] = []
    let at = 0
    let from = 0
    let exhausted = false
    return (idx) => {
      for (;;) {
        while (at < page.length && (page[at] as number) < idx) at++
        if (at < page.length) return page[at] === idx
        if (exhausted) return false
        page = this.#run(() => this.#doneAfter.all(jobId, Math.max(idx, from), PAGE)).map((r) => r.idx)
        at = 0
        exhausted = page.length < PAGE
        from = (page.at(-1) ?? idx) + 1
      }
    }
  }

  /** The results committed but not yet written (a job in input order, waiting for an earlier item). */
  unwritten(jobId: string): UnwrittenRow[] {
    return this.#run(
      () =>
        this.#db
          .prepare(
            'SELECT idx, failed, result, result_cid, result_size FROM items WHERE job_id = ? AND emit_seq IS NULL ORDER BY idx',
          )
          .all(jobId) as UnwrittenRow[],
    )
  }

  /**
   * Forgets results committed but not written (their content by CID is gone): the items count as
   * not done and run again when the job resumes.
   */
  forget(jobId: string, items: ReadonlyArray<{ readonly idx: number; readonly failed: boolean }>): void {
    if (items.length === 0) return
    let failed = 0
    for (const i of items) if (i.failed) failed++
    this.#run(() =>
      this.#db.transaction(() => {
        const remove = this.#db.prepare('DELETE FROM items WHERE job_id = ? AND idx = ? AND emit_seq IS NULL')
        for (const i of items) remove.run(jobId, i.idx)
        this.#db
          .prepare('UPDATE jobs SET done = done - ?, failed = failed - ? WHERE id = ?')
          .run(items.length - failed, failed, jobId)
      })(),
    )
  }

  /** Up to `limit` results from emission position `from` on, in order. */
  emittedFrom(jobId: string, from: number, limit: number): EmittedRow[] {
    return this.#run(() => this.#emitted.all(jobId, from, limit))
  }

  /** Deletes the jobs (and their items) past their time to live; returns how many. */
  purge(): number {
    const expired = this.#run(
      () =>
        this.#db
          .prepare('SELECT id FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ?')
          .all(this.#now()) as Array<{ id: string }>,
    )
    for (const { id } of expired) {
      this.#run(() =>
        this.#db.transaction(() => {
          this.#db.prepare('DELETE FROM items WHERE job_id = ?').run(id)
          this.#db.prepare('DELETE FROM jobs WHERE id = ?').run(id)
        })(),
      )
    }
    return expired.length
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#db.close()
  }

  #run<T>(fn: () => T): T {
    if (this.#closed) throw new JobStoreError(`the job store ${this.path} is closed`)
    try {
      return fn()
    } catch (err) {
      if (err instanceof JobStoreError) throw err
      throw new JobStoreError(`job store ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }
}

const JOB_COLUMNS =
  'id, type, status, spec, created_at, started_at, finished_at, expires_at, runs, total, done, failed, emitted, output_bytes, input_size, input_mtime, error_code, error_message'

class NotADatabase extends Error {}

function open(path: string): Database.Database {
  let db: Database.Database | undefined
  try {
    // Created readable by its owner only: it holds users' results.
    closeSync(openSync(path, 'a', 0o600))
    const mode = statSync(path).mode
    if ((mode & 0o077) !== 0) chmodSync(path, mode & 0o700)
    db = new Database(path, { timeout: 5_000 })
    let applicationId: number
    try {
      applicationId = db.pragma('application_id', { simple: true }) as number
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_NOTADB') throw new NotADatabase(String(err))
      throw err
    }
    const version = db.pragma('user_version', { simple: true }) as number
    if (applicationId === 0 && version === 0) {
      db.exec(
        `BEGIN; ${SCHEMA}; PRAGMA application_id = ${JOB_STORE_APPLICATION_ID}; PRAGMA user_version = ${JOB_STORE_SCHEMA_VERSION}; COMMIT;`,
      )
    } else if (applicationId !== JOB_STORE_APPLICATION_ID) {
      throw new JobStoreError(`${path} is an SQLite database of another application; not touching it`)
    } else if (version > JOB_STORE_SCHEMA_VERSION) {
      throw new JobStoreError(
        `${path} has job store schema ${version}, written by a newer version (this one knows ${JOB_STORE_SCHEMA_VERSION})`,
      )
    } else if (version === 1) {
      // Schema 2 added results kept by CID: two columns, empty for every earlier row.
      db.exec(
        `BEGIN; ALTER TABLE items ADD COLUMN result_cid TEXT; ALTER TABLE items ADD COLUMN result_size INTEGER; PRAGMA user_version = ${JOB_STORE_SCHEMA_VERSION}; COMMIT;`,
      )
    }
    db.pragma('journal_mode = WAL')
    // NORMAL in WAL mode: a commit survives the process being killed (it is in the OS's cache),
    // which is what resuming after `kill -9` needs; a power loss may lose the last commits.
    db.pragma('synchronous = NORMAL')
    return db
  } catch (err) {
    db?.close()
    if (err instanceof NotADatabase || err instanceof JobStoreError) throw err
    throw new JobStoreError(`cannot open the job store ${path}: ${(err as Error).message}`, { cause: err })
  }
}
