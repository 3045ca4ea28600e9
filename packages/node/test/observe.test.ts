/**
 * What a node tells observers: log lines about tasks that carry the task id on every node, the
 * exchange's events, its traffic and signature counters, and its alerts. One requester and two
 * providers on 127.0.0.1, shared by the file; one provider refuses the requester (allowlist), so
 * tasks routed there fail over to the other.
 */
import { PassThrough } from 'node:stream'
import { mockBackend } from '@p2p-ai/engine'
import { ANNOUNCE_PROTOCOL, TASK_PROTOCOL } from '@p2p-ai/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AlertState } from '../src/alerts/monitor.js'
import { createNode } from '../src/create.js'
import type { TaskAttempt, TaskDone, TaskRefusal, TaskRetry } from '../src/exchange/events.js'
import { createLogger } from '../src/logger.js'
import type { P2PNode } from '../src/node.js'
import { localInit, tempDir } from './helpers.js'

interface Line {
  level: string
  msg: string
  component?: string
  taskId?: string
  [key: string]: unknown
}

/** A debug-level JSON logger whose lines the test reads. */
function captured(): { logger: ReturnType<typeof createLogger>; lines: () => Line[] } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')))
  return {
    logger: createLogger({ destination: stream, level: 'debug' }),
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Line),
  }
}

const dirs: Array<AsyncDisposable> = []
const nodes: P2PNode[] = []
let requester: P2PNode
let refuser: P2PNode
let provider: P2PNode
const requesterLog = captured()
const providerLog = captured()
const done: TaskDone[] = []
const retries: TaskRetry[] = []
const attempts: TaskAttempt[] = []
const refusals: TaskRefusal[] = []
const ids: string[] = []

async function node(init: Parameters<typeof localInit>[1]): Promise<P2PNode> {
  const dir = await tempDir('p2p-ai-observe-')
  dirs.push(dir)
  const n = await createNode(localInit(dir.path, init))
  nodes.push(n)
  return n
}

beforeAll(async () => {
  provider = await node({ backends: [mockBackend({ worker: false })], logger: providerLog.logger })
  refuser = await node({
    backends: [mockBackend({ worker: false })],
    access: { mode: 'allowlist', allowlist: [provider.peerId] },
  })
  requester = await node({
    logger: requesterLog.logger,
    log: { level: 'debug' },
    // peers_low off until the test turns it on.
    alerts: { intervalMs: 100, forMs: 0, peersMin: 0 },
  })
  requester.exchange.addEventListener('task:done', (e) => done.push(e.detail))
  requester.exchange.addEventListener('task:retry', (e) => retries.push(e.detail))
  requester.exchange.addEventListener('task:attempt', (e) => attempts.push(e.detail))
  refuser.exchange.addEventListener('task:refused', (e) => refusals.push(e.detail))
  for (const n of [provider, refuser]) await requester.connect(n.getMultiaddrs()[0]!)
  const deadline = Date.now() + 10_000
  while (requester.peers().filter((p) => p.capabilities !== undefined).length < 2) {
    if (Date.now() > deadline) throw new Error('no capabilities from the providers')
    await new Promise((r) => setTimeout(r, 20))
  }
  // Submitted together: the router spreads them over both providers, so some meet the refuser.
  const handles = Array.from({ length: 6 }, (_, i) =>
    requester.submit({ type: 'mock', input: { text: `task ${i}` }, id: `observe-task-${i}` }),
  )
  handles.push(requester.submit({ type: 'mock', input: { text: 'x', fail: true }, id: 'observe-fails' }))
  for (const h of handles) {
    ids.push(h.id)
    await h.result()
  }
})

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  for (const dir of dirs) await dir[Symbol.asyncDispose]()
})

