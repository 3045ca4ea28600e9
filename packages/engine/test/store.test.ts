import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { mockBackend } from '../src/backends/mock.js'
import { taskEngine } from '../src/engine/engine.js'
import {
  InvalidConfigError,
  StoreClosedError,
  StoreCorruptError,
  StoreIncompatibleError,
} from '../src/errors.js'
import { type ResultStore, resultStore } from '../src/store/store.js'
import type { TaskRecord } from '../src/types.js'
import { until } from './engine-helpers.js'

const dirs: string[] = []
const stores: ResultStore[] = []
afterEach(() => {
  for (const store of stores.splice(0)) store.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'p2p-ai-store-'))
  dirs.push(dir)
  return dir
}

function open(init: Parameters<typeof resultStore>[0]): ResultStore {
  const store = resultStore(init)
  stores.push(store)
  return store
}

function record(id: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    type: 'mock',
    status: 'COMPLETED',
    priority: 0,
    backend: 'mock',
    queuedAt: 1000,
    startedAt: 1001,
    finishedAt: 1002,
    progress: { fraction: 1 },
    output: { text: id, nested: [1, 2, { deep: true }] },
    ...overrides,
  }
}

/**
 * Runs a fixture that prints one id per acknowledged write, kills it with SIGKILL after `count`
 * acknowledgements, and returns the acknowledged ids.
 */
async function killAfter(fixture: string, directory: string, count: number): Promise<string[]> {
  const script = fileURLToPath(new URL(`./fixtures/engine/${fixture}`, import.meta.url))
  const child = spawn(process.execPath, [script, directory], { stdio: ['ignore', 'pipe', 'inherit'] })
  const acknowledged: string[] = []
  let buffered = ''
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (data: string) => {
      buffered += data
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      acknowledged.push(...lines)
      if (acknowledged.length >= count && !child.killed) {
        child.kill('SIGKILL')
        resolve()
      }
    })
    void exited.then(() => resolve())
  })
  await exited
  expect(child.signalCode).toBe('SIGKILL')
  return acknowledged
}

