/**
 * Checkpoints (docs/protocol.md §2.8): a long task reports its state as it goes, and when its
 * provider dies the next attempt starts from the latest one. Providers are real node processes
 * (test/fixtures/exchange-host.mjs) on 127.0.0.1; the requester is a node in this process.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type MockOutput, mockBackend } from '@p2p-ai/engine'
import { generateIdentity } from '@p2p-ai/identity'
import { CHECKPOINT_MINOR, createTaskRequest, sealEnvelope } from '@p2p-ai/protocol'
import { createTransport } from '@p2p-ai/transport'
import { afterAll, describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import { type ExchangeNode, exchangeNode, mock, rawTaskStream } from './fixtures/exchange-harness.js'
import { Host, localInit, tempDir } from './helpers.js'

const EXCHANGE_HOST = fileURLToPath(new URL('./fixtures/exchange-host.mjs', import.meta.url))

const cleanup: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

async function provider(): Promise<{ host: Host; peerId: string; address: string }> {
  const dir = await tempDir('p2p-ai-checkpoint-host-')
  const host = new Host(
    spawn(process.execPath, [EXCHANGE_HOST, JSON.stringify(localInit(dir.path))], { stdio: 'pipe' }),
  )
  cleanup.push(
    () => dir[Symbol.asyncDispose](),
    () => host[Symbol.asyncDispose](),
  )
  const ready = await host.waitFor((e) => e.event === 'ready', 30_000, 'ready')
  return { host, peerId: ready.peerId as string, address: (ready.addresses as string[])[0] as string }
}

/** What a `mock` task with `steps` returns when nothing interrupts it. */
async function uninterrupted(input: { text: string; steps: number }): Promise<MockOutput> {
  return (await mockBackend({ worker: false }).run(
    { id: 'reference', type: 'mock', input },
    { signal: new AbortController().signal },
  )) as MockOutput
}

describe('a long task whose provider dies', () => {
  it('finishes on another provider from the checkpoint of 70 %, redoing less than 30 % of the work', async () => {
    const [a, b] = await Promise.all([provider(), provider()])
    const dir = await tempDir('p2p-ai-checkpoint-requester-')
    const node = await createNode(localInit(dir.path))
    cleanup.push(
      () => dir[Symbol.asyncDispose](),
      () => node.stop(),
    )
    for (const p of [a, b]) await node.connect(p.address)
    const deadline = Date.now() + 15_000
    while (
      !node.peers().every((p) => (p.capabilities?.protocolMinor ?? 0) >= CHECKPOINT_MINOR) ||
      node.peers().length < 2
    ) {
      if (Date.now() > deadline) throw new Error('capabilities did not arrive')
      await new Promise((r) => setTimeout(r, 25))
    }

    const input = { text: 'a long job', steps: 10, stepMs: 100 }
    const handle = node.submit<MockOutput>({ type: 'mock', input, timeoutMs: 30_000 }, { allowLocal: false })
    // The provider is killed once the requester holds a checkpoint of at least 70 %.
    let killedAt = 0
    let victim: string | undefined
    await new Promise<void>((resolve) => {
      handle.addEventListener('progress', () => {
        const { checkpoint, peer } = handle.record()
        if (victim !== undefined || checkpoint === undefined || checkpoint.fraction < 0.7) return
        victim = peer
        killedAt = checkpoint.fraction
        ;(peer === a.peerId ? a : b).host.proc.kill('SIGKILL')
        resolve()
      })
    })
    const record = await handle.result()
    expect(record.status).toBe('COMPLETED')
    expect(record.attempts.map((x) => x.peer)).toEqual([victim])
    expect(record.peer).toBe(victim === a.peerId ? b.peerId : a.peerId)
    const steps = record.output?.steps
    // The survivor started from the checkpoint the requester held when the victim died...
    expect(steps?.resumedFrom).toBe(Math.round(killedAt * input.steps))
    // ...so what it did again is at most the steps the victim made past it before it died.
    const redone = killedAt - (steps?.resumedFrom ?? 0) / input.steps
    expect(redone).toBeLessThan(0.3)
    // And its answer is the one an uninterrupted run gives: the state carried on.
    expect(steps).toEqual({ ...(await uninterrupted(input)).steps, resumedFrom: steps?.resumedFrom })
  })
})

describe('resume and checkpoints on the wire', () => {
  let provider: ExchangeNode

  it('a provider resumes from the request, and sends a requester below minor 6 no checkpoints', async () => {
    provider = await exchangeNode({ backends: [mock()] })
    cleanup.push(() => provider.stop())
    // A requester that never announced anything: minor 0 as far as the provider knows.
    const identity = generateIdentity()
    const transport = await createTransport({ identity, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    cleanup.push(async () => transport.stop())
    await transport.dial(provider.transport.getMultiaddrs()[0] as never)
    const raw = await rawTaskStream({ transport } as ExchangeNode, provider)
    const input = { text: 'resumed', steps: 10 }
    const reference = await uninterrupted(input)
    const digestAt6 = await checkpointDigest(input, 6)
    const payload = createTaskRequest({
      requester: identity.peerId,
      taskType: 'mock',
      input,
      resume: { checkpoint: { step: 6, digest: digestAt6 }, progress: 0.6 },
    })
    raw.send(JSON.parse(sealEnvelope(identity, 'task.request', payload).json))
    const frames: Array<{ type: string; payload: Record<string, unknown> }> = []
    for (;;) {
      const frame = (await raw.next()) as { type: string; payload: Record<string, unknown> }
      frames.push(frame)
      if (frame.type === 'task.result') break
    }
    await raw.close()
    expect(frames.filter((f) => f.type === 'task.progress').some((f) => 'checkpoint' in f.payload)).toBe(
      false,
    )
    const output = frames.at(-1)?.payload.output as MockOutput
    expect(output.steps).toEqual({ ...reference.steps, resumedFrom: 6 })
  })
})

/** The digest a `mock` task's checkpoint holds before `step`, read off a run's own reports. */
async function checkpointDigest(input: { text: string; steps: number }, step: number): Promise<string> {
  let digest = ''
  await mockBackend({ worker: false }).run(
    { id: 'reference', type: 'mock', input },
    {
      signal: new AbortController().signal,
      onProgress: (p) => {
        const c = p.checkpoint as { step: number; digest: string }
        if (c.step === step) digest = c.digest
      },
    },
  )
  return digest
}
