/** The stores a node keeps in its data directory, and SQLite's own check of each. */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'

/** The engine's result store and the store of submitted tasks (docs/delivery.md). */
export function storeFiles(dataDir: string): string[] {
  return [join(dataDir, 'store', 'results.db'), join(dataDir, 'store', 'submitted', 'results.db')].filter(
    (path) => existsSync(path),
  )
}

/**
 * `PRAGMA integrity_check` on a store file: `ok`, or what SQLite found wrong. Opened as the node's
 * next start would open it (a WAL left by a kill is recovered first), and only read.
 */
export function integrityCheck(path: string): string {
  let db: Database.Database | undefined
  try {
    db = new Database(path, { fileMustExist: true })
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>
    return rows.map((r) => r.integrity_check).join('; ')
  } catch (err) {
    return `cannot check: ${(err as Error).message}`
  } finally {
    db?.close()
  }
}
