/**
 * `task submit --redundancy k` through the control API of a real node (`nodeTarget` over the
 * node's own task exchange): the exchange's agreement rules decide, and its reputations remember
 * a provider that was outvoted. In-process nodes on 127.0.0.1, no mDNS.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mockBackend, mockOutput } from '@p2p-ai/engine'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { afterEach, describe, expect, it } from 'vitest'
import { ControlClient } from '../src/control/client.js'
import { startControlServer } from '../src/control/server.js'
import type { TaskJson } from '../src/control/types.js'
import { nodeTarget } from '../src/daemon/node-target.js'

const TOKEN = 'b'.repeat(64)
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

/** Any input goes: the liar only needs the task type. */
const anyInput = {
  '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) },
} as never

async function node(kind: 'requester' | 'honest' | 'liar'): Promise<P2PNode> {
  const dir = await mkdtemp(join(tmpdir(), `p2p-ai-cli-redundancy-${kind}-`))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  const n = await createNode({
    dataDir: dir,
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    engineOptions: { workers: false },
    backends: kind === 'honest' ? [mockBackend({ worker: false })] : [],
  })
  cleanup.push(() => n.stop())
  if (kind === 'liar') {
    // Right shape, wrong checksum: it verifies (it is signed) but disagrees with the honest ones.
    n.registerTask({
      name: 'mock',
      input: anyInput,
      run: (input: { text?: string }) => ({ ...mockOutput(input.text ?? ''), checksum: 'deadbeef' }),
    })
  }
  return n
}

/** The requester's control API, with every provider connected and announcing `mock`. */
async function controlOf(requester: P2PNode, providers: readonly P2PNode[]): Promise<ControlClient> {
  for (const p of providers) await requester.connect(p.getMultiaddrs()[0]!.toString())
  const deadline = Date.now() + 10_000
  while (
    !providers.every((p) =>
      requester.peers().some((x) => x.peerId === p.peerId && x.capabilities?.taskTypes.includes('mock')),
    )
  ) {
    if (Date.now() > deadline) throw new Error('capabilities did not arrive')
    await new Promise((r) => setTimeout(r, 25))
  }
  const target = nodeTarget({
    node: requester,
    dataDir: 'unused',
    cliVersion: '0.0.0-test',
    shutdown: () => {},
  })
  const server = await startControlServer({ target, token: TOKEN })
  cleanup.push(
    async () => target.dispose(),
    () => server.close(),
  )
  return new ControlClient({ url: server.url, token: TOKEN })
}

async function settled(client: ControlClient, task: TaskJson): Promise<TaskJson> {
  const deadline = Date.now() + 15_000
  let current = task
  while (current.status === 'PENDING' || current.status === 'QUEUED' || current.status === 'RUNNING') {
    if (Date.now() > deadline) throw new Error(`task ${task.id} did not finish`)
    await new Promise((r) => setTimeout(r, 50))
    current = await client.task(task.id)
  }
  return current
}

describe('task submit --redundancy through the control API', () => {
  it("keeps the majority's output, and the node's reputation remembers the outvoted liar", async () => {
    const [requester, h1, h2, liar] = await Promise.all([
      node('requester'),
      node('honest'),
      node('honest'),
      node('liar'),
    ])
    const client = await controlOf(requester, [h1, h2, liar])
    const submitted = await client.submit({
      type: 'mock',
      input: { text: 'count these words' },
      redundancy: 3,
    })
    const task = await settled(client, submitted)
    expect(task).toMatchObject({
      id: submitted.id,
      status: 'COMPLETED',
      backend: 'redundant',
      output: mockOutput('count these words'),
    })
    // The liar may answer after the vote; its answer is still checked against the accepted one.
    const deadline = Date.now() + 5_000
    while (requester.reputation(liar.peerId).disagreements < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25))
    }
    expect(requester.reputation(liar.peerId).disagreements).toBe(1)
    for (const honest of [h1, h2]) {
      expect(requester.reputation(honest.peerId)).toMatchObject({ agreements: 1, disagreements: 0 })
    }
    const again = await client.task(submitted.id)
    expect(again.meta).toMatchObject({ agreement: '2/3' })
    expect(String(again.meta?.peers).split(',').sort()).toEqual([h1.peerId, h2.peerId, liar.peerId].sort())
  })

  it('fails with ERR_NO_AGREEMENT when no majority agrees', async () => {
    const [requester, honest, liar] = await Promise.all([node('requester'), node('honest'), node('liar')])
    const client = await controlOf(requester, [honest, liar])
    const submitted = await client.submit({ type: 'mock', input: { text: 'who is right' }, redundancy: 2 })
    const task = await settled(client, submitted)
    expect(task).toMatchObject({
      status: 'FAILED',
      backend: 'redundant',
      error: { code: 'ERR_NO_AGREEMENT' },
      meta: { agreement: expect.stringMatching(/^[01]\/2$/) },
    })
    expect(task.output).toBeUndefined()
  })
})
