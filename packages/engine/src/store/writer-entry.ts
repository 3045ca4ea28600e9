// The store's writer thread: serialises records and commits them on its own SQLite connection, so
// a large result costs the main thread (the node's networking) nothing but a structured clone.
// Writes that arrive together are committed in one transaction.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { STORE_BUSY_TIMEOUT_MS } from '../constants.js'
import type { TaskRecord } from '../types.js'
import { INSERT_SQL, type TaskParams, toParams } from './schema.js'
import type { FromWriter, ToWriter, WriterBoot } from './writer-protocol.js'

const port = parentPort
if (port == null) throw new Error('the store writer must run in a worker thread')
const boot = workerData as WriterBoot
const db = new Database(boot.path, { timeout: STORE_BUSY_TIMEOUT_MS })
db.pragma(`synchronous = ${boot.synchronous}`)
const insert = db.prepare<TaskParams>(INSERT_SQL)
const commit = db.transaction((rows: readonly TaskParams[]) => {
  for (const row of rows) insert.run(row)
})
let queue: Array<{ seq: number; record: TaskRecord; expiresAt: number }> = []

function post(message: FromWriter): void {
  port?.postMessage(message)
}

function flush(): void {
  const batch = queue
  queue = []
  const rows: TaskParams[] = []
  const seqs: number[] = []
  for (const { seq, record, expiresAt } of batch) {
    let json: string | undefined
    try {
      json = record.output === undefined ? undefined : JSON.stringify(record.output)
    } catch (err) {
      post({ kind: 'not-json', seq, message: err instanceof Error ? err.message : String(err) })
      continue
    }
    rows.push(toParams(record, json, expiresAt))
    seqs.push(seq)
  }
  if (rows.length === 0) return
  try {
    commit(rows)
    post({ kind: 'done', seqs })
  } catch (err) {
    const code = err instanceof Database.SqliteError ? err.code : 'SQLITE_ERROR'
    post({ kind: 'failed', seqs, code, message: err instanceof Error ? err.message : String(err) })
  }
}

port.on('message', (message: ToWriter) => {
  if (message.kind === 'put') {
    queue.push(message)
    if (queue.length === 1) setImmediate(flush)
    return
  }
  if (message.kind === 'put-many') {
    const first = queue.length === 0
    const { seq, records, expiresAt } = message
    for (let i = 0; i < records.length; i++) {
      queue.push({ seq: seq + i, record: records[i] as TaskRecord, expiresAt: expiresAt[i] as number })
    }
    if (first && queue.length > 0) setImmediate(flush)
    return
  }
  if (queue.length > 0) flush()
  db.close()
  post({ kind: 'closed' })
  port.close()
})
