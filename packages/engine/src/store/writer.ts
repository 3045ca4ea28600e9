import { Worker } from 'node:worker_threads'
import { StoreClosedError, StoreError } from '../errors.js'
import type { TaskRecord } from '../types.js'
import { runnableModuleUrl } from '../worker/module-url.js'
import { mapSqliteCode } from './sqlite-error.js'
import type { FromWriter, ToWriter, WriterBoot } from './writer-protocol.js'

interface Pending {
  resolve(): void
  reject(err: unknown): void
}

/**
 * The main-thread side of the store's writer thread. The thread starts on the first write, is
 * ref'd only while writes are in flight, and is started again if it dies.
 */
export class StoreWriter {
  readonly #boot: WriterBoot
  readonly #pending = new Map<number, Pending>()
  #worker: Worker | undefined
  #seq = 0
  #closed = false

  constructor(boot: WriterBoot) {
    this.#boot = boot
  }

  /** Resolves once the record is committed; rejects with a `TypeError` if its output is not JSON. */
  write(record: TaskRecord, expiresAt: number): Promise<void> {
    if (this.#closed)
      return Promise.reject(new StoreClosedError(`the result store ${this.#boot.path} is closed`))
    const worker = this.#start()
    const seq = ++this.#seq
    return new Promise<void>((resolve, reject) => {
      try {
        worker.postMessage({ kind: 'put', seq, record, expiresAt } satisfies ToWriter)
      } catch (err) {
        // DataCloneError: a function or symbol in the output. It is not JSON either.
        reject(
          new TypeError(`the output cannot be stored: ${err instanceof Error ? err.message : String(err)}`),
        )
        return
      }
      if (this.#pending.size === 0) worker.ref()
      this.#pending.set(seq, { resolve, reject })
    })
  }

  /**
   * `write` for several records in one message: one promise per record, in order. Should one of
   * them not clone (a function in its output), each goes on its own, so only that one fails.
   */
  writeMany(records: readonly TaskRecord[], expiresAt: readonly number[]): Promise<void>[] {
    if (this.#closed) return records.map((record, i) => this.write(record, expiresAt[i] as number))
    const worker = this.#start()
    const seq = this.#seq + 1
    try {
      worker.postMessage({ kind: 'put-many', seq, records, expiresAt } satisfies ToWriter)
    } catch {
      return records.map((record, i) => this.write(record, expiresAt[i] as number))
    }
    this.#seq += records.length
    if (this.#pending.size === 0) worker.ref()
    return records.map(
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          this.#pending.set(seq + i, { resolve, reject })
        }),
    )
  }

  /** Writes in flight. */
  get pending(): number {
    return this.#pending.size
  }

  /** Ends the thread after it has committed what it holds. Later writes reject. */
  async close(): Promise<void> {
    this.#closed = true
    const worker = this.#worker
    if (worker === undefined) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.postMessage({ kind: 'close' } satisfies ToWriter)
    await exited
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const url = new URL(
      import.meta.url.endsWith('.ts') ? './writer-entry.ts' : './writer-entry.js',
      import.meta.url,
    )
    const worker = new Worker(new URL(runnableModuleUrl(url.href)), { workerData: this.#boot })
    let lastError: Error | undefined
    worker.on('message', (message: FromWriter) => this.#onMessage(message))
    worker.on('error', (err) => {
      lastError = err
    })
    worker.on('exit', (code) => {
      this.#worker = undefined
      const reason = new StoreError(
        `the result store writer for ${this.#boot.path} exited (code ${code})${lastError ? `: ${lastError.message}` : ''}`,
        { cause: lastError },
      )
      for (const pending of this.#pending.values()) pending.reject(reason)
      this.#pending.clear()
    })
    worker.unref()
    this.#worker = worker
    return worker
  }

  #onMessage(message: FromWriter): void {
    switch (message.kind) {
      case 'done':
        for (const seq of message.seqs) this.#settle(seq)?.resolve()
        break
      case 'not-json':
        this.#settle(message.seq)?.reject(new TypeError(message.message))
        break
      case 'failed': {
        const err = mapSqliteCode(message.code, message.message, this.#boot.path)
        for (const seq of message.seqs) this.#settle(seq)?.reject(err)
        break
      }
      case 'closed':
        break
    }
  }

  #settle(seq: number): Pending | undefined {
    const pending = this.#pending.get(seq)
    this.#pending.delete(seq)
    if (this.#pending.size === 0) this.#worker?.unref()
    return pending
  }
}
