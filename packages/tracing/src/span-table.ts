/**
 * The SQLite table spans are kept in. Rows are only ever appended (the rowid grows), each holding
 * the spans of one trace that one flush wrote, as JSON objects joined by commas; a small index on
 * an integer key derived from the trace id finds them again. Appending to a table is cheap and so
 * is growing an index of integers; writing rows at random places in a table, or indexing 32-digit
 * strings, costs several times more per span (measured while building this).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'

/** One row to write: a trace id and its spans' JSON objects, joined by commas. */
export type SpanRow = readonly [traceId: string, spans: string]

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spans (
  trace_key INTEGER NOT NULL,
  trace_id TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  spans TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_key);
`

/** The first 52 bits of a trace id: a safe integer. */
function traceKey(traceId: string): number {
  return Number.parseInt(traceId.slice(0, 13), 16)
}

/** Synchronous access to the span table (on whichever thread owns the connection). */
export class SpanTable {
  readonly #db: Database.Database
  readonly #write: (rows: readonly SpanRow[], expiresAt: number) => void
  readonly #read: Database.Statement<[number, string, number], { spans: string }>
  readonly #count: Database.Statement<[number], { n: number | null }>
  readonly #firstLive: Database.Statement<[number], { rowid: number }>
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
    const insert = this.#db.prepare<[number, string, number, string]>(
      'INSERT INTO spans (trace_key, trace_id, expires_at, spans) VALUES (?, ?, ?, ?)',
    )
    this.#write = this.#db.transaction((rows: readonly SpanRow[], expiresAt: number) => {
      for (const [traceId, spans] of rows) insert.run(traceKey(traceId), traceId, expiresAt, spans)
    })
    this.#read = this.#db.prepare(
      'SELECT spans FROM spans WHERE trace_key = ? AND trace_id = ? AND expires_at > ? ORDER BY rowid',
    )
    this.#count = this.#db.prepare(
      "SELECT sum(json_array_length('[' || spans || ']')) AS n FROM spans WHERE expires_at > ?",
    )
    // Rows expire in the order they were written (one retention for all), so the expired rows are
    // those before the first live one: found from the start of the table, deleted by range.
    this.#firstLive = this.#db.prepare('SELECT rowid FROM spans WHERE expires_at > ? ORDER BY rowid LIMIT 1')
    this.#deleteBefore = this.#db.prepare('DELETE FROM spans WHERE rowid < ?')
    this.#deleteExpired = this.#db.prepare('DELETE FROM spans WHERE expires_at <= ?')
  }

  write(rows: readonly SpanRow[], expiresAt: number): void {
    this.#write(rows, expiresAt)
  }

  /** The trace's spans as one JSON array (text), in the order they were written. */
  read(traceId: string, now: number): string {
    const parts = this.#read.all(traceKey(traceId), traceId, now).map((row) => row.spans)
    return `[${parts.join(',')}]`
  }

  count(now: number): number {
    return this.#count.get(now)?.n ?? 0
  }

  /** Deletes the rows that expired at `now`; returns how many. */
  purge(now: number): number {
    const first = this.#firstLive.get(now)
    return (first === undefined ? this.#deleteExpired.run(now) : this.#deleteBefore.run(first.rowid)).changes
  }

  close(): void {
    this.#db.close()
  }
}