describe('resultStore', () => {
  it('stores and returns records exactly, including errors and meta', () => {
    const store = open({ inMemory: true, now: () => 2000 })
    const ok = record('ok', { meta: { requester: 'peer-a' } })
    const failed: TaskRecord = {
      id: 'failed',
      type: 'embed',
      status: 'FAILED',
      priority: 3,
      backend: 'onnx',
      queuedAt: 1500,
      finishedAt: 1600,
      error: { code: 'ERR_MODEL_NOT_FOUND', message: 'no such model' },
    }
    store.put(ok)
    store.put(failed)
    expect(store.get('ok')).toEqual(ok)
    expect(store.get('failed')).toEqual(failed)
    expect(store.get('missing')).toBeUndefined()
    expect(store.has('ok')).toBe(true)
    expect(store.count()).toBe(2)
    expect(store.path).toBe(':memory:')
  })

  it('reads statuses without outputs when asked to', () => {
    const store = open({ inMemory: true, now: () => 2000 })
    store.put(record('big', { output: { text: 'x'.repeat(100_000) } }))
    const { output, ...status } = record('big')
    expect(store.get('big', { output: false })).toEqual(status)
    expect(store.list({ output: false })).toEqual([status])
    expect(store.get('big')?.output).toEqual({ text: 'x'.repeat(100_000) })
  })

  it('replaces a record with the same id', () => {
    const store = open({ inMemory: true, now: () => 2000 })
    store.put(record('x', { output: 1 }))
    store.put(record('x', { output: 2 }))
    expect(store.get('x')?.output).toBe(2)
    expect(store.count()).toBe(1)
  })

  it('lists newest first with filters and paging', () => {
    const store = open({ inMemory: true, now: () => 0 })
    for (let i = 0; i < 5; i++)
      store.put(record(`t${i}`, { queuedAt: 100 + i, status: i % 2 ? 'FAILED' : 'COMPLETED' }))
    store.put(record('other', { queuedAt: 50, type: 'chunk' }))
    expect(store.list().map((r) => r.id)).toEqual(['t4', 't3', 't2', 't1', 't0', 'other'])
    expect(store.list({ status: 'FAILED' }).map((r) => r.id)).toEqual(['t3', 't1'])
    expect(store.list({ type: 'chunk' }).map((r) => r.id)).toEqual(['other'])
    expect(store.list({ limit: 2, offset: 2 }).map((r) => r.id)).toEqual(['t2', 't1'])
    expect(store.count({ status: 'COMPLETED' })).toBe(4)
    expect(store.delete('t4')).toBe(true)
    expect(store.delete('t4')).toBe(false)
  })

  it('hides records past their expiry and purges them', () => {
    let now = 10_000
    const store = open({ inMemory: true, ttlMs: 1000, purgeIntervalMs: 0, now: () => now })
    store.put(record('old', { finishedAt: 9_000 }))
    store.put(record('fresh', { finishedAt: 10_000 }))
    expect(store.get('old')).toBeUndefined()
    expect(store.has('old')).toBe(false)
    expect(store.list().map((r) => r.id)).toEqual(['fresh'])
    expect(store.purge()).toBe(1)
    now = 11_000
    expect(store.get('fresh')).toBeUndefined()
    expect(store.purge()).toBe(1)
    expect(store.purge()).toBe(0)
  })

  it('deletes the oldest records first for a disk limit, and says how much of its file holds records', () => {
    const store = open({ directory: tempDir(), now: () => 0 })
    for (let i = 0; i < 50; i++) store.put(record(`r${i}`, { queuedAt: i, output: 'x'.repeat(4000) }))
    const full = store.usage()
    expect(full.usedBytes).toBeGreaterThan(50 * 4000)
    expect(store.deleteOldest(30)).toBe(30)
    expect(
      store
        .list({ limit: 100 })
        .map((r) => r.id)
        .at(-1),
    ).toBe('r30')
    const after = store.usage()
    // The pages of deleted records are free for later ones: the file need not shrink.
    expect(after.freeBytes).toBeGreaterThan(25 * 4000)
    expect(store.deleteOldest(100)).toBe(20)
    expect(store.count()).toBe(0)
  })

  it('purges expired records in the background', async () => {
    let now = 0
    const directory = tempDir()
    const store = open({ directory, ttlMs: 10, purgeIntervalMs: 5, now: () => now })
    for (let i = 0; i < 2500; i++) store.put(record(`r${i}`, { finishedAt: 0 }))
    store.put(record('keep', { finishedAt: 1_000_000 }))
    now = 100
    // Reads hide expired rows anyway; a second connection sees that they are really gone.
    const raw = new Database(join(directory, 'results.db'), { readonly: true })
    try {
      const rows = () => (raw.prepare('SELECT COUNT(*) AS n FROM tasks').get() as { n: number }).n
      expect(rows()).toBe(2501)
      await until(() => rows() === 1)
    } finally {
      raw.close()
    }
    expect(store.list().map((r) => r.id)).toEqual(['keep'])
  })

  it('expires after 24 hours by default', () => {
    let now = 0
    const store = open({ inMemory: true, now: () => now })
    store.put(record('day', { finishedAt: 0 }))
    now = 24 * 60 * 60 * 1000 - 1
    expect(store.has('day')).toBe(true)
    now += 1
    expect(store.has('day')).toBe(false)
  })

  it('survives a restart: records written before close are there after reopening', () => {
    const directory = tempDir()
    const first = resultStore({ directory, now: () => 2000 })
    first.put(record('persisted'))
    first.close()
    expect(readdirSync(directory)).toContain('results.db')
    const second = open({ directory, now: () => 2000 })
    expect(second.get('persisted')).toEqual(record('persisted'))
    expect(second.path).toBe(join(directory, 'results.db'))
  })

  it('keeps its files readable by their owner only: directory 0700, database, WAL and shm 0600', async () => {
    const directory = join(tempDir(), 'store')
    const store = open({ directory })
    store.put(record('private'))
    await store.putAsync(record('from the writer thread'))
    const mode = (file: string) => statSync(join(directory, file)).mode & 0o777
    expect(statSync(directory).mode & 0o777).toBe(0o700)
    expect(readdirSync(directory).sort()).toEqual(['results.db', 'results.db-shm', 'results.db-wal'])
    for (const file of readdirSync(directory)) expect(mode(file), file).toBe(0o600)
  })

  it('tightens a database an older version left readable by others', () => {
    const directory = tempDir()
    resultStore({ directory }).close()
    for (const file of readdirSync(directory)) chmodSync(join(directory, file), 0o644)
    open({ directory }).put(record('after'))
    for (const file of readdirSync(directory)) {
      expect(statSync(join(directory, file)).mode & 0o777, file).toBe(0o600)
    }
  })

  it('uses the WAL journal, and synchronous FULL on request', () => {
    const directory = tempDir()
    open({ directory }).close()
    const db = new Database(join(directory, 'results.db'))
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    db.close()
    const full = open({ directory: tempDir(), synchronous: 'FULL', now: () => 2000 })
    full.put(record('durable'))
    expect(full.get('durable')?.id).toBe('durable')
    expect(() => resultStore({ inMemory: true, synchronous: 'OFF' as never })).toThrow(InvalidConfigError)
  })

  it('keeps every acknowledged write when the process is killed mid-burst (SIGKILL)', async () => {
    const directory = tempDir()
    const acknowledged = await killAfter('store-writer.mjs', directory, 2000)
    const store = open({ directory })
    expect(acknowledged.filter((id) => !store.has(id))).toEqual([])
    expect(store.count()).toBeGreaterThanOrEqual(acknowledged.length)
  })

  it('writes from another thread with putAsync, in batches, and finishes them on close', async () => {
    const directory = tempDir()
    const store = resultStore({ directory, now: () => 2000 })
    const writes = Array.from({ length: 200 }, (_, i) => store.putAsync(record(`async-${i}`)))
    await writes[0]
    store.close()
    await Promise.all(writes)
    const reopened = open({ directory, now: () => 2000 })
    expect(reopened.count()).toBe(200)
    expect(reopened.get('async-199')).toEqual(record('async-199'))
    await expect(reopened.putAsync(record('bad', { output: { n: 1n } }))).rejects.toBeInstanceOf(TypeError)
    await expect(reopened.putAsync(record('fn', { output: { f: () => 1 } }))).rejects.toBeInstanceOf(
      TypeError,
    )
    await reopened.putAsync(record('fine'))
    expect(reopened.has('fine')).toBe(true)
    reopened.close()
    await expect(reopened.putAsync(record('late'))).rejects.toBeInstanceOf(StoreClosedError)
  })

  it('writes a burst with putManyAsync in one hand-over: one promise per record, a bad record failing alone', async () => {
    const directory = tempDir()
    const store = resultStore({ directory, now: () => 2000 })
    const burst = [
      record('many-0'),
      record('many-bigint', { output: { n: 1n } }),
      record('many-1'),
      record('many-2'),
    ]
    const writes = store.putManyAsync(burst)
    expect(writes).toHaveLength(4)
    const settled = await Promise.allSettled(writes)
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError)
    // A function does not even clone: the burst goes record by record, and only that one fails.
    const unclonable = await Promise.allSettled(
      store.putManyAsync([record('many-3'), record('many-fn', { output: { f: () => 1 } })]),
    )
    expect(unclonable.map((s) => s.status)).toEqual(['fulfilled', 'rejected'])
    expect(store.get('many-2')).toEqual(record('many-2'))
    expect(store.has('many-3')).toBe(true)
    expect(store.has('many-bigint')).toBe(false)
    store.close()
    await expect(
      Promise.all(store.putManyAsync([record('late-0'), record('late-1')])),
    ).rejects.toBeInstanceOf(StoreClosedError)
  })

  it('refuses a garbage file with ERR_STORE_CORRUPT naming the file and the way out', () => {
    const directory = tempDir()
    const file = join(directory, 'results.db')
    writeFileSync(file, randomBytes(64 * 1024))
    const err = (() => {
      try {
        resultStore({ directory })
      } catch (e) {
        return e
      }
    })() as StoreCorruptError
    expect(err).toBeInstanceOf(StoreCorruptError)
    expect(err.code).toBe('ERR_STORE_CORRUPT')
    expect(err.path).toBe(file)
    expect(err.message).toContain(file)
    expect(err.message).toMatch(/move the file .* aside/)
  })

  it('moves a corrupt file aside and starts empty when asked to', () => {
    const directory = tempDir()
    writeFileSync(join(directory, 'results.db'), 'this is not a database, just text '.repeat(1000))
    const store = open({ directory, onCorrupt: 'move-aside', now: () => 1234 })
    expect(store.recoveredFrom).toBe(join(directory, 'results.db.corrupt-1234'))
    expect(existsSync(join(directory, 'results.db.corrupt-1234'))).toBe(true)
    store.put(record('fresh'))
    expect(store.get('fresh')?.id).toBe('fresh')
  })

  it("refuses another application's SQLite database without touching it", () => {
    const directory = tempDir()
    const foreign = new Database(join(directory, 'results.db'))
    foreign.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)')
    foreign.close()
    expect(() => resultStore({ directory })).toThrow(StoreIncompatibleError)
  })

  it('refuses a store written by a newer schema version', () => {
    const directory = tempDir()
    resultStore({ directory }).close()
    const db = new Database(join(directory, 'results.db'))
    db.pragma('user_version = 99')
    db.close()
    expect(() => resultStore({ directory })).toThrow(/schema version 99/)
  })

  it('validates its init and refuses use after close', () => {
    expect(() => resultStore({})).toThrow(InvalidConfigError)
    expect(() => resultStore({ inMemory: true, directory: '/tmp/x' })).toThrow(InvalidConfigError)
    expect(() => resultStore({ inMemory: true, ttlMs: 0 })).toThrow(/ttlMs/)
    expect(() => resultStore({ inMemory: true, purgeIntervalMs: -1 })).toThrow(/purgeIntervalMs/)
    const store = resultStore({ inMemory: true })
    store.close()
    store.close()
    expect(store.closed).toBe(true)
    expect(() => store.get('x')).toThrow(StoreClosedError)
    expect(() => store.put(record('x'))).toThrow(StoreClosedError)
  })

  it('throws a TypeError, not a store error, for an output that is not JSON', () => {
    const store = open({ inMemory: true })
    expect(() => store.put(record('big', { output: { n: 1n } }))).toThrow(TypeError)
  })
})

