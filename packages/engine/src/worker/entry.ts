// Entry point of a pool worker: builds one backend from `workerData` and runs its tasks one at a
// time, as told by the pool over `parentPort`.
import { parentPort, workerData } from 'node:worker_threads'
import type { Backend, TaskProgress } from '../backend.js'
import { InvalidBackendError, RemoteTaskError } from '../errors.js'
import { describeModule } from './module-url.js'
import { type FromWorker, serializeError, type ToWorker, type WorkerBoot } from './protocol.js'
import { remoteMemory } from './remote-memory.js'

const port = parentPort
if (port == null) throw new Error('the engine worker entry must run in a worker thread')
const boot = workerData as WorkerBoot
const controllers = new Map<string, AbortController>()
let backend: Backend | undefined

function post(message: FromWorker): void {
  port?.postMessage(message)
}

const memory = remoteMemory(post)
/** The latest settings, also those that arrive while the backend is being built. */
let settings = boot.settings

async function build(): Promise<Backend> {
  const mod = (await import(boot.module)) as Record<string, unknown>
  const factory = mod[boot.export]
  if (typeof factory !== 'function') {
    throw new InvalidBackendError(
      `${describeModule(boot.module)} has no exported function "${boot.export}" to build a backend with`,
    )
  }
  const built = (await factory(boot.init)) as Backend
  if (built == null || typeof built.run !== 'function') {
    throw new InvalidBackendError(
      `"${boot.export}" of ${describeModule(boot.module)} did not return a backend`,
    )
  }
  return built
}

async function run(message: Extract<ToWorker, { kind: 'run' }>): Promise<void> {
  const { id, type, input, resume } = message
  const controller = new AbortController()
  controllers.set(id, controller)
  let lastProgress = Number.NEGATIVE_INFINITY
  const onProgress = (progress: TaskProgress): void => {
    const now = performance.now()
    // A report carrying a text delta or a checkpoint always crosses: the engine coalesces deltas,
    // never drops them, and forwards the latest checkpoint of each window.
    const throttled =
      (progress.delta === undefined || progress.delta === '') && progress.checkpoint === undefined
    if (throttled && now - lastProgress < boot.progressIntervalMs && progress.fraction < 1) return
    lastProgress = now
    post({ kind: 'progress', id, progress: { ...progress } })
  }
  try {
    if (backend == null) throw new InvalidBackendError('the worker has no backend')
    const task = resume === undefined ? { id, type, input } : { id, type, input, resume }
    const output = await backend.run(task, { signal: controller.signal, onProgress })
    try {
      post({ kind: 'result', id, output, models: backend.models?.() ?? [] })
    } catch (err) {
      // postMessage throws DataCloneError for outputs holding functions, symbols and the like.
      post({
        kind: 'error',
        id,
        error: serializeError(new Error(`output is not serialisable: ${String(err)}`)),
      })
    }
  } catch (err) {
    post({ kind: 'error', id, error: serializeError(err) })
  } finally {
    controllers.delete(id)
  }
}

port.on('message', (message: ToWorker) => {
  if (memory.receive(message)) return
  switch (message.kind) {
    case 'run':
      void run(message)
      break
    case 'cancel': {
      const { code, name, message: text } = message.reason
      controllers.get(message.id)?.abort(new RemoteTaskError(code ?? 'ERR_TASK_CANCELLED', text, name))
      break
    }
    case 'unload':
      void (async () => {
        try {
          await backend?.unload()
        } catch {
          // The pool terminates this worker next; an unload failure has nothing left to clean.
        }
        post({ kind: 'unloaded' })
      })()
      break
    case 'configure':
      settings = message.settings
      try {
        backend?.configure?.(settings)
      } catch {
        // A backend that cannot take new settings keeps its old ones.
      }
      break
  }
})

try {
  backend = await build()
  backend.configure?.(settings)
  await backend.load({ memory: memory.account })
  post({ kind: 'ready', models: backend.models?.() ?? [] })
} catch (err) {
  post({ kind: 'load-error', error: serializeError(err) })
}
