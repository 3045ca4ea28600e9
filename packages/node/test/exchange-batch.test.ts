import { defaultEd25519, type Ed25519Provider } from '@p2p-ai/identity'
import {
  ANNOUNCE_PROTOCOL,
  batchCache,
  createTaskRequest,
  type Envelope,
  encodeFrame,
  openEnvelope,
  prepareEnvelope,
  replayCache,
  sealEnvelope,
  sealPrepared,
  TASK_PROTOCOL,
} from '@p2p-ai/protocol'
import { createTransport, type Transport } from '@p2p-ai/transport'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type ExchangeNode,
  exchangeNode,
  mesh,
  mock,
  rawTaskStream,
  until,
} from './fixtures/exchange-harness.js'

const nodes: ExchangeNode[] = []
const transports: Transport[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
  await Promise.all(transports.splice(0).map((t) => t.stop()))
})

async function spawnNodes(...inits: Parameters<typeof exchangeNode>[0][]): Promise<ExchangeNode[]> {
  const created = await Promise.all(inits.map((init) => exchangeNode(init)))
  nodes.push(...created)
  await mesh(created)
  return created
}

/** Ed25519 that counts the signatures it makes and checks. */
function counting(): { crypto: Ed25519Provider; signs: () => number; verifies: () => number } {
  const real = defaultEd25519()
  let signs = 0
  let verifies = 0
  return {
    crypto: {
      ...real,
      name: real.name,
      sign: (seed, data) => {
        signs++
        return real.sign(seed, data)
      },
      verify: (publicKey, data, signature) => {
        verifies++
        return real.verify(publicKey, data, signature)
      },
    },
    signs: () => signs,
    verifies: () => verifies,
  }
}

/** The next `count` frames of a raw stream that are results, in arrival order. */
async function results(
  stream: Awaited<ReturnType<typeof rawTaskStream>>,
  count: number,
): Promise<Envelope[]> {
  const out: Envelope[] = []
  while (out.length < count) {
    const frame = (await stream.next(10_000)) as { type?: string }
    if (frame.type === 'task.result') out.push(frame as Envelope)
  }
  return out
}