describe('taskEngine with a result store', () => {
  it('writes finished tasks to the store and answers from it after a restart', async () => {
    const directory = tempDir()
    const first = taskEngine({
      backends: [mockBackend({ worker: false })],
      store: resultStore({ directory }),
    })
    const done = await (await first.submit({ id: 'kept', type: 'mock', input: { text: 'durable' } })).result()
    const failed = await (await first.submit({ id: 'bad', type: 'mock', input: { fail: true } })).result()
    await first.stop()
    expect(first.store?.closed).toBe(true)

    const second = taskEngine({
      backends: [mockBackend({ worker: false })],
      store: resultStore({ directory }),
    })
    try {
      expect(second.get('kept')).toEqual(done)
      expect(second.get('kept', { output: false })?.output).toBeUndefined()
      expect(second.list({ output: false }).map((r) => r.output)).toEqual([undefined, undefined])
      expect(second.get('bad')).toEqual(failed)
      expect(second.list().map((r) => r.id)).toEqual(['bad', 'kept'])
      expect(second.list({ status: 'FAILED' }).map((r) => r.id)).toEqual(['bad'])
      // A retry of a finished task returns the stored result instead of running again.
      const retry = await second.submit({ id: 'kept', type: 'mock', input: { text: 'durable' } })
      expect(await retry.result()).toEqual(done)
      expect(retry.cancel()).toBe(false)
      expect(second.cancel('kept')).toBe(false)
    } finally {
      await second.stop()
    }
  })

  it('keeps every acknowledged result when the engine process is killed (SIGKILL)', async () => {
    const directory = tempDir()
    const acknowledged = await killAfter('engine-writer.mjs', directory, 1000)
    const store = open({ directory })
    expect(acknowledged.filter((id) => !store.has(id))).toEqual([])
  })

  it('never loses sight of a result while the writer thread stores it', async () => {
    const e = taskEngine({
      builtins: false,
      backends: [mockBackend({ worker: false })],
      store: resultStore({ directory: tempDir() }),
    })
    try {
      const handle = await e.submit({ id: 'w', type: 'mock', input: { text: 'x' } })
      let finished = false
      void handle.result().then(() => {
        finished = true
      })
      const seen = new Set<string | undefined>()
      while (!finished) {
        seen.add(e.get('w')?.status)
        await new Promise((resolve) => setImmediate(resolve))
      }
      expect(seen.has(undefined)).toBe(false)
      const done = await handle.result()
      expect(e.get('w')).toEqual(done)
      expect(e.store?.get('w')).toEqual(done)
      expect(e.list().map((r) => r.id)).toEqual(['w'])
    } finally {
      await e.stop()
    }
  })

  it('fails a task whose output cannot be stored instead of losing it silently', async () => {
    const e = taskEngine({
      builtins: false,
      store: resultStore({ directory: tempDir() }),
      backends: [
        {
          name: 'bigint',
          taskTypes: [{ name: 'bigint', input: mockBackend().taskTypes[0]!.input }],
          async load() {},
          async run() {
            return { n: 10n }
          },
          async unload() {},
        },
      ],
    })
    try {
      const record = await (await e.submit({ id: 'b', type: 'bigint', input: {} })).result()
      expect(record).toMatchObject({ status: 'FAILED', error: { code: 'ERR_BACKEND_FAILED' } })
      expect(record.error?.message).toMatch(/not JSON-serialisable/)
      expect(e.get('b')?.status).toBe('FAILED')
    } finally {
      await e.stop()
    }
  })

  it('keeps records in memory and reports degraded health when the store fails', async () => {
    const store = resultStore({ inMemory: true })
    const e = taskEngine({ builtins: false, backends: [mockBackend({ worker: false })], store })
    const errors: Error[] = []
    e.addEventListener('store:error', (event) => errors.push(event.detail))
    // Simulate a failing disk: the store throws on every write.
    const put = store.put.bind(store)
    store.put = () => {
      throw new StoreClosedError('disk on fire')
    }
    try {
      await e.run({ id: 'm', type: 'mock', input: {} })
      expect(errors.map((err) => err.message)).toEqual(['disk on fire'])
      expect(e.get('m')?.status).toBe('COMPLETED')
      expect(e.health()).toMatchObject({ status: 'degraded', detail: 'result store: disk on fire' })
      store.put = put
      await e.run({ id: 'n', type: 'mock', input: {} })
      expect(e.health().status).toBe('healthy')
    } finally {
      await e.stop()
    }
  })
})
