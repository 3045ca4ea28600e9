// The store's writer thread: serialises records and commits them on its own SQLite connection, so
// a large result costs the main thread (the node's networking) nothing but a structured clone.
// Group commit: a commit starts at most every `groupCommitMs`, and writes arriving in between share
// the next transaction; after a quiet spell the next write is committed at once.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { STORE_BUSY_TIMEOUT_MS, STORE_GROUP_COMMIT_MS } from '../constants.js'
import { INSERT_SQL, type TaskParams, toParams } from './schema.js'
import type { FromWriter, ToWriter, WriterBoot } from './writer-protocol.js'

const port = parentPort
if (port == null) throw new Error('the store writer must run in a worker thread')
const boot = workerData as WriterBoot
const groupCommitMs = boot.groupCommitMs ?? STORE_GROUP_COMMIT_MS
const db = new Database(boot.path, { timeout: STORE_BUSY_TIMEOUT_MS })
db.pragma(`synchronous = ${boot.synchronous}`)
const insert = db.prepare<TaskParams>(INSERT_SQL)
const commit = db.transaction((rows: readonly TaskParams[]) => {
  for (const row of rows) insert.run(row)
})
let queue: Array<Extract<ToWriter, { kind: 'put' }>> = []
/** When the last commit started (`performance.now()`). */
let lastCommitAt = Number.NEGATIVE_INFINITY
/** The flush to come, if one is scheduled; at most one is. */
let scheduled: { readonly cancel: () => void } | undefined

function post(message: FromWriter): void {
  port?.postMessage(message)
}

function schedule(): void {
  if (scheduled !== undefined) return
  const wait = lastCommitAt + groupCommitMs - performance.now()
  if (wait > 0) {
    const timer = setTimeout(flush, wait)
    scheduled = { cancel: () => clearTimeout(timer) }
  } else {
    // Still a turn later, so the messages already waiting join this commit.
    const immediate = setImmediate(flush)
    scheduled = { cancel: () => clearImmediate(immediate) }
  }
}

function flush(): void {
  scheduled?.cancel()
  scheduled = undefined
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
  lastCommitAt = performance.now()
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
    schedule()
    return
  }
  // Commits what is queued now rather than when a pending group-commit timer fires; flush cancels
  // that timer, so nothing runs against the closed database.
  flush()
  db.close()
  post({ kind: 'closed' })
  port.close()
})
