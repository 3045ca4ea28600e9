/**
 * The SQLite table spans are kept in. A flush of the store writes one row: every span that ended
 * since the last flush, as one text of a line per span (`span-lines.ts`). Rows are only appended,
 * and nothing is indexed: under load a flush costs SQLite a fraction of a microsecond per span,
 * where an index entry per trace cost several microseconds and a row per trace more (measured
 * while building this; tracing must stay under 5 % of the exchange). The store remembers which
 * batches hold its recent traces; an older trace is found by a scan of the rows' text. (Rows
 * written before the line format hold a JSON object by trace id and list their trace ids in
 * `trace_ids`; they are read as well.)
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import type { TraceSpan } from '@p2p-ai/protocol'
import Database from 'better-sqlite3'
import { readSpans } from './span-lines.js'

/** One flush: its id, and its spans as the store's text (`span-lines.ts`) in UTF-8. */
export interface SpanBatch {
  readonly id: number
  readonly bytes: Uint8Array
}

/** A row's spans: text (rows before the line format), or the UTF-8 bytes of the line format. */
type Spans = string | Uint8Array

function textOf(spans: Spans): string {
  return typeof spans === 'string'
    ? spans
    : Buffer.from(spans.buffer, spans.byteOffset, spans.byteLength).toString('utf8')
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
  readonly #insert: Database.Statement<[number, number, string, Buffer]>
  readonly #insertAnyId: Database.Statement<[number, string, Buffer]>
  readonly #scan: Database.Statement<[number, string, string], { id: number; spans: Spans }>
  readonly #range: Database.Statement<[number, number, number], { spans: Spans }>
  readonly #all: Database.Statement<[number], { spans: Spans }>
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
    // Batches are a few hundred kilobytes: large pages write them in a few pages, not a hundred
    // (SQLite takes this only for a new file).
    this.#db.pragma('page_size = 65536')
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
    this.#scan = this.#db.prepare(
      'SELECT id, spans FROM batches WHERE expires_at > ? AND (instr(spans, ?) > 0 OR instr(trace_ids, ?) > 0) ORDER BY id',
    )
    this.#range = this.#db.prepare(
      'SELECT spans FROM batches WHERE expires_at > ? AND id BETWEEN ? AND ? ORDER BY id',
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
    const { bytes } = batch
    const blob = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (this.#insert.run(batch.id, expiresAt, '', blob).changes === 0) {
      this.#insertAnyId.run(expiresAt, '', blob)
    }
  }

  /**
   * The trace's spans, in the order they were written: from the batches from `hint[0]` to
   * `hint[1]` when they hold it, else from every batch that does.
   */
  read(traceId: string, now: number, hint: readonly number[] = []): TraceSpan[] {
    let spans: TraceSpan[] = []
    const [first, last] = hint
    if (first !== undefined && last !== undefined) spans = spansOf(this.#range.all(now, first, last), traceId)
    if (spans.length === 0) spans = spansOf(this.#scan.all(now, traceId, traceId), traceId)
    return spans
  }

  /** Spans kept (reads every batch: for tests and snapshots, not for the hot path). */
  count(now: number): number {
    let n = 0
    for (const row of this.#all.all(now)) {
      const text = textOf(row.spans)
      if (text.startsWith('{')) {
        for (const spans of Object.values(JSON.parse(text) as Record<string, unknown[]>)) n += spans.length
      } else {
        // A line per span, under the header line.
        for (let at = text.indexOf('\n'); at !== -1 && at < text.length - 1; n++) {
          at = text.indexOf('\n', at + 1)
        }
      }
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
}

/** A trace's spans in these batches. */
function spansOf(rows: ReadonlyArray<{ spans: Spans }>, traceId: string): TraceSpan[] {
  const spans: TraceSpan[] = []
  for (const row of rows) for (const span of readSpans(textOf(row.spans), traceId)) spans.push(span)
  return spans
}
