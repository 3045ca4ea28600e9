import { chmodSync, closeSync, existsSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import {
  DEFAULT_PURGE_INTERVAL_MS,
  DEFAULT_RESULT_TTL_MS,
  PURGE_BATCH_SIZE,
  STORE_APPLICATION_ID,
  STORE_BUSY_TIMEOUT_MS,
  STORE_FILE_NAME,
  STORE_SCHEMA_VERSION,
} from '../constants.js'
import {
  InvalidConfigError,
  StoreClosedError,
  StoreCorruptError,
  StoreError,
  StoreIncompatibleError,
} from '../errors.js'
import type { TaskRecord, TaskStatus } from '../types.js'
import {
  COLUMNS,
  COLUMNS_NO_OUTPUT,
  fromRow,
  INSERT_SQL,
  SCHEMA_V1,
  type TaskParams,
  type TaskRow,
  toParams,
} from './schema.js'
import { mapError } from './sqlite-error.js'
import { StoreWriter } from './writer.js'

export interface ResultStoreInit {
  /**
   * Directory holding the store file (`results.db`), created if missing. The node passes its data
   * directory. Exactly one of `directory` and `inMemory` is required.
   */
  readonly directory?: string
  /** Keep everything in memory and lose it on close; for tests. */
  readonly inMemory?: boolean
  /**
   * How long a record is kept after its task finished, in milliseconds.
   *
   * @default 86_400_000 (24 h)
   */
  readonly ttlMs?: number
  /**
   * How often expired records are deleted in the background, in milliseconds; 0 disables the timer
   * (call `purge()` yourself). Expired records are never returned either way.
   *
   * @default 600_000 (10 min)
   */
  readonly purgeIntervalMs?: number
  /**
   * SQLite's `synchronous` setting in WAL mode. `NORMAL`: a write is durable once `put` returns
   * against a crash or kill of the process (the data is in the OS page cache), but the last writes
   * may be lost if the machine loses power. `FULL`: also survives power loss, at the cost of an
   * fsync per write (milliseconds on most disks).
   *
   * @default 'NORMAL'
   */
  readonly synchronous?: 'NORMAL' | 'FULL'
  /**
   * What to do when the file is not a valid database: `throw` a `StoreCorruptError`, or
   * `move-aside`: rename it (and its `-wal`/`-shm` files) to `results.db.corrupt-<time>` and start
   * empty. The renamed path is then in `recoveredFrom`.
   *
   * @default 'throw'
   */
  readonly onCorrupt?: 'throw' | 'move-aside'
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number
}

export interface ListQuery {
  readonly status?: TaskStatus
  /** Read the outputs too; `false` skips them (cheap with large outputs). @default true */
  readonly output?: boolean
  readonly type?: string
  /** @default 20 */
  readonly limit?: number
  /** @default 0 */
  readonly offset?: number
}

/** What a store's file holds; see `ResultStore.usage`. */
export interface StoreUsage {
  readonly usedBytes: number
  readonly freeBytes: number
}

/**
 * Finished task records in SQLite: a single file in WAL mode that survives restarts, with expiry.
 * Calls are synchronous (better-sqlite3); a read or write of a typical record takes microseconds.
 */
export interface ResultStore {
  /** The database file, or `:memory:`. */
  readonly path: string
  /** Where a corrupt file was moved by `onCorrupt: 'move-aside'`, if that happened at open. */
  readonly recoveredFrom: string | undefined
  /**
   * Inserts or replaces a record. Durable (see `synchronous`) once this returns. Throws a
   * `TypeError` if the output is not JSON-serialisable (a BigInt, a cycle).
   */
  put(record: TaskRecord): void
  /**
   * Like `put`, but for a file store the serialisation and the write happen on a writer thread,
   * so a large output costs the caller's thread only a structured clone; writes arriving together
   * share a transaction. Resolves once durable; rejects with a `TypeError` for an output that is
   * not JSON. An in-memory store writes synchronously. Order relative to `put` is not guaranteed.
   */
  putAsync(record: TaskRecord): Promise<void>
  /**
   * `putAsync` of several records in one hand-over to the writer thread (one message and one
   * structured clone for all, instead of one each): one promise per record, in order, each
   * settling as that record's `putAsync` would. For callers that write in bursts.
   */
  putManyAsync(records: readonly TaskRecord[]): Promise<void>[]
  /** The record, unless unknown or expired; without its output if `output: false`. */
  get(id: string, options?: { readonly output?: boolean }): TaskRecord | undefined
  /** Whether a record exists and has not expired. */
  has(id: string): boolean
  /** Newest first (by `queuedAt`). */
  list(query?: ListQuery): TaskRecord[]
  count(query?: Pick<ListQuery, 'status' | 'type'>): number
  delete(id: string): boolean
  /** Deletes expired records now; returns how many. */
  purge(): number
  /**
   * Deletes the `count` oldest records (by `queuedAt`), expired or not; returns how many. For a
   * disk limit: their pages are reused by later records, so the file stops growing.
   */
  deleteOldest(count: number): number
  /**
   * How much of the file holds records (`usedBytes`) and how much is free pages SQLite reuses
   * before it grows the file (`freeBytes`); the write-ahead log counts as used.
   */
  usage(): StoreUsage
  /**
   * Closes the database; later calls throw `StoreClosedError`. Writes already passed to `putAsync`
   * still complete. Idempotent.
   */
  close(): void
  readonly closed: boolean
}

/** Opens (or creates) a result store. Throws `StoreCorruptError`, `StoreIncompatibleError`, `StoreError`. */
export function resultStore(init: ResultStoreInit): ResultStore {
  return new SqliteResultStore(init)
}

class SqliteResultStore implements ResultStore {
  readonly path: string
  readonly recoveredFrom: string | undefined
  readonly #db: Database.Database
  readonly #ttlMs: number
  readonly #now: () => number
  readonly #timer: NodeJS.Timeout | undefined
  readonly #put: Database.Statement<TaskParams>
  readonly #get: Database.Statement<[string, number], TaskRow>
  readonly #getStatus: Database.Statement<[string, number], TaskRow>
  readonly #has: Database.Statement<[string, number], { one: number }>
  readonly #delete: Database.Statement<[string]>
  readonly #purge: Database.Statement<[number, number]>
  readonly #deleteOldest: Database.Statement<[number]>
  readonly #lists = new Map<string, Database.Statement>()
  readonly #writer: StoreWriter | undefined
  #closed = false

  constructor(init: ResultStoreInit) {
    const ttlMs = init.ttlMs ?? DEFAULT_RESULT_TTL_MS
    const purgeIntervalMs = init.purgeIntervalMs ?? DEFAULT_PURGE_INTERVAL_MS
    if ((init.directory === undefined) === (init.inMemory !== true)) {
      throw new InvalidConfigError('a result store needs exactly one of `directory` and `inMemory: true`')
    }
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
      throw new InvalidConfigError(`ttlMs must be a positive integer, got ${ttlMs}`)
    }
    if (!Number.isSafeInteger(purgeIntervalMs) || purgeIntervalMs < 0) {
      throw new InvalidConfigError(`purgeIntervalMs must be a non-negative integer, got ${purgeIntervalMs}`)
    }
    if (init.synchronous !== undefined && init.synchronous !== 'NORMAL' && init.synchronous !== 'FULL') {
      throw new InvalidConfigError(`synchronous must be 'NORMAL' or 'FULL', got ${String(init.synchronous)}`)
    }
    this.#ttlMs = ttlMs
    this.#now = init.now ?? Date.now
    if (init.directory === undefined) {
      this.path = ':memory:'
    } else {
      try {
        mkdirSync(init.directory, { recursive: true, mode: 0o700 })
      } catch (err) {
        throw new StoreError(`cannot create the result store directory ${init.directory}: ${String(err)}`, {
          cause: err,
        })
      }
      this.path = join(init.directory, STORE_FILE_NAME)
    }
    if (this.path !== ':memory:') ownerOnly(this.path)
    let recoveredFrom: string | undefined
    let db: Database.Database
    try {
      db = open(this.path, init.synchronous ?? 'NORMAL')
    } catch (err) {
      if (!(err instanceof StoreCorruptError) || init.onCorrupt !== 'move-aside') throw err
      recoveredFrom = moveAside(this.path, this.#now())
      ownerOnly(this.path)
      db = open(this.path, init.synchronous ?? 'NORMAL')
    }
    this.recoveredFrom = recoveredFrom
    this.#db = db
    this.#writer =
      this.path === ':memory:'
        ? undefined
        : new StoreWriter({ path: this.path, synchronous: init.synchronous ?? 'NORMAL' })
    this.#put = db.prepare(INSERT_SQL)
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM tasks WHERE id = ? AND expires_at > ?`)
    this.#getStatus = db.prepare(`SELECT ${COLUMNS_NO_OUTPUT} FROM tasks WHERE id = ? AND expires_at > ?`)
    this.#has = db.prepare('SELECT 1 AS one FROM tasks WHERE id = ? AND expires_at > ?')
    this.#delete = db.prepare('DELETE FROM tasks WHERE id = ?')
    this.#purge = db.prepare(
      'DELETE FROM tasks WHERE rowid IN (SELECT rowid FROM tasks WHERE expires_at <= ? LIMIT ?)',
    )
    this.#deleteOldest = db.prepare(
      'DELETE FROM tasks WHERE rowid IN (SELECT rowid FROM tasks ORDER BY queued_at LIMIT ?)',
    )
    if (purgeIntervalMs > 0) {
      this.#timer = setInterval(() => {
        try {
          this.purge()
        } catch {
          // Reads filter expired rows anyway; the next round retries, and a broken store shows up
          // on the next put or get, where a caller can see it.
        }
      }, purgeIntervalMs)
      this.#timer.unref()
    }
  }

  get closed(): boolean {
    return this.#closed
  }

  put(record: TaskRecord): void {
    // Outside #run: a TypeError here means the output is not JSON, not that the store failed.
    const outputJson = record.output === undefined ? undefined : JSON.stringify(record.output)
    const expiresAt = (record.finishedAt ?? this.#now()) + this.#ttlMs
    this.#run(() => this.#put.run(toParams(record, outputJson, expiresAt)))
  }

  putAsync(record: TaskRecord): Promise<void> {
    if (this.#writer === undefined || this.#closed) {
      try {
        this.put(record)
        return Promise.resolve()
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return this.#writer.write(record, (record.finishedAt ?? this.#now()) + this.#ttlMs)
  }

  putManyAsync(records: readonly TaskRecord[]): Promise<void>[] {
    if (this.#writer === undefined || this.#closed || records.length < 2) {
      return records.map((record) => this.putAsync(record))
    }
    const now = this.#now()
    return this.#writer.writeMany(
      records,
      records.map((record) => (record.finishedAt ?? now) + this.#ttlMs),
    )
  }

  get(id: string, options: { readonly output?: boolean } = {}): TaskRecord | undefined {
    const stmt = options.output === false ? this.#getStatus : this.#get
    const row = this.#run(() => stmt.get(id, this.#now()))
    return row === undefined ? undefined : fromRow(row)
  }

  has(id: string): boolean {
    return this.#run(() => this.#has.get(id, this.#now())) !== undefined
  }

  list(query: ListQuery = {}): TaskRecord[] {
    const limit = query.limit ?? 20
    const offset = query.offset ?? 0
    const { where, params } = filter(query)
    const stmt = this.#listStatement(
      `SELECT ${query.output === false ? COLUMNS_NO_OUTPUT : COLUMNS} FROM tasks WHERE ${where} ORDER BY queued_at DESC, rowid DESC LIMIT ? OFFSET ?`,
    )
    const rows = this.#run(() => stmt.all(this.#now(), ...params, limit, offset) as TaskRow[])
    return rows.map(fromRow)
  }

  count(query: Pick<ListQuery, 'status' | 'type'> = {}): number {
    const { where, params } = filter(query)
    const stmt = this.#listStatement(`SELECT COUNT(*) AS n FROM tasks WHERE ${where}`)
    return this.#run(() => (stmt.get(this.#now(), ...params) as { n: number }).n)
  }

  delete(id: string): boolean {
    return this.#run(() => this.#delete.run(id).changes > 0)
  }

  purge(): number {
    const now = this.#now()
    let total = 0
    for (;;) {
      const { changes } = this.#run(() => this.#purge.run(now, PURGE_BATCH_SIZE))
      total += changes
      if (changes < PURGE_BATCH_SIZE) return total
    }
  }

  deleteOldest(count: number): number {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new InvalidConfigError(`count must be a non-negative integer, got ${count}`)
    }
    let total = 0
    while (total < count) {
      const batch = Math.min(PURGE_BATCH_SIZE, count - total)
      const { changes } = this.#run(() => this.#deleteOldest.run(batch))
      total += changes
      if (changes < batch) break
    }
    return total
  }

  usage(): StoreUsage {
    return this.#run(() => {
      const pageSize = this.#db.pragma('page_size', { simple: true }) as number
      const pages = this.#db.pragma('page_count', { simple: true }) as number
      const free = this.#db.pragma('freelist_count', { simple: true }) as number
      let wal = 0
      if (this.path !== ':memory:') {
        try {
          wal = statSync(`${this.path}-wal`).size
        } catch {
          // No log right now.
        }
      }
      return { usedBytes: (pages - free) * pageSize + wal, freeBytes: free * pageSize }
    })
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#db.close()
    void this.#writer?.close()
  }

  #listStatement(sql: string): Database.Statement {
    let stmt = this.#lists.get(sql)
    if (stmt === undefined) {
      stmt = this.#run(() => this.#db.prepare(sql))
      this.#lists.set(sql, stmt)
    }
    return stmt
  }

  #run<T>(fn: () => T): T {
    if (this.#closed) throw new StoreClosedError(`the result store ${this.path} is closed`)
    try {
      return fn()
    } catch (err) {
      throw mapError(err, this.path)
    }
  }
}

function filter(query: Pick<ListQuery, 'status' | 'type'>): { where: string; params: string[] } {
  let where = 'expires_at > ?'
  const params: string[] = []
  if (query.status !== undefined) {
    where += ' AND status = ?'
    params.push(query.status)
  }
  if (query.type !== undefined) {
    where += ' AND type = ?'
    params.push(query.type)
  }
  return { where, params }
}

function open(path: string, synchronous: 'NORMAL' | 'FULL'): Database.Database {
  let db: Database.Database | undefined
  try {
    db = new Database(path, { timeout: STORE_BUSY_TIMEOUT_MS })
    // The first read of the header: a file that is not SQLite fails here with SQLITE_NOTADB.
    const applicationId = db.pragma('application_id', { simple: true }) as number
    const version = db.pragma('user_version', { simple: true }) as number
    if (applicationId === 0 && version === 0) {
      const tables = (
        db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get() as {
          n: number
        }
      ).n
      if (tables > 0) {
        throw new StoreIncompatibleError(
          `${path} is an SQLite database of another application; not touching it`,
        )
      }
      db.exec(
        `BEGIN; ${SCHEMA_V1}; PRAGMA application_id = ${STORE_APPLICATION_ID}; PRAGMA user_version = ${STORE_SCHEMA_VERSION}; COMMIT;`,
      )
    } else if (applicationId !== STORE_APPLICATION_ID) {
      throw new StoreIncompatibleError(
        `${path} is an SQLite database of another application; not touching it`,
      )
    } else if (version > STORE_SCHEMA_VERSION) {
      throw new StoreIncompatibleError(
        `${path} has schema version ${version}, written by a newer engine (this one knows ${STORE_SCHEMA_VERSION})`,
      )
    }
    // WAL: readers never block the writer, and a commit is one sequential append.
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    return db
  } catch (err) {
    db?.close()
    throw mapError(err, path)
  }
}

/**
 * Stored results hold users' data: the database file is created readable by its owner only
 * (SQLite gives its -wal and -shm files the database's mode), and files an older version left
 * readable by others are tightened. The directory is created 0700.
 */
function ownerOnly(path: string): void {
  try {
    closeSync(openSync(path, 'a', 0o600))
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      const mode = statSync(file, { throwIfNoEntry: false })?.mode
      if (mode !== undefined && (mode & 0o077) !== 0) chmodSync(file, mode & 0o700)
    }
  } catch (err) {
    throw new StoreError(
      `cannot create the result store ${path} readable by its owner only: ${String(err)}`,
      {
        cause: err,
      },
    )
  }
}

function moveAside(path: string, now: number): string {
  const target = `${path}.corrupt-${now}`
  try {
    renameSync(path, target)
    for (const suffix of ['-wal', '-shm']) {
      if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix)
    }
  } catch (err) {
    throw new StoreError(`cannot move the corrupt result store ${path} aside: ${String(err)}`, { cause: err })
  }
  return target
}
