import { Worker } from 'node:worker_threads'
import type { BackendRunOptions, BackendSettings, BackendTask, ModelInfo, WorkerHosting } from '../backend.js'
import { toError } from '../engine/task-error.js'
import { EngineStoppedError, WorkerCrashedError } from '../errors.js'
import type { HolderAccount, MemoryBudget, MemoryReservation } from '../memory/budget.js'
import { runnableModuleUrl, toModuleSpecifier, workerEntryUrl } from './module-url.js'
import { NATIVE_GUARD_KEY, NativeGuard, trackNativeGuard } from './native.js'
import type { FromWorker, SerializedError, ToWorker, WorkerBoot } from './protocol.js'
import { serializeError } from './protocol.js'

export interface WorkerPoolInit {
  /** Backend name, for messages. */
  readonly name: string
  readonly hosting: WorkerHosting
  /** Most workers, and so most tasks at once. */
  readonly size: number
  /**
   * How long a cancelled task's worker may take to stop before it is terminated (once it is
   * outside native calls).
   */
  readonly graceMs: number
  readonly progressIntervalMs: number
  /** The engine's memory budget: each worker's backend reserves through it. */
  readonly memory: MemoryBudget
  /** The backend's settings now; `configure()` changes them. */
  readonly settings: BackendSettings
}

interface Job {
  readonly id: string
  resolve(output: unknown): void
  reject(err: unknown): void
  onProgress?: BackendRunOptions['onProgress']
}

/** One worker thread hosting one backend instance, running one task at a time. */
class PoolWorker {
  readonly worker: Worker
  /** Keeps the thread from being terminated inside a native call (see `nativeCall`). */
  readonly guard = new NativeGuard()
  /** Settles once the backend is built and loaded in the worker. */
  readonly ready: Promise<void>
  /** The pool's generation when this worker was built (see `WorkerPool.renew`). */
  readonly generation: number
  job: Job | undefined
  exited = false
  /** Set when the pool terminates this worker on purpose; its job then fails with `doomReason`. */
  doomed = false
  doomReason: unknown
  #unloaded: (() => void) | undefined
  /** Settles when the thread has exited. */
  readonly #gone: Promise<void>
  /** This thread's share of the memory budget, and its reservations by request number. */
  readonly #memory: HolderAccount
  readonly #reserving = new Map<number, AbortController>()
  readonly #granted = new Map<number, MemoryReservation>()
  readonly #relieving = new Map<number, (bytes: number) => void>()
  #relieveSeq = 0

