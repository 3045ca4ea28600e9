// Text generation streamed across the network (docs/protocol.md §2.6): one pair of nodes, both
// serving the same synthetic GGUF model with real llama.cpp, and a bare libp2p peer that speaks
// the task protocol as an old client (minor 0) would.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateIdentity } from '@p2p-ai/identity'
import {
  type GenerateOutput,
  type LlamaBackend,
  llamaBackend,
  SYNTHETIC_COMPLETION,
  SYNTHETIC_REPLY,
  writeSyntheticLlamaModel,
} from '@p2p-ai/llama'
import { createTaskRequest, type JsonObject, sealEnvelope } from '@p2p-ai/protocol'
import { createTransport, type Transport } from '@p2p-ai/transport'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { capabilitiesFor } from '../src/announce/capabilities.js'
import { TaskFailedError, type TaskStreamEvent } from '../src/exchange/index.js'
import { splitText } from '../src/exchange/stream/deltas.js'
import { type ExchangeNode, exchangeNode, mesh, rawTaskStream, until } from './fixtures/exchange-harness.js'

let dir: string
let a: ExchangeNode
let b: ExchangeNode
let llamaA: LlamaBackend
let llamaB: LlamaBackend
/** A bare libp2p peer: no exchange, so it never announces a protocol minor. */
let old: { transport: Transport; identity: ReturnType<typeof generateIdentity> }

/** Never ends on its own: every run writes exactly `maxTokens` tokens, the same on every node. */
const ENDLESS = 'endless'
const long = (maxTokens: number) => ({ model: ENDLESS, prompt: 'Once upon a time', maxTokens })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-streaming-'))
  const tiny = join(dir, 'tiny.gguf')
  const endless = join(dir, 'endless.gguf')
  await writeSyntheticLlamaModel(tiny)
  await writeSyntheticLlamaModel(endless, { endless: true, contextLength: 4096 })
  const backend = () =>
    llamaBackend({
      models: [
        { name: 'tiny', path: tiny },
        { name: ENDLESS, path: endless },
      ],
      defaultModel: 'tiny',
      threads: 1,
      concurrency: 1,
    })
  llamaA = backend()
  llamaB = backend()
  // One slot each: a slot that is not given back blocks the next task.
  ;[a, b] = await Promise.all([
    exchangeNode({ backends: [llamaA], concurrency: 1 }),
    exchangeNode({ backends: [llamaB], concurrency: 1 }),
  ])
  await Promise.all([llamaA.load(), llamaB.load()])
  await mesh([a, b])
  // Both models announced, with what they are (once each node knows the other reads minor 3).
  await until(
    () => a.directory.record(b.peerId)?.capabilities?.models.filter((m) => m.family === 'llama').length === 2,
    5_000,
    'the models announced',
  )
  const identity = generateIdentity()
  const transport = await createTransport({ identity, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  await transport.dial(b.transport.getMultiaddrs()[0] as never)
  old = { transport, identity }
}, 30_000)

afterAll(async () => {
  await old?.transport.stop()
  await Promise.all([a?.stop(), b?.stop()])
  await rm(dir, { recursive: true, force: true })
})

/** Reads a handle's stream to the end. */
async function collect(stream: AsyncIterable<TaskStreamEvent>): Promise<TaskStreamEvent[]> {
  const events: TaskStreamEvent[] = []
  for await (const event of stream) events.push(event)
  return events
}

const deltas = (events: readonly TaskStreamEvent[]) =>
  events.flatMap((e) => (e.type === 'delta' ? [e.text] : []))

/** Until `backend` runs nothing: its one sequence is free again. */
const idle = (backend: LlamaBackend) =>
  until(() => backend.loadedModels().every((m) => m.activeTasks === 0), 5_000, 'the slot given back')

