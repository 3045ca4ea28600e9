/**
 * The task exchange across processes: providers are child processes running
 * test/fixtures/exchange-host.mjs (the built @p2p-ai/node), the requester is a node in this
 * process. Processes are killed (SIGKILL), frozen (SIGSTOP) and stopped under real work.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createNode, type NodeInit } from '../src/create.js'
import type { P2PNode } from '../src/node.js'
import { Host, type HostEvent, localInit, tempDir } from './helpers.js'

const EXCHANGE_HOST = fileURLToPath(new URL('./fixtures/exchange-host.mjs', import.meta.url))

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

type Provider = { host: Host; peerId: string; address: string }

/** A provider process; stopped after the test, or with `steps` when it outlives one. */
async function provider(concurrency = 2, steps = cleanup): Promise<Provider> {
  const dir = await tempDir('p2p-ai-exchange-host-')
  const host = new Host(
    spawn(
      process.execPath,
      [EXCHANGE_HOST, JSON.stringify(localInit(dir.path, { engine: { concurrency } }))],
      {
        stdio: 'pipe',
      },
    ),
  )
  steps.push(
    () => dir[Symbol.asyncDispose](),
    async () => {
      if (host.proc.signalCode === 'SIGSTOP' || host.proc.exitCode === null) host.proc.kill('SIGCONT')
      await host[Symbol.asyncDispose]()
    },
  )
  const ready = await host.waitFor((e) => e.event === 'ready', 30_000, 'ready')
  return { host, peerId: ready.peerId as string, address: (ready.addresses as string[])[0] as string }
}

async function requester(extra: NodeInit = {}): Promise<P2PNode> {
  const dir = await tempDir('p2p-ai-exchange-requester-')
  const node = await createNode(localInit(dir.path, extra))
  cleanup.push(
    () => dir[Symbol.asyncDispose](),
    () => node.stop(),
  )
  return node
}

