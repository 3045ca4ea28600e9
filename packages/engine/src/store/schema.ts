import type { TaskRecord, TaskStatus } from '../types.js'

/** Version 1 of the store's schema; `PRAGMA user_version` says which one a file has. */
export const SCHEMA_V1 = `
CREATE TABLE tasks (
  id            TEXT    NOT NULL PRIMARY KEY,
  type          TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  priority      INTEGER NOT NULL,
  backend       TEXT    NOT NULL,
  queued_at     INTEGER NOT NULL,
  started_at    INTEGER,
  finished_at   INTEGER,
  expires_at    INTEGER NOT NULL,
  output        TEXT,
  error_code    TEXT,
  error_message TEXT,
  meta          TEXT
);
CREATE INDEX tasks_by_queued ON tasks (queued_at);
CREATE INDEX tasks_by_status ON tasks (status, queued_at);
CREATE INDEX tasks_by_expiry ON tasks (expires_at);
`

/** A row of `tasks` as better-sqlite3 returns it. */
export interface TaskRow {
  id: string
  type: string
  status: string
  priority: number
  backend: string
  queued_at: number
  started_at: number | null
  finished_at: number | null
  expires_at: number
  output: string | null
  error_code: string | null
  error_message: string | null
  meta: string | null
}

/** Named parameters of the insert statement. */
export interface TaskParams {
  id: string
  type: string
  status: string
  priority: number
  backend: string
  queued_at: number
  started_at: number | null
  finished_at: number | null
  expires_at: number
  output: string | null
  error_code: string | null
  error_message: string | null
  meta: string | null
}

export const COLUMNS =
  'id, type, status, priority, backend, queued_at, started_at, finished_at, expires_at, output, error_code, error_message, meta'
/** Inserts a record or replaces the one with the same id; named parameters as in `TaskParams`. */
export const INSERT_SQL = `INSERT OR REPLACE INTO tasks (${COLUMNS}) VALUES (@id, @type, @status, @priority, @backend, @queued_at, @started_at, @finished_at, @expires_at, @output, @error_code, @error_message, @meta)`

/** The same columns without reading the output (a status query must not parse megabytes). */
export const COLUMNS_NO_OUTPUT = COLUMNS.replace('output', 'NULL AS output')

export function toParams(record: TaskRecord, outputJson: string | undefined, expiresAt: number): TaskParams {
  return {
    id: record.id,
    type: record.type,
    status: record.status,
    priority: record.priority,
    backend: record.backend,
    queued_at: record.queuedAt,
    started_at: record.startedAt ?? null,
    finished_at: record.finishedAt ?? null,
    expires_at: expiresAt,
    output: outputJson ?? null,
    error_code: record.error?.code ?? null,
    error_message: record.error?.message ?? null,
    meta: record.meta === undefined ? null : JSON.stringify(record.meta),
  }
}

export function fromRow(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    type: row.type,
    status: row.status as TaskStatus,
    priority: row.priority,
    backend: row.backend,
    queuedAt: row.queued_at,
    ...(row.started_at === null ? {} : { startedAt: row.started_at }),
    ...(row.finished_at === null ? {} : { finishedAt: row.finished_at }),
    ...(row.status === 'COMPLETED' ? { progress: { fraction: 1 } } : {}),
    ...(row.output === null ? {} : { output: JSON.parse(row.output) as unknown }),
    ...(row.error_code === null ? {} : { error: { code: row.error_code, message: row.error_message ?? '' } }),
    ...(row.meta === null ? {} : { meta: JSON.parse(row.meta) as Record<string, string> }),
  }
}
