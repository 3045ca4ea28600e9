import { join } from 'node:path'
import { mockBackend, mockOutput, resultStore, type TaskRecord } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, type NodeInit } from '../src/create.js'
import type { NetworkTaskRecord } from '../src/exchange/index.js'
import type { P2PNode } from '../src/node.js'
import { Host, localInit, tempDir, waitUntil } from './helpers.js'

/** A requester in its own process, so it can be killed with SIGKILL like a crashed node. */
async function requester(dataDir: string, provider: P2PNode): Promise<Host> {
  const host = Host.local({ ...localInit(dataDir), mock: true } as NodeInit)
  await host.waitFor((e) => e.event === 'ready', 30_000, 'requester ready')
  host.send(`connect ${provider.getMultiaddrs()[0]}`)
  await host.waitFor((e) => e.event === 'connected', 10_000, 'requester connected')
  return host
}

async function accepted(host: Host, task: object, options: object): Promise<string> {
  const before = host.events.length
  host.send(`submit ${JSON.stringify({ task, options })}`)
  const e = await host.waitFor(
    (x) => x.event === 'accepted' && host.events.indexOf(x) >= before,
    10_000,
    'accepted',
  )
  expect(e.durable).toBe(true)
  return e.id as string
}

async function kill(host: Host): Promise<void> {
  host.proc.kill('SIGKILL')
  await host.exited
}

