import { describe, expect, it } from 'vitest'
import type { PeerJson, SubmitRequest, TaskJson } from '../src/control/types.js'
import { canonical, RedundantTasks } from '../src/daemon/redundancy.js'

function peer(peerId: string, taskTypes: string[]): PeerJson {
  return {
    peerId,
    status: 'connected',
    addresses: [],
    lastSeen: 0,
    protocols: [],
    connectedAt: 0,
    reconnectAttempts: 0,
    capabilities: { taskTypes },
  }
}

/** Sub-tasks finish with the output each peer is told to give. */
function setup(
  outputs: Record<string, unknown>,
  peers: PeerJson[] = [peer('B', ['chunk']), peer('C', ['chunk'])],
) {
  const tasks = new Map<string, TaskJson>()
  const sent: Array<[string, string]> = []
  const redundant = new RedundantTasks({
    node: {
      peerId: 'A',
      peers: () => peers,
      engine: { capabilities: () => ({ taskTypes: [{ name: 'chunk' }] }) },
    },
    routing: true,
    submitTo: async (req: SubmitRequest, target: string) => {
      const who = target === 'self' ? 'A' : target
      sent.push([req.id!, who])
      const out = outputs[who]
      const t: TaskJson =
        out instanceof Error
          ? {
              id: req.id!,
              type: req.type,
              status: 'FAILED',
              priority: 0,
              backend: 'x',
              queuedAt: 1,
              finishedAt: 2,
              error: { code: 'ERR_X', message: out.message },
            }
          : {
              id: req.id!,
              type: req.type,
              status: 'COMPLETED',
              priority: 0,
              backend: 'x',
              queuedAt: 1,
              startedAt: 1,
              finishedAt: 2,
              output: out,
            }
      tasks.set(t.id, t)
      return t
    },
    get: (id) => tasks.get(id),
    wait: async (id) => tasks.get(id),
    cancel: (id) => ({ cancelled: false, task: tasks.get(id)! }),
  })
  return { redundant, sent }
}

describe('redundant runs (--redundancy k)', () => {
  it('sends the task to k different nodes, this one first, and completes with the agreed output', async () => {
    const { redundant, sent } = setup({ A: { n: 1, m: [1] }, B: { m: [1], n: 1 }, C: { n: 2 } })
    const task = await redundant.submit({ type: 'chunk', input: {}, redundancy: 3, id: 'job-1' })
    expect(sent).toEqual([
      ['job-1-r1', 'A'],
      ['job-1-r2', 'B'],
      ['job-1-r3', 'C'],
    ])
    expect(task).toMatchObject({
      id: 'job-1',
      status: 'COMPLETED',
      output: { n: 1, m: [1] },
      meta: { agreement: '2/3' },
    })
  })

  it('fails with ERR_RESULTS_DISAGREE when no strict majority agrees', async () => {
    const { redundant } = setup({ A: 1, B: 2 })
    const task = await redundant.submit({ type: 'chunk', input: {}, redundancy: 2 })
    expect(task).toMatchObject({ status: 'FAILED', error: { code: 'ERR_RESULTS_DISAGREE' } })
  })

  it('fails with ERR_REDUNDANCY_FAILED when too few runs complete', async () => {
    const { redundant } = setup({ A: 1, B: new Error('gone'), C: new Error('gone') })
    const task = await redundant.submit({ type: 'chunk', input: {}, redundancy: 3 })
    expect(task).toMatchObject({
      status: 'FAILED',
      error: { code: 'ERR_REDUNDANCY_FAILED', message: expect.stringContaining('1 of 3') },
    })
  })

  it('refuses when fewer than k nodes run the type', async () => {
    const { redundant } = setup({}, [peer('B', ['embed'])])
    await expect(redundant.submit({ type: 'chunk', input: {}, redundancy: 2 })).rejects.toMatchObject({
      code: 'ERR_NOT_ENOUGH_PEERS',
    })
  })

  it('compares outputs whatever their key order', () => {
    expect(canonical({ b: [1, { d: 1, c: 2 }], a: null })).toBe(
      canonical({ a: null, b: [1, { c: 2, d: 1 }] }),
    )
    expect(canonical({ a: 1 })).not.toBe(canonical({ a: '1' }))
  })
})