/** Connects and waits until the requester has the provider's capabilities (its task types). */
async function link(
  node: P2PNode,
  providers: ReadonlyArray<{ peerId: string; address: string }>,
): Promise<void> {
  for (const p of providers) await node.connect(p.address)
  const deadline = Date.now() + 15_000
  while (
    !providers.every((p) =>
      node.peers().some((x) => x.peerId === p.peerId && x.capabilities?.taskTypes.includes('sleep')),
    )
  ) {
    if (Date.now() > deadline) throw new Error('capabilities did not arrive')
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function runningOn(node: P2PNode, id: string): Promise<string> {
  const deadline = Date.now() + 10_000
  for (;;) {
    const record = node.tasks.get(id)
    if (record?.status === 'RUNNING' && record.peer !== undefined) return record.peer
    if (Date.now() > deadline) throw new Error(`task ${id} never ran`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('task exchange across processes', () => {
  it('completes a task elsewhere when its provider is killed (SIGKILL) mid-task, within 5 s', async () => {
    const [a, b] = await Promise.all([provider(), provider()])
    const node = await requester()
    await link(node, [a, b])
    const handle = node.submit({ type: 'sleep', input: { ms: 1_500, tag: 'survivor' } })
    const victimId = await runningOn(node, handle.id)
    const victim = victimId === a.peerId ? a : b
    const survivor = victim === a ? b : a
    const killedAt = Date.now()
    victim.host.proc.kill('SIGKILL')
    const record = await handle.result()
    expect(record).toMatchObject({ status: 'COMPLETED', peer: survivor.peerId })
    expect(record.output).toEqual({ ranOn: survivor.peerId, tag: 'survivor' })
    expect(record.attempts).toHaveLength(1)
    expect(record.attempts[0]?.peer).toBe(victim.peerId)
    expect(['ERR_PEER_DISCONNECTED', 'ERR_PEER_UNRESPONSIVE']).toContain(record.attempts[0]?.error?.code)
    // Resubmitted at once: the survivor's 1.5 s of work is most of this.
    expect(record.finishedAt! - killedAt).toBeLessThan(5_000)
  })

  it('completes a task elsewhere when its provider freezes (SIGSTOP): the liveness ping notices', async () => {
    const [a, b] = await Promise.all([provider(), provider()])
    const node = await requester()
    await link(node, [a, b])
    const handle = node.submit({ type: 'sleep', input: { ms: 1_000 } })
    const frozenId = await runningOn(node, handle.id)
    const frozen = frozenId === a.peerId ? a : b
    const frozenAt = Date.now()
    frozen.host.proc.kill('SIGSTOP')
    const record = await handle.result()
    expect(record.status).toBe('COMPLETED')
    expect(record.peer).not.toBe(frozen.peerId)
    expect(record.attempts[0]).toMatchObject({
      peer: frozen.peerId,
      error: { code: 'ERR_PEER_UNRESPONSIVE' },
    })
    // Detection (about 3.5 s at most) plus the 1 s of work elsewhere.
    expect(record.finishedAt! - frozenAt).toBeLessThan(6_000)
    frozen.host.proc.kill('SIGCONT')
  })

  it('keeps a task on a provider frozen for less than a configured liveness timeout', async () => {
    const p = await provider()
    // Heartbeats would notice the freeze too: keep them out of this test.
    const heartbeat = { intervalMs: 600_000, timeoutMs: 300_000 }
    const patient = await requester({ liveness: { idleMs: 500, timeoutMs: 15_000 }, heartbeat })
    // Quicker to give up than the default (1.5 s idle + 1.5 s ping, which the test above holds to),
    // so a shorter freeze tells the two apart.
    const impatient = await requester({ liveness: { idleMs: 300, timeoutMs: 500 }, heartbeat })
    await link(patient, [p])
    await link(impatient, [p])
    const kept = patient.submit({ type: 'sleep', input: { ms: 1_000, tag: 'kept' } })
    const moved = impatient.submit({ type: 'sleep', input: { ms: 1_000, tag: 'moved' } })
    await Promise.all([runningOn(patient, kept.id), runningOn(impatient, moved.id)])
    // Three times what the impatient requester waits (0.3 s idle + 0.5 s ping), well under the 15 s.
    p.host.proc.kill('SIGSTOP')
    await new Promise((r) => setTimeout(r, 2_500))
    p.host.proc.kill('SIGCONT')
    const record = await kept.result()
    expect(record).toMatchObject({
      status: 'COMPLETED',
      peer: p.peerId,
      output: { ranOn: p.peerId, tag: 'kept' },
    })
    expect(record.attempts).toEqual([])
    // The same freeze failed the impatient requester's attempt.
    expect((await moved.result()).attempts[0]).toMatchObject({
      peer: p.peerId,
      error: { code: 'ERR_PEER_UNRESPONSIVE' },
    })
  })

  // Providers that are neither killed nor frozen serve the tests below in turn, each test with a
  // requester of its own: a provider process takes a second or more to start.
  describe('with providers that keep running', () => {
    const shared: Array<() => Promise<unknown>> = []
    let providers: [Provider, Provider, Provider]
    beforeAll(async () => {
      providers = (await Promise.all([provider(2, shared), provider(2, shared), provider(2, shared)])) as [
        Provider,
        Provider,
        Provider,
      ]
    }, 60_000)
    afterAll(async () => {
      for (const step of shared.splice(0).reverse()) await step().catch(() => {})
    })

    it('spreads tasks evenly over equal provider processes (under 20 % deviation)', async () => {
      const node = await requester()
      await link(node, providers)
      const counts = new Map(providers.map((p) => [p.peerId, 0]))
      const total = 150
      for (let i = 0; i < total; i += 6) {
        const burst = Array.from({ length: 6 }, () => node.submit({ type: 'sleep', input: { ms: 5 } }))
        for (const record of await Promise.all(burst.map((h) => h.result()))) {
          expect(record.status).toBe('COMPLETED')
          counts.set(record.peer!, (counts.get(record.peer!) ?? 0) + 1)
        }
      }
      const mean = total / providers.length
      for (const count of counts.values()) expect(Math.abs(count - mean) / mean).toBeLessThan(0.2)
    })

    it('runs on the PeerId it is given, and a cancel reaches that provider', async () => {
      const [a, b] = providers
      const node = await requester()
      await link(node, [a, b])
      for (const target of [b, a, b]) {
        const record = await node.submit({ type: 'whoami', input: {} }, { target: target.peerId }).result()
        expect(record).toMatchObject({
          status: 'COMPLETED',
          peer: target.peerId,
          output: { ranOn: target.peerId },
        })
      }
      // The peer table shows what the provider announced and how it has done.
      const entry = node.peers().find((p) => p.peerId === b.peerId)
      expect(entry?.capabilities).toMatchObject({ taskTypes: expect.arrayContaining(['sleep', 'whoami']) })
      expect(entry?.reputation).toMatchObject({ circuit: 'closed', failures: 0 })
      expect(entry?.reputation.successes).toBeGreaterThan(1)
      const handle = node.submit({ type: 'sleep', input: { ms: 30_000 } }, { target: a.peerId })
      await runningOn(node, handle.id)
      handle.cancel()
      expect((await handle.result()).status).toBe('CANCELLED')
      const engineId = `${node.peerId}:${handle.id}`
      const deadline = Date.now() + 5_000
      let seen: HostEvent | undefined
      while (Date.now() < deadline) {
        const before = a.host.events.length
        a.host.send(`engine ${engineId}`)
        seen = await a.host.waitFor(
          (e) => e.event === 'engine' && a.host.events.indexOf(e) >= before,
          5_000,
          'engine record',
        )
        if ((seen.record as { status?: string } | null)?.status === 'CANCELLED') break
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(seen?.record).toMatchObject({ status: 'CANCELLED' })
    })

    it('sends tasks from a child process to this one, and target local stays home', async () => {
      const [a] = providers
      const node = await requester()
      node.registerTask({
        name: 'sleep',
        input: z.strictObject({ ms: z.number().int().min(0), tag: z.string().optional() }),
        run: ({ tag }) => ({ ranOn: node.peerId, tag: tag ?? null }),
      })
      await link(node, [a])
      a.host.send(
        `submit ${JSON.stringify({ task: { type: 'sleep', input: { ms: 0 } }, options: { target: node.peerId } })}`,
      )
      const remote = await a.host.waitFor((e) => e.event === 'result', 15_000, 'result')
      expect(remote.record).toMatchObject({
        status: 'COMPLETED',
        peer: node.peerId,
        output: { ranOn: node.peerId },
      })
      const local = await node.submit({ type: 'sleep', input: { ms: 0 } }, { target: 'local' }).result()
      expect(local).toMatchObject({ status: 'COMPLETED', peer: node.peerId })
    })
  })
})
