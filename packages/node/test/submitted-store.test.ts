import { join } from 'node:path'
import { mockBackend, mockOutput, resultStore } from '@p2p-ai/engine'
import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import type { NetworkTaskRecord } from '../src/exchange/index.js'
import { localInit, tempDir } from './helpers.js'

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
})
