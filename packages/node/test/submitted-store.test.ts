import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { mockBackend, mockOutput, resultStore } from '@p2p-ai/engine'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import type { NetworkTaskRecord } from '../src/exchange/index.js'
import { TaskRegistry, type TrackedTask } from '../src/exchange/request/registry.js'
import { localInit, tempDir, waitUntil } from './helpers.js'

describe('tasks submitted to the network', () => {
  it('keep their final records across a restart of the requester', async () => {
    await using dirA = await tempDir('p2p-ai-submitted-a-')
    await using dirB = await tempDir('p2p-ai-submitted-b-')
    const b = await createNode({ ...localInit(dirB.path), backends: [mockBackend({ worker: false })] })
    try {
      const a = await createNode(localInit(dirA.path))
      let done: NetworkTaskRecord
      let failed: NetworkTaskRecord
      try {
        await a.connect(b.getMultiaddrs()[0] as string)
        done = await a.submit({ type: 'mock', input: { text: 'kept' } }, { target: b.peerId }).result()
        expect(done).toMatchObject({ status: 'COMPLETED', peer: b.peerId, output: mockOutput('kept') })
        failed = await a
          .submit({ type: 'mock', input: { fail: true } }, { target: b.peerId, maxAttempts: 1 })
          .result()
        expect(failed.status).toBe('FAILED')
        expect(failed.error?.code).toMatch(/^ERR_/)
      } finally {
        await a.stop()
      }
      // The engine's own list shows what ran here, not what was sent away.
      expect(a.engine.store?.closed).toBe(true)

      const again = await createNode(localInit(dirA.path))
      try {
        expect(again.peerId).toBe(a.peerId)
        expect(again.tasks.get(done.id)).toEqual(done)
        expect(again.tasks.get(failed.id)).toEqual(failed)
        expect(again.tasks.handle(done.id)).toBeUndefined()
        expect(again.tasks.list()).toEqual([failed, done])
        expect(again.tasks.list({ status: 'COMPLETED' })).toEqual([done])
        expect(again.tasks.list({ peer: b.peerId, limit: 1 })).toEqual([failed])
        expect(again.tasks.list({ status: 'RUNNING' })).toEqual([])
        expect(again.engine.get(done.id)).toBeUndefined()
      } finally {
        await again.stop()
      }
    } finally {
      await b.stop()
    }
  })

  it('run again when an id known only from the store is resubmitted, and ignore rows that do not parse', async () => {
    await using dirA = await tempDir('p2p-ai-submitted-rerun-')
    const init = { ...localInit(dirA.path), backends: [mockBackend({ worker: false })] }
    const a = await createNode(init)
    const id = 'rerun-task-0001'
    let first: NetworkTaskRecord
    try {
      first = await a.submit({ id, type: 'mock', input: { text: 'one' } }, { target: 'local' }).result()
      expect(first).toMatchObject({ status: 'COMPLETED', peer: a.peerId })
    } finally {
      await a.stop()
    }
    const store = resultStore({ directory: join(dirA.path, 'store', 'submitted') })
    store.put({
      id: 'broken-row-0001',
      type: 'mock',
      status: 'COMPLETED',
      priority: 5,
      backend: 'network',
      queuedAt: Date.now(),
      meta: { network: '{not json' },
    })
    store.close()

    const again = await createNode(init)
    let second: NetworkTaskRecord
    try {
      expect(again.tasks.get('broken-row-0001')).toBeUndefined()
      expect(again.tasks.list().map((r) => r.id)).toEqual([id])
      expect(() => again.submit({ id, type: 'chunk', input: { text: 'x' } })).toThrow(
        expect.objectContaining({ code: 'ERR_TASK_ID_CONFLICT' }),
      )
      // A new run (the engine answers the id from its own store: runs stay idempotent).
      second = await again.submit({ id, type: 'mock', input: { text: 'one' } }, { target: 'local' }).result()
      expect(second).toMatchObject({ status: 'COMPLETED', output: mockOutput('one') })
      expect(second.submittedAt).toBeGreaterThanOrEqual(first.finishedAt as number)
      expect(again.tasks.list()).toEqual([second])
    } finally {
      await again.stop()
    }
    const third = await createNode(init)
    try {
      expect(third.tasks.get(id)).toEqual(second)
    } finally {
      await third.stop()
    }
  })

  it('keep the newest finished tasks in memory, as many as the history holds, without a store', async () => {
    const registry = new TaskRegistry(3)
    const finished = (id: string, n: number): TrackedTask => {
      const record: NetworkTaskRecord = {
        id,
        type: 'mock',
        status: 'COMPLETED',
        priority: 5,
        timeoutMs: 30_000,
        target: 'local',
        submittedAt: n,
        finishedAt: n,
        output: { n },
        attempts: [],
      }
      return {
        ...record,
        isFinished: true,
        peer: undefined,
        record: () => record,
        result: () => Promise.resolve(record),
        halt: () => {},
      } as unknown as TrackedTask
    }
    const ids = ['task-00001', 'task-00002', 'task-00003', 'task-00004', 'task-00005']
    for (const [n, id] of ids.entries()) registry.add(finished(id, n))
    await new Promise((resolve) => setImmediate(resolve))
    expect(ids.map((id) => registry.handle(id) !== undefined)).toEqual([false, false, true, true, true])
    expect(registry.list().map((r) => r.id)).toEqual(['task-00005', 'task-00004', 'task-00003'])
    // The same id again (a resubmission once the first run is final): the newest run, in the
    // place of the first, so the other two stay.
    const again = finished('task-00004', 9)
    registry.add(again)
    await new Promise((resolve) => setImmediate(resolve))
    expect(registry.handle('task-00004')).toBe(again)
    expect(registry.list().map((r) => r.id)).toEqual(['task-00004', 'task-00005', 'task-00003'])
    registry.add(finished('task-00006', 10))
    await new Promise((resolve) => setImmediate(resolve))
    expect(registry.list().map((r) => r.id)).toEqual(['task-00006', 'task-00004', 'task-00005'])
  })

  it('reads the store only for ids the caller chose, and hands finished records over in bursts', async () => {
    await using dir = await tempDir('p2p-ai-submitted-registry-')
    const store = resultStore({ directory: dir.path })
    let reads = 0
    let puts = 0
    const get = store.get.bind(store)
    store.get = (id, options) => {
      reads++
      return get(id, options)
    }
    let bursts = 0
    const putManyAsync = store.putManyAsync.bind(store)
    store.putManyAsync = (records) => {
      bursts++
      puts += records.length
      return putManyAsync(records)
    }
    try {
      const registry = new TaskRegistry(10, { store, log: pino({ level: 'silent' }) })
      // A generated id is fresh: no store read per submission.
      expect(registry.existing('generated-0001', 'mock', false)).toBeUndefined()
      expect(reads).toBe(0)
      expect(registry.existing('chosen-id-0001', 'mock', true)).toBeUndefined()
      expect(reads).toBe(1)
      const now = Date.now()
      for (let i = 0; i < 5; i++) {
        const record: NetworkTaskRecord = {
          id: `burst-task-${i}`,
          type: 'mock',
          status: 'COMPLETED',
          priority: 5,
          timeoutMs: 30_000,
          target: 'local',
          submittedAt: now,
          finishedAt: now,
          output: { i },
          attempts: [],
        }
        const task = {
          ...record,
          isFinished: true,
          peer: undefined,
          record: () => record,
          result: () => Promise.resolve(record),
          halt: () => {},
        } as unknown as TrackedTask
        registry.add(task)
      }
      // The registry learns that each is final as its result settles...
      await new Promise((resolve) => setImmediate(resolve))
      // ...then the finished records wait a moment and go to the store together; stop (flush) writes the rest.
      expect(puts).toBe(0)
      await registry.flush()
      expect(puts).toBe(5)
      // ...in one hand-over to the store's writer thread.
      expect(bursts).toBe(1)
      expect(store.get('burst-task-3')).toMatchObject({ status: 'COMPLETED', output: { i: 3 } })
    } finally {
      store.close()
    }
  })

  it('are on disk when durable() says so: the acceptance at once when asked, the final record replacing it, one write for a task that ends before its acceptance went', async () => {
    await using dir = await tempDir('p2p-ai-submitted-durable-')
    const store = resultStore({ directory: dir.path })
    const written: Array<[string, string]> = []
    const putManyAsync = store.putManyAsync.bind(store)
    store.putManyAsync = (records) => {
      for (const record of records) written.push([record.id, record.status])
      return putManyAsync(records)
    }
    const registry = new TaskRegistry(10, { store, log: pino({ level: 'silent' }) })
    const now = Date.now()
    const task = (id: string): TrackedTask & { end(): void } => {
      let finished = false
      let resolve!: (r: NetworkTaskRecord) => void
      const done = new Promise<NetworkTaskRecord>((r) => {
        resolve = r
      })
      const record = (): NetworkTaskRecord => ({
        id,
        type: 'mock',
        status: finished ? 'COMPLETED' : 'PENDING',
        priority: 5,
        timeoutMs: 30_000,
        target: 'auto',
        submittedAt: now,
        attempts: [],
        ...(finished ? { finishedAt: now, output: { id } } : {}),
      })
      const spec = { id, type: 'mock', input: { text: id }, maxAttempts: 4, waitForPeerMs: 0 }
      return {
        id,
        type: 'mock',
        spec,
        peer: undefined,
        get isFinished() {
          return finished
        },
        get status() {
          return record().status
        },
        record,
        result: () => done,
        halt: () => {},
        end() {
          finished = true
          resolve(record())
        },
      } as unknown as TrackedTask & { end(): void }
    }
    try {
      const slow = task('slow-task-001')
      registry.add(slow)
      // An acceptance nobody asked about waits longer than a burst: most tasks end before it goes.
      await new Promise((resolve) => setTimeout(resolve, 60))
      expect(written).toEqual([])
      // Asked for: written now, not after the burst delay.
      expect(await registry.durable(slow.id)).toBe(true)
      expect(written).toEqual([['slow-task-001', 'QUEUED']])
      expect(store.get(slow.id)?.status).toBe('QUEUED')
      slow.end()
      expect(await registry.durable(slow.id)).toBe(true)
      expect(store.get(slow.id)).toMatchObject({ status: 'COMPLETED', output: { id: slow.id } })

      const quick = task('quick-task-01')
      registry.add(quick)
      quick.end()
      expect(await registry.durable(quick.id)).toBe(true)
      // Ended before its acceptance was written: only the final record went.
      expect(written.filter(([id]) => id === quick.id)).toEqual([['quick-task-01', 'COMPLETED']])
      expect(await new TaskRegistry(10).durable(quick.id)).toBe(false)

      // Nobody asks: the acceptance of a task that runs on goes after its delay all the same.
      const unasked = task('unasked-task-1')
      registry.add(unasked)
      await waitUntil(() => written.some(([id]) => id === unasked.id), 5_000, 'the acceptance written')
      await registry.flush()
      expect(store.get(unasked.id)?.status).toBe('QUEUED')
    } finally {
      store.close()
    }
  })

  it('stay in memory only with engine.storeSubmittedTasks off', async () => {
    await using dirA = await tempDir('p2p-ai-submitted-off-a-')
    await using dirB = await tempDir('p2p-ai-submitted-off-b-')
    const b = await createNode({ ...localInit(dirB.path), backends: [mockBackend({ worker: false })] })
    const init = localInit(dirA.path, { engine: { storeSubmittedTasks: false } })
    try {
      const a = await createNode(init)
      let done: NetworkTaskRecord
      try {
        await a.connect(b.getMultiaddrs()[0] as string)
        done = await a.submit({ type: 'mock', input: { text: 'fleeting' } }, { target: b.peerId }).result()
        expect(done.status).toBe('COMPLETED')
        expect(a.tasks.get(done.id)).toEqual(done)
      } finally {
        await a.stop()
      }
      expect(existsSync(join(dirA.path, 'store', 'submitted'))).toBe(false)
      const again = await createNode(init)
      try {
        expect(again.tasks.get(done.id)).toBeUndefined()
        expect(again.tasks.list()).toEqual([])
      } finally {
        await again.stop()
      }
    } finally {
      await b.stop()
    }
  })
})