describe('streaming a generation from a peer', () => {
  it('announces each generative model with its hash, family, quantization and context length', () => {
    const models = a.directory.record(b.peerId)?.capabilities?.models
    expect(models).toContainEqual(
      expect.objectContaining({ id: 'tiny', taskTypes: ['generate'], family: 'llama', quantization: 'F32' }),
    )
    expect(models?.find((m) => m.id === ENDLESS)).toMatchObject({ contextLength: 4096 })
    expect(models?.every((m) => /^[0-9a-f]{64}$/.test(m.sha256))).toBe(true)
  })

  it('streams deltas while it runs that concatenate to the signed text', async () => {
    const handle = b.exchange.submit<GenerateOutput>(
      { type: 'generate', input: long(250) },
      { target: a.peerId },
    )
    const arrivals: number[] = []
    const events: TaskStreamEvent[] = []
    for await (const event of handle.stream()) {
      arrivals.push(performance.now())
      events.push(event)
    }
    const output = await handle.output()
    expect(events.every((e) => e.type === 'delta')).toBe(true)
    expect(deltas(events).join('')).toBe(output.text)
    expect(output).toMatchObject({ finishReason: 'length', usage: { completionTokens: 250 } })
    // Tokens arrive as they are made (coalesced per 100 ms by the engine), not all at the end.
    expect(events.length).toBeGreaterThan(1)
    // A stream read after the fact replays the whole text.
    expect(deltas(await collect(handle.stream())).join('')).toBe(output.text)
  })

  it('writes the same text with greedy decoding on every run and on both nodes', async () => {
    const chat = { messages: [{ role: 'user', content: 'Hi there!' }], maxTokens: 32 }
    const texts = []
    for (const target of ['local', b.peerId]) {
      const handle = a.exchange.submit<GenerateOutput>({ type: 'generate', input: chat }, { target })
      texts.push(deltas(await collect(handle.stream())).join(''), (await handle.output()).text)
    }
    expect(new Set(texts)).toEqual(new Set([SYNTHETIC_REPLY]))
  })

  it('routes by model family, quantization and context length', async () => {
    const ok = a.exchange.submit(
      { type: 'generate', input: { prompt: 'Once', maxTokens: 2 } },
      { allowLocal: false, model: { family: 'llama', quantization: 'F32', minContextLength: 4096 } },
    )
    expect((await ok.result()).peer).toBe(b.peerId)
    const none = a.exchange.submit(
      { type: 'generate', input: { prompt: 'Once', maxTokens: 2 } },
      { model: { family: 'qwen2' }, waitForPeerMs: 0 },
    )
    expect((await none.result()).error?.code).toBe('ERR_NO_CAPABLE_PEER')
  })

  it('refuses redundancy over sampling without a seed, with a coded error', () => {
    const sampled = { type: 'generate', input: { prompt: 'Once', temperature: 0.8 } }
    expect(() => a.exchange.submit(sampled, { redundancy: 2 })).toThrow(
      expect.objectContaining({ code: 'ERR_NONDETERMINISTIC_TASK' }),
    )
    // Seeded sampling repeats itself, and greedy decoding is the default: both may be verified.
    const seeded = a.exchange.submit({ ...sampled, input: { ...sampled.input, seed: 7 } }, { redundancy: 2 })
    seeded.cancel()
  })

  it('agrees across two providers under greedy decoding, and streams the accepted text', async () => {
    const handle = a.exchange.submit<GenerateOutput>(
      { type: 'generate', input: { prompt: 'Once upon a time', maxTokens: 9 } },
      { redundancy: 2 },
    )
    expect(deltas(await collect(handle.stream()))).toEqual([SYNTHETIC_COMPLETION])
    const record = await handle.result()
    expect(record.redundancy?.answers).toEqual([
      expect.objectContaining({ agreed: true }),
      expect.objectContaining({ agreed: true }),
    ])
  })
})

describe('cancelling a remote generation', () => {
  it('stops the provider’s model when the requester cancels, and frees its slot', async () => {
    const handle = a.exchange.submit({ type: 'generate', input: long(4000) }, { target: b.peerId })
    const stream = handle.stream()
    await stream.next()
    expect(handle.cancel()).toBe(true)
    await expect(stream.next()).rejects.toMatchObject({ code: 'ERR_CANCELLED' })
    await idle(llamaB)
    // The one slot serves the next task: the cancelled generation is not still running.
    const next = a.exchange.submit<GenerateOutput>(
      { type: 'generate', input: { prompt: 'Once upon a time', maxTokens: 9 } },
      { target: b.peerId },
    )
    expect((await next.output()).text).toBe(SYNTHETIC_COMPLETION)
  })

  it('stops reading on the stream’s own signal, leaving the task running', async () => {
    const handle = a.exchange.submit({ type: 'generate', input: long(200) }, { target: b.peerId })
    const controller = new AbortController()
    const stream = handle.stream({ signal: controller.signal })
    await stream.next()
    controller.abort()
    await expect(stream.next()).rejects.toThrow()
    expect((await handle.result()).status).toBe('COMPLETED')
  })
})

