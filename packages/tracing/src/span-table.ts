/**
 * The SQLite table spans are kept in. A flush of the store writes one row: every span that ended
 * since the last flush, as one JSON object keyed by trace id, with the trace ids it holds in a
 * column of their own. Rows are only appended, and nothing is indexed: under load a flush costs
 * SQLite a fraction of a microsecond per span, where an index entry per trace cost several
 * microseconds and a row per trace more (measured while building this; tracing must stay under
 * 5 % of the exchange). The store remembers which batches hold its recent traces; an older trace
 * is found by a scan of the trace id column, which SQLite reads without the spans.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

/** One flush: its id, the trace ids it holds, and its spans as JSON, `{ "<trace id>": [span, …], … }`. */
export interface SpanBatch {
  readonly id: number
  readonly traceIds: readonly string[]
  readonly json: string
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY,
  expires_at INTEGER NOT NULL,
  trace_ids TEXT NOT NULL,
  spans TEXT NOT NULL
);
`

/** Synchronous access to the span tables (on whichever thread owns the connection). */
export class SpanTable {
  readonly #db: Database.Database
  readonly #insert: Database.Statement<[number, number, string, string]>
  readonly #insertAnyId: Database.Statement<[number, string, string]>
  readonly #byIds = new Map<number, Database.Statement>()
  readonly #scan: Database.Statement<[number, string], { id: number; spans: string }>
  readonly #all: Database.Statement<[number], { spans: string }>
  readonly #firstLive: Database.Statement<[number], { id: number }>
  readonly #deleteBefore: Database.Statement<[number]>
  readonly #deleteExpired: Database.Statement<[number]>

  /** Opens (or creates) the table in `path` (`:memory:` for memory only). */
  constructor(path: string) {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
      // Spans name peers and tasks: readable by the node's user only, from the first byte.
      if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600))
      chmodSync(path, 0o600)
    }
    this.#db = new Database(path)
    if (path !== ':memory:') {
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = NORMAL')
    }
    this.#db.exec(SCHEMA)
    this.#insert = this.#db.prepare(
      'INSERT OR IGNORE INTO batches (id, expires_at, trace_ids, spans) VALUES (?, ?, ?, ?)',
    )
    this.#insertAnyId = this.#db.prepare(
      'INSERT INTO batches (expires_at, trace_ids, spans) VALUES (?, ?, ?)',
    )
    // `trace_ids` before `spans`: the scan reads the ids without loading the spans' pages.
    this.#scan = this.#db.prepare(
      'SELECT id, spans FROM batches WHERE expires_at > ? AND instr(trace_ids, ?) > 0 ORDER BY id',
    )
    this.#all = this.#db.prepare('SELECT spans FROM batches WHERE expires_at > ?')
    // Batch ids grow with time and every batch is kept as long, so the expired ones are those
    // before the first live one: found from the start of the table, deleted by range.
    this.#firstLive = this.#db.prepare('SELECT id FROM batches WHERE expires_at > ? ORDER BY id LIMIT 1')
    this.#deleteBefore = this.#db.prepare('DELETE FROM batches WHERE id < ?')
    this.#deleteExpired = this.#db.prepare('DELETE FROM batches WHERE expires_at <= ?')
  }

  /**
   * Appends a batch under its id; one whose id is taken (the clock went back across a restart)
   * goes in under a new id, and is found by the scan.
   */
  write(batch: SpanBatch, expiresAt: number): void {
    const ids = batch.traceIds.join(',')
    if (this.#insert.run(batch.id, expiresAt, ids, batch.json).changes === 0) {
      this.#insertAnyId.run(expiresAt, ids, batch.json)
    }
  }

  /**
   * The trace's spans as one JSON array (text), in the order they were written: from the batches
   * `hint` names when they hold it, else from every batch that does.
   */
  read(traceId: string, now: number, hint: readonly number[] = []): string {
    let rows: Array<{ spans: string }> = []
    if (hint.length > 0)
      rows = this.#byIdsStatement(hint.length).all(now, ...hint) as Array<{ spans: string }>
    let parts = spansOf(rows, traceId)
    if (parts.length === 0) parts = spansOf(this.#scan.all(now, traceId), traceId)
    return `[${parts.join(',')}]`
  }

  /** Spans kept (reads every batch: for tests and snapshots, not for the hot path). */
  count(now: number): number {
    let n = 0
    for (const row of this.#all.all(now)) {
      for (const spans of Object.values(JSON.parse(row.spans) as Record<string, unknown[]>)) n += spans.length
    }
    return n
  }

  /** Deletes the batches that expired at `now`; returns how many. */
  purge(now: number): number {
    const first = this.#firstLive.get(now)
    return (first === undefined ? this.#deleteExpired.run(now) : this.#deleteBefore.run(first.id)).changes
  }

  close(): void {
    this.#db.close()
  }

  #byIdsStatement(n: number): Database.Statement {
    let statement = this.#byIds.get(n)
    if (statement === undefined) {
      statement = this.#db.prepare(
        `SELECT spans FROM batches WHERE expires_at > ? AND id IN (${Array(n).fill('?').join(',')}) ORDER BY id`,
      )
      this.#byIds.set(n, statement)
    }
    return statement
  }
}

/** The JSON texts of a trace's spans in these batches. */
function spansOf(rows: ReadonlyArray<{ spans: string }>, traceId: string): string[] {
  const parts: string[] = []
  for (const row of rows) {
    const spans = (JSON.parse(row.spans) as Record<string, unknown[]>)[traceId]
    if (spans !== undefined) for (const span of spans) parts.push(JSON.stringify(span))
  }
  return parts
}
