// Two real nodes on 127.0.0.1: a provider that lends its machine only while its owner is away
// (`limits.idleOnly`), and a requester. The provider's machine is a fake one the test controls, so
// "the owner comes back" is one line, not a CPU burner.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createNode } from '../src/create.js'
import type { P2PNode } from '../src/node.js'
import { FakeMachine } from './fixtures/fake-machine.js'
import { localInit, tempDir } from './helpers.js'

async function until(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('a provider that pauses when its owner comes back', () => {
  let requester: P2PNode
  let provider: P2PNode
  const owner = new FakeMachine()
  const dirs: Array<AsyncDisposable> = []
  /** Releases the `slow` task running on the provider. */
  let release: () => void = () => {}

  beforeAll(async () => {
    const [a, b] = await Promise.all([tempDir('p2p-ai-pause-a-'), tempDir('p2p-ai-pause-b-')])
    dirs.push(a, b)
    const slowOnce = z.strictObject({ n: z.number() })
    ;[requester, provider] = await Promise.all([
      createNode(
        localInit(a.path, { resources: { intervalMs: 60_000 }, resourceSampler: new FakeMachine() }),
      ),
      createNode(
        localInit(b.path, {
          resources: { intervalMs: 60_000 },
          limits: { idleOnly: true, idleAfterMs: 0, pauseGraceMs: 0 },
          resourceSampler: owner,
        }),
      ),
    ])
    for (const node of [requester, provider]) {
      node.registerTask({ name: 'work', input: z.strictObject({ n: z.number() }), run: ({ n }) => ({ n }) })
    }
    provider.registerTask({
      name: 'slow',
      input: slowOnce,
      run: ({ n }, { signal }) =>
        new Promise((resolve, reject) => {
          release = () => resolve({ n })
          signal.addEventListener('abort', () => reject(signal.reason), { once: true })
        }),
    })
    // Two readings of an idle machine: the provider takes tasks.
    await provider.resources.measure()
    await provider.resources.measure()
    expect(provider.resources.status().paused).toBe(false)
    await requester.connect(provider.getMultiaddrs()[0]!)
    await until(() => {
      const caps = requester.peer(provider.peerId)?.capabilities
      return caps?.taskTypes.includes('slow') === true && caps.resources !== undefined
    })
  })

  afterAll(async () => {
    await Promise.all([requester?.stop(), provider?.stop()])
    for (const dir of dirs) await dir[Symbol.asyncDispose]()
  })

  const pausedAsSeen = () => requester.peer(provider.peerId)?.capabilities?.resources?.paused === true

  async function ownerBack(): Promise<number> {
    owner.others = 0.9
    const started = performance.now()
    await provider.resources.measure()
    await until(pausedAsSeen, 2_000, 'the pause announcement')
    return performance.now() - started
  }

  async function ownerAway(): Promise<void> {
    owner.others = 0.02
    await provider.resources.measure()
    await until(() => !pausedAsSeen(), 2_000, 'the resume announcement')
  }

  it('is told at once, routes around it while it is paused, and comes back to it when it resumes', async () => {
    const first = requester.submit({ type: 'slow', input: { n: 0 } })
    await until(
      () => provider.engine.list({ status: 'RUNNING' }).length === 1,
      5_000,
      'the first task to start',
    )
    release()
    expect(await first.result()).toMatchObject({ status: 'COMPLETED', peer: provider.peerId })
    const announced = await ownerBack()
    expect(announced).toBeLessThan(1_000)
    expect(provider.resources.status()).toMatchObject({ paused: true, pauseReasons: ['in-use'] })
    const received = provider.exchange.providerStats().received
    // The requester runs `work` itself meanwhile; `slow`, which only the provider runs, waits.
    for (let n = 1; n <= 4; n++) {
      const record = await requester.submit({ type: 'work', input: { n } }).result()
      expect(record).toMatchObject({ status: 'COMPLETED', peer: requester.peerId })
    }
    const waiting = requester.submit({ type: 'slow', input: { n: 5 } }, { waitForPeerMs: 10_000 })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(waiting.status).toBe('PENDING')
    expect(provider.exchange.providerStats().received).toBe(received)

    await ownerAway()
    await until(
      () => provider.engine.list({ status: 'RUNNING' }).length === 1,
      5_000,
      'the waiting task to start',
    )
    release()
    expect(await waiting.result()).toMatchObject({
      status: 'COMPLETED',
      peer: provider.peerId,
      output: { n: 5 },
    })
  })

  it('applies new limits from a reloaded configuration at once', () => {
    const change = provider.reconfigure({ limits: { cpu: 50, memory: '2GiB' } })
    expect(change.applied).toEqual(['limits.cpu', 'limits.memory'])
    expect(provider.engine.limits.cores).toBeGreaterThan(0)
    expect(provider.resources.status().limits).toMatchObject({ cpu: 0.5, memoryBytes: 2 * 1024 ** 3 })
    provider.reconfigure({ limits: { cpu: 100, memory: '' } })
    expect(provider.engine.limits.cores).toBeUndefined()
  })

  it('hands a running task back with ERR_BUSY, and the requester fails over on it', async () => {
    const handle = requester.submit({ type: 'slow', input: { n: 6 } }, { waitForPeerMs: 10_000 })
    await until(() => provider.engine.list({ status: 'RUNNING' }).length === 1, 5_000, 'the task to start')
    await ownerBack()
    // No grace: handed back at once, and nobody else runs `slow`: it waits for a capable peer.
    await until(() => handle.record().attempts.length === 1, 5_000, 'the hand-back')
    expect(handle.record().attempts[0]).toMatchObject({
      peer: provider.peerId,
      error: { code: 'ERR_BUSY', message: expect.stringContaining('paused') },
    })
    await ownerAway()
    await until(() => provider.engine.list({ status: 'RUNNING' }).length === 1, 5_000, 'the retry to start')
    release()
    expect(await handle.result()).toMatchObject({
      status: 'COMPLETED',
      peer: provider.peerId,
      output: { n: 6 },
    })
  })
})