describe('batch signatures between nodes that speak minor 2', () => {
  it('verifies many concurrent tasks with far fewer Ed25519 checks than tasks, every result still verified', async () => {
    const requesterCrypto = counting()
    const providerCrypto = counting()
    const [requester, provider] = await spawnNodes(
      { exchange: { crypto: requesterCrypto.crypto } },
      { backends: [mock()], concurrency: 16, exchange: { crypto: providerCrypto.crypto } },
    )
    const before = { requester: requesterCrypto.verifies(), provider: providerCrypto.verifies() }
    const tasks = 96
    const records = await Promise.all(
      Array.from({ length: tasks }, (_, i) =>
        requester!.exchange
          .submit({ type: 'mock', input: { text: `task ${i}` } }, { target: provider!.peerId })
          .result(),
      ),
    )
    expect(records.map((r) => r.status)).toEqual(Array(tasks).fill('COMPLETED'))
    for (const [i, r] of records.entries()) expect(r.output).toMatchObject({ text: `task ${i}` })
    // Requests that left together were checked together on the provider, and so were results on
    // the requester; announcements (signed alone) account for the few extra checks.
    const providerChecks = providerCrypto.verifies() - before.provider
    const requesterChecks = requesterCrypto.verifies() - before.requester
    expect(providerChecks).toBeLessThan(tasks / 4)
    expect(requesterChecks).toBeLessThan(tasks / 2)
  })

  it('answers requests that share a batch signature with results that share one too, each verifiable on its own', async () => {
    const [requester, provider] = await spawnNodes({}, { backends: [mock()], concurrency: 32 })
    const stream = await rawTaskStream(requester!, provider!)
    const prepared = Array.from({ length: 24 }, (_, i) =>
      prepareEnvelope(
        requester!.identity,
        'task.request',
        createTaskRequest({ requester: requester!.peerId, taskType: 'mock', input: { text: `t${i}` } }),
      ),
    )
    const requests = sealPrepared(requester!.identity, prepared)
    expect(requests.every((r) => r.envelope.batch?.size === 24)).toBe(true)
    stream.write(Buffer.concat(requests.map((r) => encodeFrame(r.envelope))))
    const answers = await results(stream, 24)
    const replays = replayCache()
    const byDigest = new Map(prepared.map((p) => [p.digest, p.unsigned.payload.id]))
    for (const answer of answers) {
      // Without a batch cache: each result proves itself, as it would to a third party.
      const opened = openEnvelope(answer, { replayCache: replays, expectedSender: provider!.peerId })
      const result = opened.envelope.payload as { id: string; requestHash: string; status: string }
      expect(result.status).toBe('completed')
      expect(byDigest.get(result.requestHash)).toBe(result.id)
    }
    expect(answers.some((a) => a.batch !== undefined)).toBe(true)
    await stream.close()
  })

  it('refuses the one envelope of a batch that was changed, and runs the others', async () => {
    const [requester, provider] = await spawnNodes({}, { backends: [mock()], concurrency: 8 })
    const stream = await rawTaskStream(requester!, provider!)
    const prepared = Array.from({ length: 5 }, (_, i) =>
      prepareEnvelope(
        requester!.identity,
        'task.request',
        createTaskRequest({ requester: requester!.peerId, taskType: 'mock', input: { text: `t${i}` } }),
      ),
    )
    const envelopes = sealPrepared(requester!.identity, prepared).map((s) => structuredClone(s.envelope))
    const tampered = envelopes[2] as Envelope<'task.request'>
    tampered.payload.input = { text: 'changed after signing' }
    stream.write(Buffer.concat(envelopes.map((e) => encodeFrame(e))))
    const seen = new Map<string, { type: string; payload: { error?: { code: string } } }>()
    while (seen.size < 5) {
      const frame = (await stream.next(10_000)) as {
        type: string
        payload: { id: string; error?: { code: string } }
      }
      if (frame.type === 'task.reject' || frame.type === 'task.result') seen.set(frame.payload.id, frame)
    }
    expect(seen.get(tampered.payload.id)).toMatchObject({
      type: 'task.reject',
      payload: { error: { code: 'ERR_BAD_SIGNATURE' } },
    })
    const others = envelopes.filter((e) => e !== tampered).map((e) => seen.get(e.payload.id as string)?.type)
    expect(others).toEqual(['task.result', 'task.result', 'task.result', 'task.result'])
    await stream.close()
  })

  it('signs every result on its own for a peer that announced an older minor version', async () => {
    const [provider] = await spawnNodes({ backends: [mock()], concurrency: 32 })
    const { generateIdentity } = await import('@p2p-ai/identity')
    const identity = generateIdentity()
    const old = await createTransport({ identity, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    transports.push(old)
    await old.dial(provider!.transport.getMultiaddrs()[0] as never)
    const caps = sealEnvelope(identity, 'capabilities', {
      protocolMinor: 1,
      taskTypes: [],
      models: [],
      concurrency: 1,
      load: { running: 0, queued: 0 },
    })
    const announce = await old.dialProtocol(provider!.transport.peerId, ANNOUNCE_PROTOCOL)
    announce.send(encodeFrame(caps.envelope))
    await announce.close()
    await until(
      () => provider!.peers().some((p) => p.peerId === identity.peerId && p.capabilities !== undefined),
      5_000,
      'the old peer announced',
    )
    const stream = await old.dialProtocol(provider!.transport.peerId, TASK_PROTOCOL)
    const { frameDecoder } = await import('@p2p-ai/protocol')
    const decoder = frameDecoder()
    const answers: Envelope[] = []
    stream.addEventListener('message', (evt) => {
      const chunks = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]
      for (const chunk of chunks) {
        for (const frame of decoder.push(chunk)) {
          if (frame.ok && (frame.value as { type?: string }).type === 'task.result')
            answers.push(frame.value as Envelope)
        }
      }
    })
    const requests = Array.from({ length: 20 }, (_, i) =>
      sealEnvelope(
        identity,
        'task.request',
        createTaskRequest({ requester: identity.peerId, taskType: 'mock', input: { text: `t${i}` } }),
      ),
    )
    stream.send(Buffer.concat(requests.map((r) => encodeFrame(r.envelope))))
    await until(() => answers.length === 20, 10_000, 'twenty results')
    expect(answers.every((a) => typeof a.sig === 'string' && a.batch === undefined)).toBe(true)
    const cache = batchCache()
    const replays = replayCache()
    for (const answer of answers) {
      openEnvelope(answer, { replayCache: replays, batchCache: cache, expectedSender: provider!.peerId })
    }
    await stream.close()
  })
})
