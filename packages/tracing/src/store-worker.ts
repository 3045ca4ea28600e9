// The span store's thread: owns the SQLite connection, so writing spans costs the node's main
// thread (its networking and the task exchange) one message per flush, never a statement.
import { parentPort, workerData } from 'node:worker_threads'
import { SpanTable } from './span-table.js'
import { type StoreReply, type StoreRequest, serve } from './store-protocol.js'

const port = parentPort
if (port == null) throw new Error('the span store must run in a worker thread')
const table = new SpanTable((workerData as { path: string }).path)

port.on('message', (request: StoreRequest) => {
  let reply: StoreReply
  try {
    reply = { id: request.id, ok: true, value: serve(table, request) }
  } catch (err) {
    reply = { id: request.id, ok: false, message: err instanceof Error ? err.message : String(err) }
  }
  // Writes (id 0) are answered only when they fail, so the store can tell that spans were lost.
  if (request.id !== 0 || !reply.ok) port.postMessage(reply)
  if (request.op === 'close') port.close()
})