  constructor(
    boot: WorkerBoot,
    hosting: WorkerHosting,
    generation: number,
    memory: HolderAccount,
    readonly onExit: (w: PoolWorker, code: number, error: Error | undefined) => void,
    readonly onModels: (models: readonly ModelInfo[]) => void,
    readonly onLoaded: (error: SerializedError | undefined) => void,
  ) {
    this.generation = generation
    this.#memory = memory
    memory.onPressure(
      (bytes) =>
        new Promise<number>((resolve) => {
          if (this.exited) return resolve(0)
          const req = this.#relieveSeq++
          this.#relieving.set(req, resolve)
          this.post({ kind: 'memory-pressure', req, bytes })
        }),
    )
    this.worker = new Worker(workerEntryUrl(), {
      workerData: { ...boot, [NATIVE_GUARD_KEY]: this.guard.buffer },
      ...(hosting.resourceLimits === undefined ? {} : { resourceLimits: { ...hosting.resourceLimits } }),
    })
    // threadId turns -1 once the thread has stopped.
    const untrack = trackNativeGuard(this.guard, () => this.worker.threadId !== -1)
    this.#gone = new Promise((resolve) => this.worker.once('exit', () => resolve()))
    let lastError: Error | undefined
    this.ready = new Promise<void>((resolve, reject) => {
      this.worker.on('message', (message: FromWorker) => {
        switch (message.kind) {
          case 'ready':
            this.onModels(message.models)
            this.onLoaded(undefined)
            resolve()
            break
          case 'load-error':
            this.onLoaded(message.error)
            reject(toError(message.error))
            this.doom(undefined)
            break
          case 'progress':
            if (this.job?.id === message.id) this.job.onProgress?.(message.progress)
            break
          case 'result':
            this.onModels(message.models)
            if (this.job?.id === message.id) this.job.resolve(message.output)
            break
          case 'error':
            if (this.job?.id === message.id) this.job.reject(toError(message.error))
            break
          case 'unloaded':
            this.#unloaded?.()
            break
          case 'memory-reserve':
            this.#reserve(message.req, message.bytes, message.what)
            break
          case 'memory-cancel':
            this.#reserving.get(message.req)?.abort()
            break
          case 'memory-release':
            this.#granted.get(message.req)?.release()
            this.#granted.delete(message.req)
            break
          case 'memory-relieved':
            this.#relieving.get(message.req)?.(message.bytes)
            this.#relieving.delete(message.req)
            break
        }
      })
      this.worker.on('error', (err) => {
        lastError = err
      })
      this.worker.on('messageerror', (err) => {
        lastError = err
        void this.#terminate()
      })
      this.worker.on('exit', (code) => {
        this.exited = true
        untrack()
        // Whatever the thread had loaded is gone with it.
        for (const controller of this.#reserving.values()) controller.abort()
        for (const resolve of this.#relieving.values()) resolve(0)
        this.#relieving.clear()
        this.#memory.close()
        reject(lastError ?? new WorkerCrashedError(`the worker exited with code ${code} while loading`))
        this.onExit(this, code, lastError)
      })
    })
    // A load failure is reported through `run`; do not let it count as unhandled meanwhile.
    this.ready.catch(() => {})
  }

  post(message: ToWorker): void {
    this.worker.postMessage(message)
  }

  #reserve(req: number, bytes: number, what: string | undefined): void {
    const controller = new AbortController()
    this.#reserving.set(req, controller)
    this.#memory
      .reserve(bytes, { signal: controller.signal, ...(what === undefined ? {} : { what }) })
      .then(
        (reservation) => {
          if (this.exited || controller.signal.aborted) {
            reservation.release()
            return
          }
          this.#granted.set(req, reservation)
          this.post({ kind: 'memory-granted', req })
        },
        (err: unknown) => {
          if (!this.exited && !controller.signal.aborted) {
            this.post({ kind: 'memory-refused', req, error: serializeError(err) })
          }
        },
      )
      .finally(() => this.#reserving.delete(req))
  }

  /** Terminates the thread; its running job, if any, fails with `reason`. */
  doom(reason: unknown): void {
    if (this.doomed) return
    this.doomed = true
    this.doomReason = reason
    void this.#terminate()
  }

  /** Terminates the thread as soon as it is outside native calls, never inside one. */
  async #terminate(): Promise<void> {
    // A thread that exits by itself meanwhile (it may have died inside a call) is gone either way.
    await Promise.race([this.guard.close(), this.#gone])
    await this.worker.terminate()
  }

  /** Asks the backend to unload, then ends the thread; terminates it if it does not answer in time. */
  async close(graceMs: number): Promise<void> {
    if (this.exited) return
    const answered = new Promise<void>((resolve) => {
      this.#unloaded = resolve
    })
    this.post({ kind: 'unload' })
    let timer: NodeJS.Timeout | undefined
    await Promise.race([answered, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))])
    clearTimeout(timer)
    await this.#terminate()
  }
}

/**
 * A pool of worker threads hosting one backend. Workers start on demand (the first tasks pay the
 * start-up and the backend's `load`), stay for later tasks, and are replaced after a crash or after
 * being terminated because a cancelled task did not stop within the grace period. Idle workers are
 * unref'd, so an idle pool does not keep the process alive.
 */
export class WorkerPool {
  readonly #init: WorkerPoolInit
  readonly #module: string
  /** Bumped by `renew`: workers of an older generation are replaced. */
  #generation = 0
  readonly #workers = new Set<PoolWorker>()
  readonly #idle: PoolWorker[] = []
  readonly #waiters: Array<(w: PoolWorker) => void> = []
  #models: readonly ModelInfo[] | undefined
  #closed = false
  #settings: BackendSettings
  #spawned = 0
  /** Workers that exited while running a task. */
  crashes = 0
  /** Why the backend last failed to load in a worker, until one loads it successfully. */
  loadError: SerializedError | undefined

  constructor(init: WorkerPoolInit) {
    this.#init = init
    this.#module = runnableModuleUrl(toModuleSpecifier(init.hosting.module))
    this.#settings = init.settings
  }

  /** What a new worker is built from: the hosting's `init` as it is now. */
  #boot(): WorkerBoot {
    return {
      module: this.#module,
      export: this.#init.hosting.export,
      init: this.#init.hosting.init,
      progressIntervalMs: this.#init.progressIntervalMs,
      settings: this.#settings,
    }
  }