describe('a node observed', () => {
  it('puts the task id on every log line about a task, the same id on the requester and the provider', () => {
    const aboutTasks = (lines: Line[]) =>
      lines.filter((l) => /task|attempt|failing over|retrying/i.test(l.msg))
    const mine = aboutTasks(requesterLog.lines())
    const theirs = aboutTasks(providerLog.lines())
    expect(mine.length).toBeGreaterThan(ids.length)
    for (const line of [...mine, ...theirs]) expect(line.taskId, JSON.stringify(line)).toBeDefined()
    // The failed task is an INFO line on the requester, with its code; every task is DEBUG 'task done' or that.
    expect(mine.find((l) => l.taskId === 'observe-fails' && l.msg === 'task failed')).toMatchObject({
      level: 'info',
      code: 'ERR_TASK_FAILED',
    })
    // The provider's 'task finished' lines name the task by the id its requester knows it by.
    const served = theirs.filter((l) => l.msg === 'task finished')
    expect(served.length).toBeGreaterThan(0)
    for (const line of served) {
      expect(ids).toContain(line.taskId)
      expect(line.requester).toBe(requester.peerId)
    }
  })

  it('reports every finished task, retry, failover and refusal as events, with the time on the network', () => {
    expect(done.map((d) => d.record.id).sort()).toEqual([...ids].sort())
    const completed = done.filter((d) => d.record.status === 'COMPLETED')
    expect(completed).toHaveLength(6)
    for (const d of completed) {
      expect(d.record.peer).toBe(provider.peerId)
      expect(d.networkMs).toBeGreaterThanOrEqual(0)
      expect(d.networkMs).toBeLessThan(d.record.finishedAt! - d.record.submittedAt + 1)
    }
    expect(done.find((d) => d.record.id === 'observe-fails')?.record.status).toBe('FAILED')
    // Each task refused by the allowlist went on to the provider: a failover.
    expect(refusals.length).toBeGreaterThan(0)
    for (const r of refusals)
      expect(r).toMatchObject({ code: 'ERR_ACCESS_DENIED', remotePeer: requester.peerId })
    expect(retries.map((r) => r.taskId).sort()).toEqual(refusals.map((r) => r.taskId).sort())
    for (const r of retries) {
      expect(r).toMatchObject({ code: 'ERR_ACCESS_DENIED', from: refuser.peerId, to: provider.peerId })
      expect(r).toMatchObject({ failover: true, attempt: 2 })
    }
    // Every attempt is announced as it starts: the first of each task, then each retry's.
    expect(attempts).toHaveLength(ids.length + retries.length)
    for (const id of ids) expect(attempts.find((a) => a.taskId === id)).toMatchObject({ attempt: 1 })
    for (const r of retries) {
      expect(attempts).toContainEqual({ taskId: r.taskId, type: 'mock', attempt: 2, peer: provider.peerId })
    }
  })

  it('counts the messages of its protocols and the signatures it checked', () => {
    const { traffic, signatures } = requester.counters()
    const task = traffic.find((t) => t.protocol === TASK_PROTOCOL)!
    // A request out per attempt; an accept or reject, and a result, back.
    expect(task.messagesOut).toBe(ids.length + retries.length)
    expect(task.messagesIn).toBeGreaterThanOrEqual(2 * ids.length + retries.length)
    expect(task.bytesIn).toBeGreaterThan(task.messagesIn * 50)
    expect(traffic.find((t) => t.protocol === ANNOUNCE_PROTOCOL)?.messagesIn).toBeGreaterThanOrEqual(2)
    // Results and announcements are signed (results written together share one batch signature,
    // checked once); rejects and accepts are not.
    expect(signatures).toEqual({ valid: expect.any(Number), invalid: 0 })
    expect(signatures.valid).toBeGreaterThanOrEqual(3)
    expect(signatures.valid).toBeLessThanOrEqual(ids.length + 10)
  })

  it('raises an alert as a WARN line, lists it, and clears it when a reload moves the threshold', async () => {
    const events: Array<[string, AlertState]> = []
    requester.addEventListener('alert:raised', (e) => events.push(['raised', e.detail]))
    requester.addEventListener('alert:cleared', (e) => events.push(['cleared', e.detail]))
    const until = async (check: () => boolean): Promise<void> => {
      const deadline = Date.now() + 5_000
      while (!check()) {
        if (Date.now() > deadline) throw new Error('timed out')
        await new Promise((r) => setTimeout(r, 20))
      }
    }
    // Two peers, fewer than alerts.peersMin 3: raised at the next evaluation (forMs 0).
    requester.reconfigure({ alerts: { peersMin: 3 } })
    await until(() => requester.alerts().some((a) => a.name === 'peers_low' && a.active))
    const raised = requesterLog.lines().find((l) => l.alert === 'peers_low' && l.state === 'raised')
    expect(raised).toMatchObject({
      level: 'warn',
      component: 'alerts',
      value: 2,
      threshold: 3,
      msg: 'ALERT raised peers_low: 2 peers connected, fewer than 3',
    })
    requester.reconfigure({ alerts: { peersMin: 2 } })
    await until(() => events.some(([change]) => change === 'cleared'))
    expect(requester.alerts().filter((a) => a.active)).toEqual([])
    expect(requesterLog.lines().find((l) => l.alert === 'peers_low' && l.state === 'cleared')).toMatchObject({
      level: 'warn',
      msg: 'ALERT cleared peers_low: 2 peers connected',
    })
  })
})
