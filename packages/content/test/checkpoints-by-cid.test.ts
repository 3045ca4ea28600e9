// Checkpoints by CID (docs/protocol.md §2.8, minor 7) between three real nodes on 127.0.0.1: a
// checkpoint too large to go inline travels as `checkpointRef`; the requester fetches and holds
// its blocks, so when the provider dies the next one resumes from it, fetching the state from the
// requester (the two providers are not even connected to each other).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { createNode, type P2PNode } from '@p2p-ai/node'
import { CHECKPOINT_REF_MINOR } from '@p2p-ai/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { contentNodeInit, until, usage } from './fixtures/nodes.js'

const MiB = 1024 * 1024

let dir: string
let requester: P2PNode
let providers: P2PNode[]
/** Where each run of the task started: the provider and the step. */
const runs: Array<{ provider: string; from: number }> = []

const init = (name: string) => contentNodeInit(dir, name)

/**
 * A task whose state grows past what goes inline: each step's checkpoint carries `padBytes`. A
 * run that starts before step `pauseAt` stops there until it is cancelled (its node dies), so the
 * test knows which checkpoint is the last one the first provider sends.
 */
function register(node: P2PNode, name = 'state.grow', paused?: () => Promise<never>): void {
  node.registerTask({
    name,
    input: z.object({
      steps: z.number().int().min(1),
      stepMs: z.number().int(),
      pauseAt: z.number().int(),
      padBytes: z.number().int(),
    }),
    run: async ({ steps, stepMs, pauseAt, padBytes }, context) => {
      const resumed = context.resume?.state as { step?: unknown; pad?: unknown } | undefined
      // A checkpoint is checked before it is trusted: its step in range, its state whole.
      const from =
        typeof resumed?.step === 'number' &&
        resumed.step > 0 &&
        resumed.step < steps &&
        typeof resumed.pad === 'string' &&
        resumed.pad.length === padBytes
          ? resumed.step
          : 0
      runs.push({ provider: node.peerId.toString(), from })
      for (let step = from; step < steps; step++) {
        if (step === pauseAt && from < pauseAt) {
          if (paused !== undefined) await paused()
          await sleep(60_000, undefined, { signal: context.signal })
        }
        await sleep(stepMs, undefined, { signal: context.signal })
        context.checkpoint({ step: step + 1, pad: String(step % 10).repeat(padBytes) }, (step + 1) / steps)
      }
      return { from, steps }
    },
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-checkpoint-cid-'))
  const nodes = await Promise.all(['requester', 'a', 'b'].map((name) => createNode(init(name))))
  ;[requester, ...providers] = nodes as [P2PNode, P2PNode, P2PNode]
  await Promise.all(nodes.map((n) => n.start()))
  for (const p of providers) {
    register(p)
    await requester.connect(p.getMultiaddrs()[0] as string)
  }
  await until(
    () =>
      providers.every((p) => {
        const caps = requester.directory.record(p.peerId.toString())?.capabilities
        const back = p.directory.record(requester.peerId.toString())?.capabilities
        return (
          caps?.protocolMinor === CHECKPOINT_REF_MINOR &&
          caps.content !== undefined &&
          caps.taskTypes.includes('state.grow') &&
          back?.content !== undefined
        )
      }),
    'the nodes announced minor 7 and content to each other',
  )
}, 30_000)

afterAll(async () => {
  await Promise.all([requester, ...(providers ?? [])].map((n) => n?.stop({ signal: AbortSignal.abort() })))
  await rm(dir, { recursive: true, force: true })
})

describe('a checkpoint larger than content.inlineMaxBytes', () => {
  it('is not sent to a requester that takes no content; the task still runs to its end', async () => {
    const plain = await createNode({
      dataDir: join(dir, 'plain'),
      network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
      engineOptions: { workers: false },
    })
    try {
      await plain.start()
      const provider = providers[0] as P2PNode
      await plain.connect(provider.getMultiaddrs()[0] as string)
      await until(
        () =>
          plain.directory
            .record(provider.peerId.toString())
            ?.capabilities?.taskTypes.includes('state.grow') === true &&
          provider.directory.record(plain.peerId.toString())?.capabilities !== undefined,
        'the two nodes announced to each other',
      )
      const checkpoints: unknown[] = []
      const handle = plain.submit<{ from: number }>(
        { type: 'state.grow', input: { steps: 3, stepMs: 20, pauseAt: 9, padBytes: 1.5 * MiB } },
        { allowLocal: false },
      )
      handle.addEventListener('progress', (e) => {
        if (e.detail.checkpoint !== undefined || e.detail.checkpointRef !== undefined)
          checkpoints.push(e.detail)
      })
      const record = await handle.result()
      expect(record.status).toBe('COMPLETED')
      expect(record.output?.from).toBe(0)
      expect(checkpoints).toEqual([])
      expect(record.checkpoint).toBeUndefined()
    } finally {
      await plain.stop({ signal: AbortSignal.abort() })
    }
  })

  it('goes by CID, is held by the requester, and the next provider resumes from it after the first dies', async () => {
    const padBytes = 1.5 * MiB
    const handle = requester.submit<{ from: number; steps: number }>(
      { type: 'state.grow', input: { steps: 8, stepMs: 50, pauseAt: 5, padBytes }, timeoutMs: 30_000 },
      { allowLocal: false },
    )
    // Once the requester holds the checkpoint of step 5 of 8 by CID, the provider dies.
    await until(
      () => {
        const c = handle.record().checkpoint
        return c?.cid !== undefined && c.fraction >= 5 / 8
      },
      'the checkpoint of step 5 by CID',
      20_000,
    )
    const held = handle.record().checkpoint as NonNullable<ReturnType<typeof handle.record>['checkpoint']>
    const victim = providers.find((p) => p.peerId.toString() === held.peer) as P2PNode
    const survivor = providers.find((p) => p !== victim) as P2PNode
    expect(await requester.content!.has(held.cid as string)).toBe(true)
    // Each checkpoint's blocks went as soon as a newer one replaced it: the requester holds the
    // latest only; the provider the last two it sent (the requester may still be fetching one).
    expect(usage(requester).roots).toBe(1)
    expect(usage(requester).dataBytes).toBeLessThan(2 * padBytes)
    expect(usage(victim).roots).toBe(2)
    await victim.stop({ signal: AbortSignal.abort() })

    const record = await handle.result()
    expect(record.status).toBe('COMPLETED')
    expect(record.peer).toBe(survivor.peerId.toString())
    // It went on from the held checkpoint, not from the beginning...
    expect(record.output?.from).toBe(5)
    expect(runs.at(-1)).toEqual({ provider: survivor.peerId.toString(), from: record.output?.from })
    // ...whose state (checked whole by the task) the survivor fetched by CID from the requester,
    // the only node that had it. The task over, nobody holds a checkpoint of it any more: the
    // survivor let go of what it resumed from once read, and of its own at the end, the requester
    // of the one it held.
    // (A fetch of the survivor's last checkpoint may still be stopping as the task completes.)
    await expect.poll(() => usage(requester), { interval: 10 }).toMatchObject({ roots: 0, dataBytes: 0 })
    expect(usage(survivor).roots).toBe(0)
  }, 30_000)

  it("from the requester's own run is stored by CID there too, and a provider resumes from it", async () => {
    const padBytes = 1.5 * MiB
    const survivor = providers.find((p) => p.state === 'ACTIVE') as P2PNode
    // Only the requester runs this type at first; its run stops past half the work as a node that
    // is shutting down would, once a provider has the type too.
    let giveUp!: () => void
    const given = new Promise<void>((resolve) => {
      giveUp = resolve
    })
    register(requester, 'state.grow.here', async () => {
      await given
      throw Object.assign(new Error('this engine is shutting down'), { code: 'ERR_SHUTTING_DOWN' })
    })
    const handle = requester.submit<{ from: number; steps: number }>({
      type: 'state.grow.here',
      input: { steps: 4, stepMs: 20, pauseAt: 2, padBytes },
      timeoutMs: 30_000,
    })
    await until(() => (handle.record().checkpoint?.fraction ?? 0) >= 2 / 4, 'the local checkpoint of step 2')
    const held = handle.record().checkpoint as NonNullable<ReturnType<typeof handle.record>['checkpoint']>
    expect(held.peer).toBe(requester.peerId.toString())
    expect(held.cid).toBeDefined()
    expect(await requester.content!.has(held.cid as string)).toBe(true)
    expect(usage(requester).roots).toBe(1)

    register(survivor, 'state.grow.here')
    await until(
      () =>
        requester.directory
          .record(survivor.peerId.toString())
          ?.capabilities?.taskTypes.includes('state.grow.here') === true,
      'the provider announced the type',
    )
    giveUp()
    const record = await handle.result()
    expect(record.status).toBe('COMPLETED')
    expect(record.peer).toBe(survivor.peerId.toString())
    expect(record.output?.from).toBe(2)
    await expect.poll(() => usage(requester).roots, { interval: 10 }).toBe(0)
  }, 30_000)
})
