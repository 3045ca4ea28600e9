import { join } from 'node:path'
import { mockBackend, resultStore } from '@p2p-ai/engine'
import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import { localInit, nextEvent, tempDir } from './helpers.js'

describe('graceful shutdown', () => {
  it('lets short tasks finish, cancels long ones at the deadline, closes the store, within the deadline', async () => {
    await using dir = await tempDir('p2p-ai-shutdown-')
    const node = await createNode({
      ...localInit(dir.path),
      backends: [mockBackend({ worker: false })],
      engineOptions: { workers: false, cancelGraceMs: 200 },
    })
    const short = await node.engine.submit({
      id: 'short-task',
      type: 'mock',
      input: { text: 'hi', latencyMs: 300 },
    })
    const long = await node.engine.submit({
      id: 'long-task',
      type: 'mock',
      input: { text: 'hi', latencyMs: 60_000 },
    })
    await new Promise((r) => setTimeout(r, 50))
    expect(long.status).toBe('RUNNING')

    const started = performance.now()
    const report = await node.stop({ deadlineMs: 2_500 })
    const elapsed = performance.now() - started
    expect(elapsed).toBeLessThan(2_500)
    expect(report).toMatchObject({
      withinDeadline: true,
      tasksFinished: 1,
      tasksCancelled: 1,
      storeClosed: true,
    })
    expect(node.engine.store?.closed).toBe(true)
    // New work is refused once shutting down.
    await expect(node.engine.submit({ type: 'mock', input: {} })).rejects.toMatchObject({
      code: 'ERR_ENGINE_STOPPED',
    })

    // The store on disk says what happened.
    const store = resultStore({ directory: join(dir.path, 'store') })
    expect(store.get(short.id)?.status).toBe('COMPLETED')
    expect(store.get(long.id)?.status).toBe('CANCELLED')
    store.close()
  })

  it('tells connected peers goodbye; they drop it from their table at once', async () => {
    await using dirA = await tempDir('p2p-ai-shutdown-a-')
    await using dirB = await tempDir('p2p-ai-shutdown-b-')
    const a = await createNode(localInit(dirA.path))
    const b = await createNode(localInit(dirB.path))
    const connected = nextEvent(b, 'peer:connect')
    await a.connect(b.getMultiaddrs()[0]!)
    await connected
    expect(b.peer(a.peerId)?.status).toBe('connected')

    const removed = nextEvent<{ peerId: string; reason: string }>(b, 'peer:remove')
    const failed: unknown[] = []
    b.addEventListener('peer:failed', (evt) => failed.push(evt.detail))
    const report = await a.stop()
    expect(report.peersNotified).toEqual([b.peerId])
    expect(await removed).toEqual({ peerId: a.peerId, reason: 'goodbye' })
    expect(b.peer(a.peerId)).toBeUndefined()
    expect(failed).toEqual([])
    await b.stop()
  })

  it("gives the node's own tasks running on peers the same drain, and counts the ones cut short", async () => {
    await using dirA = await tempDir('p2p-ai-shutdown-own-a-')
    await using dirB = await tempDir('p2p-ai-shutdown-own-b-')
    const provider = await createNode({ ...localInit(dirB.path), backends: [mockBackend({ worker: false })] })
    const requester = await createNode(localInit(dirA.path))
    try {
      await requester.connect(provider.getMultiaddrs()[0]!)
      const target = provider.peerId
      const short = requester.submit({ type: 'mock', input: { text: 'a', latencyMs: 400 } }, { target })
      const long = requester.submit({ type: 'mock', input: { text: 'b', latencyMs: 60_000 } }, { target })
      await new Promise((r) => setTimeout(r, 150))
      expect(short.status).not.toBe('PENDING')
      const report = await requester.stop({ deadlineMs: 2_500 })
      // The short one finished during the drain, on the peer; the long one was cut short.
      expect((await short.result()).status).toBe('COMPLETED')
      expect(await long.result()).toMatchObject({ status: 'FAILED', error: { code: 'ERR_EXCHANGE_STOPPED' } })
      expect(report).toMatchObject({ withinDeadline: true, tasksCancelled: 1 })
      // A submission during the stop is refused at once.
      expect(requester.submit({ type: 'mock', input: { text: 'c' } }).status).toBe('FAILED')
    } finally {
      await Promise.all([requester.stop(), provider.stop()])
    }
  })
})
