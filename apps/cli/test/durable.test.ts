/**
 * What the control API acknowledges is on disk when it says so (issue 11, items 3 and 4): a task id
 * it returned, and a result it reports final, are in the node's store of submitted tasks by the
 * time the answer leaves, so a crash of the node a moment later loses neither. Read back through a
 * second connection to the database file, as the next start of the node would.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mockBackend, mockOutput, resultStore } from '@p2p-ai/engine'
import { createNode, type NodeInit } from '@p2p-ai/node'
import { afterEach, describe, expect, it } from 'vitest'
import { ControlClient } from '../src/control/client.js'
import { startControlServer } from '../src/control/server.js'
import type { TaskJson } from '../src/control/types.js'
import { nodeTarget } from '../src/daemon/node-target.js'

const TOKEN = 'd'.repeat(64)
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

async function control(engine: NodeInit['engine'] = {}): Promise<{ client: ControlClient; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-ai-cli-durable-'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  const node = await createNode({
    dataDir: dir,
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    engine,
    engineOptions: { workers: false },
    backends: [mockBackend({ worker: false })],
  })
  cleanup.push(() => node.stop())
  const target = nodeTarget({ node, dataDir: dir, cliVersion: '0.0.0-test', shutdown: () => {} })
  const server = await startControlServer({ target, token: TOKEN })
  cleanup.push(
    async () => target.dispose(),
    () => server.close(),
  )
  return { client: new ControlClient({ url: server.url, token: TOKEN }), dir }
}

/** The stored row of a submitted task, read as a restarted node would read it. */
function onDisk(dir: string, id: string): { status: string; output?: unknown } | undefined {
  const store = resultStore({ directory: join(dir, 'store', 'submitted'), purgeIntervalMs: 0 })
  try {
    return store.get(id)
  } finally {
    store.close()
  }
}

describe('the control API and crashes', () => {
  it('answers a submission only once the task is on disk, and reports a result final only once it is', async () => {
    const { client, dir } = await control()
    for (let i = 0; i < 20; i++) {
      const text = `durable ${i}`
      const submitted = await client.submit({
        type: 'mock',
        input: { text, latencyMs: 30 },
        target: 'self',
      })
      expect(submitted.durable).toBeUndefined()
      // Accepted, not final: stored with what it takes to run it again after a crash.
      expect(onDisk(dir, submitted.id)?.status).toBe('QUEUED')
      const done = await client.wait(submitted.id)
      expect(done).toMatchObject({ status: 'COMPLETED', output: mockOutput(text) })
      expect(done.durable).toBeUndefined()
      expect(onDisk(dir, submitted.id)).toMatchObject({ status: 'COMPLETED', output: mockOutput(text) })
    }
  })

  it('lists finished tasks only once they are on disk', async () => {
    const { client, dir } = await control()
    const ids = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const t = await client.submit({ type: 'mock', input: { text: `listed ${i}` }, target: 'self' })
        return t.id
      }),
    )
    let listed: TaskJson[] = []
    // Every list, however early, may show only tasks already on disk; all eight are there in time.
    for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
      listed = [...(await client.list({ status: 'COMPLETED', limit: 20 })).tasks]
      for (const t of listed) expect(onDisk(dir, t.id)?.status).toBe('COMPLETED')
      if (listed.length === ids.length) break
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(listed.map((t) => t.id).sort()).toEqual([...ids].sort())
    for (const t of listed) expect(onDisk(dir, t.id)?.status).toBe('COMPLETED')
  })

  it('says durable: false when the node keeps no store of its tasks', async () => {
    const { client } = await control({ storeSubmittedTasks: false })
    const submitted = await client.submit({ type: 'mock', input: { text: 'fleeting' }, target: 'self' })
    expect(submitted.durable).toBe(false)
    const done = await client.wait(submitted.id)
    expect(done).toMatchObject({ status: 'COMPLETED', durable: false })
    expect(await client.task(submitted.id)).toMatchObject({ durable: false })
  })
})