  /**
   * Replaces every worker with one built from the hosting's current `init`: idle workers end now,
   * busy ones after their task. Models are unknown until a new worker reports them.
   */
  renew(): void {
    this.#generation++
    this.#models = undefined
    for (const w of [...this.#idle]) this.#retire(w)
  }

  /** New settings for every worker, and for those started later. */
  configure(settings: BackendSettings): void {
    this.#settings = settings
    for (const w of this.#workers) if (!w.exited) w.post({ kind: 'configure', settings })
  }

  /** Worker threads alive now. */
  get threads(): number {
    return this.#workers.size
  }

  /** Models as last reported by a worker, if one has loaded. */
  models(): readonly ModelInfo[] | undefined {
    return this.#models
  }

  /** Starts every worker and waits until each has loaded its backend. */
  async warm(): Promise<void> {
    const started: PoolWorker[] = []
    while (this.#workers.size < this.#init.size) started.push(this.#spawn())
    try {
      // Workers stay ref'd until loaded, so a process with nothing else to do waits for them.
      await Promise.all(started.map((w) => w.ready))
    } finally {
      for (const w of started) {
        if (w.exited || w.doomed) this.#forget(w)
        else this.#release(w)
      }
    }
  }

  /**
   * Runs one task in a worker. On abort the worker is asked to stop; if it has not settled the task
   * within the grace period it is terminated. Either way this settles only once the worker is idle
   * again or gone, so the caller's slot accounting matches the threads really busy.
   */
  async run(task: BackendTask, options: BackendRunOptions): Promise<unknown> {
    if (this.#closed) throw new EngineStoppedError('the worker pool is closed')
    const { signal } = options
    const w = await this.#acquire()
    w.worker.ref()
    let graceTimer: NodeJS.Timeout | undefined
    // Ask the backend to stop; if it has not within the grace period (a CPU loop that never looks
    // at its signal, a hung load), the thread is terminated and replaced.
    const onAbort = (): void => {
      if (w.job !== undefined && !w.exited) {
        w.post({ kind: 'cancel', id: task.id, reason: serializeError(signal.reason) })
      }
      graceTimer ??= setTimeout(() => w.doom(signal.reason), this.#init.graceMs)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await w.ready
      signal.throwIfAborted()
      return await new Promise<unknown>((resolve, reject) => {
        w.job = {
          id: task.id,
          resolve,
          reject,
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        }
        w.post({
          kind: 'run',
          id: task.id,
          type: task.type,
          input: task.input,
          ...(task.resume === undefined ? {} : { resume: task.resume }),
        })
      })
    } finally {
      signal.removeEventListener('abort', onAbort)
      clearTimeout(graceTimer)
      w.job = undefined
      if (w.exited || w.doomed) this.#forget(w)
      else this.#release(w)
    }
  }

  /** Unloads the backend in every worker and ends all threads. */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#workers].map((w) => w.close(this.#init.graceMs)))
    this.#workers.clear()
    this.#idle.length = 0
  }

  async #acquire(): Promise<PoolWorker> {
    const idle = this.#idle.pop()
    if (idle !== undefined) return idle
    if (this.#workers.size < this.#init.size) return this.#spawn()
    // The engine never runs more tasks than the pool has workers; this only guards the contract.
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  #release(w: PoolWorker): void {
    if (this.#closed) return
    if (w.generation !== this.#generation) {
      this.#retire(w)
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter !== undefined) {
      waiter(w)
      return
    }
    w.worker.unref()
    this.#idle.push(w)
  }

  /** Ends a worker of an older generation; a waiter gets a new one in its place. */
  #retire(w: PoolWorker): void {
    this.#forget(w)
    void w.close(this.#init.graceMs)
  }

  #spawn(): PoolWorker {
    const w = new PoolWorker(
      this.#boot(),
      this.#init.hosting,
      this.#generation,
      this.#init.memory.account(`${this.#init.name}#${this.#spawned++}`),
      (exited, code, error) => {
        if (exited.job !== undefined && exited.doomed) {
          exited.job.reject(exited.doomReason)
        } else if (exited.job !== undefined) {
          this.crashes++
          const detail = error === undefined ? `exited with code ${code}` : `crashed: ${error.message}`
          exited.job.reject(
            new WorkerCrashedError(
              `the ${this.#init.name} worker ${detail} while running task ${exited.job.id}`,
            ),
          )
        }
        this.#forget(exited)
      },
      (models) => {
        // A worker of an older generation reports what it was built with, which may be stale.
        if (w.generation === this.#generation) this.#models = models
      },
      (error) => {
        this.loadError = error
      },
    )
    this.#workers.add(w)
    return w
  }

  #forget(w: PoolWorker): void {
    if (!this.#workers.delete(w)) return
    const i = this.#idle.indexOf(w)
    if (i >= 0) this.#idle.splice(i, 1)
    // A waiter gets a fresh worker in place of the one that died.
    const waiter = this.#waiters.shift()
    if (waiter !== undefined && !this.#closed) waiter(this.#spawn())
  }
}