describe('tasks of a node that crashes', () => {
  let provider: P2PNode
  let providerDir: Awaited<ReturnType<typeof tempDir>>

  beforeAll(async () => {
    providerDir = await tempDir('p2p-ai-crash-provider-')
    provider = await createNode({
      ...localInit(providerDir.path),
      backends: [mockBackend({ worker: false })],
    })
  })

  afterAll(async () => {
    await provider?.stop()
    await providerDir?.[Symbol.asyncDispose]()
  })

  it('are resumed under their ids at the next start: an acknowledged id is never unknown, and each ends with its result', async () => {
    await using dir = await tempDir('p2p-ai-crash-resume-')
    const host = await requester(dir.path, provider)
    const starts: string[] = []
    const onStart = (e: CustomEvent<TaskRecord>): void => {
      starts.push(e.detail.id)
    }
    provider.engine.addEventListener('task:started', onStart)
    let a: P2PNode | undefined
    try {
      const remote = await accepted(
        host,
        { type: 'mock', input: { text: 'remote', latencyMs: 1500 } },
        { target: provider.peerId },
      )
      const local = await accepted(
        host,
        { type: 'mock', input: { text: 'local', latencyMs: 300 } },
        { target: 'local' },
      )
      await kill(host)

      a = await createNode({ ...localInit(dir.path), backends: [mockBackend({ worker: false })] })
      // Known at once, before any peer is back: resumed, not lost.
      for (const id of [remote, local]) {
        expect(a.tasks.get(id)).toMatchObject({ id, resumed: 1 })
        expect(a.tasks.get(id)?.status).not.toMatch(/COMPLETED|FAILED/)
      }
      await a.connect(provider.getMultiaddrs()[0] as string)
      const [r, l] = await Promise.all([remote, local].map((id) => a!.tasks.handle(id)!.result()))
      expect(r).toMatchObject({
        status: 'COMPLETED',
        output: mockOutput('remote'),
        peer: provider.peerId,
        resumed: 1,
      })
      expect(l).toMatchObject({ status: 'COMPLETED', output: mockOutput('local'), resumed: 1 })
      // The provider stopped the first run when the crashed requester's stream closed (nobody was
      // listening), and ran the resumed request anew rather than answering it with "cancelled".
      expect(starts.filter((id) => id.endsWith(`:${remote}`))).toHaveLength(2)
      expect(await a.tasks.durable(remote)).toBe(true)
    } finally {
      provider.engine.removeEventListener('task:started', onStart)
      await a?.stop()
      await kill(host)
    }
  })

  it('keep every result that was reported durable, however soon after it the process dies', async () => {
    await using dir = await tempDir('p2p-ai-crash-durable-')
    const host = await requester(dir.path, provider)
    const finals: NetworkTaskRecord[] = []
    try {
      for (let i = 0; i < 3; i++) {
        const id = await accepted(
          host,
          { type: 'mock', input: { text: `kept ${i}` } },
          { target: provider.peerId },
        )
        host.send(`wait ${id}`)
        const e = await host.waitFor(
          (x) => x.event === 'final' && (x.record as NetworkTaskRecord).id === id,
          10_000,
          'final',
        )
        expect(e.durable).toBe(true)
        finals.push(e.record as NetworkTaskRecord)
      }
      // At once, without a stop: nothing more gets written after this.
      await kill(host)
    } finally {
      await kill(host)
    }
    const a = await createNode(localInit(dir.path))
    try {
      for (const record of finals) {
        expect(record.status).toBe('COMPLETED')
        expect(a.tasks.get(record.id)).toEqual(record)
      }
      expect(a.tasks.pending).toBe(0)
    } finally {
      await a.stop()
    }
  })

  it(`are given up after being interrupted ${3} times (a task that crashes its node must not crash it forever), and a stored submission that does not parse fails with a reason`, async () => {
    await using dir = await tempDir('p2p-ai-crash-limit-')
    const store = resultStore({ directory: join(dir.path, 'store', 'submitted') })
    const row = (id: string, rest: unknown): TaskRecord => ({
      id,
      type: 'mock',
      status: 'QUEUED',
      priority: 5,
      backend: 'network',
      queuedAt: Date.now() - 1000,
      meta: { network: JSON.stringify(rest) },
    })
    const submission = {
      input: { text: 'again' },
      maxAttempts: 4,
      waitForPeerMs: 0,
      allowLocal: true,
      maxHops: 10,
      redundancy: 1,
    }
    store.put(
      row('crashes-every-time', { timeoutMs: 30_000, target: 'local', attempts: [], resumed: 3, submission }),
    )
    store.put(
      row('resumed-twice-task', { timeoutMs: 30_000, target: 'local', attempts: [], resumed: 2, submission }),
    )
    store.put(row('garbled-submission', { timeoutMs: 'soon' }))
    store.close()

    const a = await createNode({ ...localInit(dir.path), backends: [mockBackend({ worker: false })] })
    try {
      expect(a.tasks.get('crashes-every-time')).toMatchObject({
        status: 'FAILED',
        resumed: 3,
        error: { code: 'ERR_EXCHANGE_STOPPED', message: expect.stringContaining('4 times') },
      })
      expect(a.tasks.get('garbled-submission')).toMatchObject({
        status: 'FAILED',
        error: { code: 'ERR_EXCHANGE_STOPPED', message: expect.stringContaining('does not parse') },
      })
      const resumed = await a.tasks.handle('resumed-twice-task')!.result()
      expect(resumed).toMatchObject({ status: 'COMPLETED', output: mockOutput('again'), resumed: 3 })
    } finally {
      await a.stop()
    }
  })

  it('that are still running at a graceful stop end as ERR_EXCHANGE_STOPPED in the store, not unknown', async () => {
    await using dir = await tempDir('p2p-ai-crash-stop-')
    const init = localInit(dir.path, { shutdown: { deadlineMs: 1500 } })
    const a = await createNode(init)
    await a.connect(provider.getMultiaddrs()[0] as string)
    const handle = a.submit(
      { type: 'mock', input: { text: 'slow', latencyMs: 20_000 } },
      { target: provider.peerId },
    )
    await waitUntil(() => handle.status === 'RUNNING' || handle.status === 'QUEUED', 5_000, 'accepted')
    const report = await a.stop()
    expect(report.tasksCancelled).toBe(1)
    const again = await createNode(init)
    try {
      expect(again.tasks.get(handle.id)).toMatchObject({
        status: 'FAILED',
        error: { code: 'ERR_EXCHANGE_STOPPED' },
      })
      // Stopped gracefully: a final record, nothing to resume.
      expect(again.tasks.pending).toBe(0)
    } finally {
      await again.stop()
    }
  })
})