describe('a requester that does not speak minor 3', () => {
  async function request(input: JsonObject) {
    const raw = await rawTaskStream({ transport: old.transport } as ExchangeNode, b)
    const payload = createTaskRequest({ requester: old.identity.peerId, taskType: 'generate', input })
    raw.send(JSON.parse(sealEnvelope(old.identity, 'task.request', payload).json))
    return { raw, id: payload.id }
  }

  it('gets progress without deltas and the whole text in the signed result', async () => {
    const { raw } = await request(long(100))
    const frames: Array<{ type: string; payload: Record<string, unknown> }> = []
    for (;;) {
      const frame = (await raw.next()) as { type: string; payload: Record<string, unknown> }
      frames.push(frame)
      if (frame.type === 'task.result') break
    }
    await raw.close()
    expect(frames[0]?.type).toBe('task.accept')
    expect(frames.filter((f) => f.type === 'task.progress').every((f) => !('delta' in f.payload))).toBe(true)
    const output = frames.at(-1)?.payload.output as GenerateOutput
    expect(output.text.startsWith(`${SYNTHETIC_COMPLETION} `)).toBe(true)
    expect(output.usage.completionTokens).toBe(100)
  })

  it('stops the generation and frees the slot when its stream is reset', async () => {
    const { raw } = await request(long(4000))
    expect(await raw.next()).toMatchObject({ type: 'task.accept' })
    await until(() => llamaB.loadedModels().some((m) => m.activeTasks === 1), 5_000, 'running')
    raw.abort()
    await idle(llamaB)
  })
})

describe('failover during a generation', () => {
  it('restarts it elsewhere and says so in the stream', async () => {
    // A's one slot is busy, so the task goes to B first.
    const blocker = a.exchange.submit({ type: 'generate', input: long(4000) }, { target: 'local' })
    await until(() => llamaA.loadedModels().some((m) => m.activeTasks === 1), 5_000, 'A busy')
    // And A has heard that B is free again: an earlier test's task there reaches A's view of B's
    // load only with B's next announcement, and a B that still looks busy would tie with A.
    await until(
      () => a.directory.record(b.peerId)?.othersLoad === 0 && a.directory.record(b.peerId)?.outstanding === 0,
      5_000,
      'B free as A sees it',
    )
    const handle = a.exchange.submit<GenerateOutput>({ type: 'generate', input: long(400) })
    const stream = handle.stream()
    const first = await stream.next()
    expect(first.value).toMatchObject({ type: 'delta' })
    expect(handle.record().peer).toBe(b.peerId)
    blocker.cancel()
    // B gives up on the task mid-generation (as a provider that stops would): A runs it itself.
    b.engine.cancel(`${a.peerId}:${handle.id}`)
    const events = [first.value as TaskStreamEvent]
    for await (const event of stream) events.push(event)
    const restart = events.findIndex((e) => e.type === 'restart')
    expect(events[restart]).toMatchObject({
      type: 'restart',
      peer: b.peerId,
      reason: { code: 'ERR_CANCELLED' },
      discarded: deltas(events.slice(0, restart)).join('').length,
    })
    const output = await handle.output()
    expect(deltas(events.slice(restart)).join('')).toBe(output.text)
    expect(handle.record().peer).toBe(a.peerId)
    expect(output.usage.completionTokens).toBe(400)
  })
})

describe('a failed stream', () => {
  it('rejects like output() does', async () => {
    const handle = a.exchange.submit(
      { type: 'generate', input: { model: 'missing', prompt: 'x' } },
      { target: b.peerId },
    )
    await expect(collect(handle.stream())).rejects.toBeInstanceOf(TaskFailedError)
  })
})

describe('what an older peer is sent', () => {
  const caps = {
    protocolMinor: 3,
    taskTypes: ['generate'],
    models: [
      {
        id: 'tiny',
        sha256: 'a'.repeat(64),
        taskTypes: ['generate'],
        family: 'llama',
        quantization: 'F32',
        contextLength: 4096,
      },
    ],
    concurrency: 1,
    load: { running: 0, queued: 0 },
    reach: [{ taskType: 'ocr', hops: 2, via: '12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5' }],
  }

  it('announces generative model fields only to minor 3, and reach only from minor 1', () => {
    expect(capabilitiesFor(caps, 3)).toBe(caps)
    expect(capabilitiesFor(caps, 2)).toEqual({
      ...caps,
      models: [{ id: 'tiny', sha256: 'a'.repeat(64), taskTypes: ['generate'] }],
    })
    const { reach: _, ...noReach } = capabilitiesFor(caps, 2)
    expect(capabilitiesFor(caps, undefined)).toEqual(noReach)
  })

  it('splits a long batch of text into deltas without cutting a character in two', () => {
    const text = `${'a'.repeat(4)}😀${'b'.repeat(4)}`
    const pieces = splitText(text, 5)
    expect(pieces.join('')).toBe(text)
    expect(pieces.every((p) => p.length <= 5 && !/[\uD800-\uDBFF]$/.test(p))).toBe(true)
    expect(splitText('short', 5)).toEqual(['short'])
  })
})
