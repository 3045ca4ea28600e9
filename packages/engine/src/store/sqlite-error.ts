import Database from 'better-sqlite3'
import { StoreCorruptError, StoreError } from '../errors.js'

/** The store's own error for an SQLite error on `path`; anything else is returned unchanged. */
export function mapError(err: unknown, path: string): unknown {
  if (!(err instanceof Database.SqliteError)) return err
  return mapSqliteCode(err.code, err.message, path, err)
}

/** As `mapError`, from an SQLite error code and message (as reported by the writer thread). */
export function mapSqliteCode(code: string, message: string, path: string, cause?: unknown): Error {
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new StoreCorruptError(
      `the result store ${path} is corrupt (${message}). Stop the node, move the file and its -wal/-shm companions aside (e.g. mv ${path} ${path}.bad), and start again with an empty store; or open it with onCorrupt: 'move-aside'`,
      path,
      { cause },
    )
  }
  return new StoreError(`result store ${path}: ${message} (${code})`, { cause })
}
