import type { Stream } from '@libp2p/interface'
import { generateIdentity, type Identity } from '@p2p-ai/identity'
import {
  createTaskRequest,
  encodeFrame,
  frameDecoder,
  openEnvelope,
  replayCache,
  sealEnvelope,
  TASK_PROTOCOL,
  type TaskResult,
} from '@p2p-ai/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { type ExchangeNode, exchangeNode, mesh, mock, rawTaskStream } from './fixtures/exchange-harness.js'

const nodes: ExchangeNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop().catch(() => {})))
})

async function spawnNodes(...inits: Parameters<typeof exchangeNode>[0][]): Promise<ExchangeNode[]> {
  const created = await Promise.all(inits.map((init) => exchangeNode(init)))
  nodes.push(...created)
  await mesh(created)
  return created
}

type Forgery = 'wrong-signer' | 'wrong-hash' | 'tampered' | 'unsigned' | 'oversize-frame'

/**
 * Makes `node` a dishonest provider: it accepts every request and answers with a result forged
 * the given way.
 */
async function forger(node: ExchangeNode, forgery: Forgery): Promise<void> {
  const mallory = generateIdentity()
  const seen = replayCache()
  await node.transport.unhandle(TASK_PROTOCOL)
  await node.transport.handle(TASK_PROTOCOL, (stream: Stream, connection) => {
    const decoder = frameDecoder()
    stream.addEventListener('message', (evt) => {
      const chunks = evt.data instanceof Uint8Array ? [evt.data] : [...evt.data]
      for (const chunk of chunks) {
        for (const frame of decoder.push(chunk)) {
          if (!frame.ok) continue
          const { envelope, digest } = openEnvelope(frame.value, {
            replayCache: seen,
            expectedSender: connection.remotePeer.toString(),
          })
          if (envelope.type !== 'task.request') continue
          const { id } = envelope.payload
          stream.send(encodeFrame({ v: 1, type: 'task.accept', payload: { id, queuePosition: 0 } }))
          stream.send(forge(forgery, node.identity, mallory, id, digest))
        }
      }
    })
  })
}

function forge(forgery: Forgery, self: Identity, mallory: Identity, id: string, digest: string): Uint8Array {
  const timings = { queuedMs: 0, runMs: 1, totalMs: 1 }
  const result: TaskResult = {
    id,
    requestHash: digest,
    status: 'completed',
    output: { forged: true },
    timings,
  }
  switch (forgery) {
    case 'wrong-signer':
      return encodeFrame(sealEnvelope(mallory, 'task.result', result).envelope)
    case 'wrong-hash':
      return encodeFrame(
        sealEnvelope(self, 'task.result', { ...result, requestHash: `${'A'.repeat(42)}A` }).envelope,
      )
    case 'tampered': {
      const { envelope } = sealEnvelope(self, 'task.result', result)
      return encodeFrame({ ...envelope, payload: { ...result, output: { forged: 'and tampered' } } })
    }
    case 'unsigned':
      return encodeFrame({ v: 1, type: 'task.result', payload: result })
    case 'oversize-frame':
      // A length prefix announcing 16 GiB: the requester must drop the stream, not buffer it.
      return Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x40])
  }
}

describe('results that do not verify', () => {
  const cases: Array<[Forgery, string]> = [
    ['wrong-signer', 'ERR_SIGNER_MISMATCH'],
    ['wrong-hash', 'ERR_RESULT_MISMATCH'],
    ['tampered', 'ERR_BAD_SIGNATURE'],
    ['unsigned', 'ERR_PROTOCOL_VIOLATION'],
    ['oversize-frame', 'ERR_PEER_DISCONNECTED'],
  ]
  it.each(cases)(
    'refuses a %s result (%s) and completes the task on an honest peer',
    async (forgery, code) => {
      const [requester, evil, honest] = await spawnNodes({}, { backends: [mock()] }, { backends: [mock()] })
      await forger(evil!, forgery)
      const records = await Promise.all(
        Array.from({ length: 4 }, (_, i) =>
          requester!.exchange.submit({ type: 'mock', input: { text: `t${i}` } }).result(),
        ),
      )
      for (const record of records) {
        expect(record).toMatchObject({ status: 'COMPLETED', peer: honest!.peerId })
        expect(record.output).not.toHaveProperty('forged')
      }
      const refused = records.flatMap((r) => r.attempts)
      expect(refused.length).toBeGreaterThan(0)
      for (const attempt of refused) expect(attempt).toMatchObject({ peer: evil!.peerId, error: { code } })
      const reputation = requester!.reputation(evil!.peerId)
      expect(reputation.failures).toBeGreaterThan(0)
      if (forgery !== 'oversize-frame') {
        expect(reputation.misbehaviour).toBeGreaterThan(0)
        expect(reputation.circuit).toBe('open')
      }
    },
  )
})

describe('requests that do not verify', () => {
  async function pair() {
    const [requester, provider] = await spawnNodes({}, { backends: [mock()] })
    const stream = await rawTaskStream(requester!, provider!)
    const request = (init: Partial<Parameters<typeof createTaskRequest>[0]> = {}) =>
      createTaskRequest({ requester: requester!.peerId, taskType: 'mock', input: { text: 'x' }, ...init })
    return { requester: requester!, provider: provider!, stream, request }
  }

  it('rejects a request signed by someone other than the connected peer', async () => {
    const { stream } = await pair()
    const mallory = generateIdentity()
    const forged = createTaskRequest({ requester: mallory.peerId, taskType: 'mock', input: {} })
    stream.send(sealEnvelope(mallory, 'task.request', forged).envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: forged.id, error: { code: 'ERR_SIGNER_MISMATCH' } },
    })
  })

  it('rejects a request whose input was changed after signing', async () => {
    const { requester, stream, request } = await pair()
    const payload = request()
    const { envelope } = sealEnvelope(requester.identity, 'task.request', payload)
    stream.send({ ...envelope, payload: { ...payload, input: { text: 'changed' } } })
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: payload.id, error: { code: 'ERR_BAD_SIGNATURE' } },
    })
  })

  it('rejects unsigned requests, unknown task types and replays, and keeps serving the stream', async () => {
    const { requester, provider, stream, request } = await pair()
    const unsigned = request()
    stream.send({ v: 1, type: 'task.request', payload: unsigned })
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: unsigned.id, error: { code: 'ERR_INVALID_MESSAGE' } },
    })
    const unknown = request({ taskType: 'no.such.type' })
    const refused = sealEnvelope(requester.identity, 'task.request', unknown)
    stream.send(refused.envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: unknown.id, error: { code: 'ERR_UNSUPPORTED_TASK' } },
    })
    // Not JSON, then a message type a requester must not send: both skipped.
    stream.write(Uint8Array.from([3, 0x7b, 0x7b, 0x7b]))
    stream.send({ v: 1, type: 'task.accept', payload: { id: unknown.id } })
    const good = sealEnvelope(requester.identity, 'task.request', request())
    stream.send(good.envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.accept',
      payload: { id: good.envelope.payload.id },
    })
    expect(await stream.next()).toMatchObject({
      type: 'task.result',
      payload: { id: good.envelope.payload.id, requestHash: good.digest, status: 'completed' },
    })
    // The same signed request again (a relay that failed over sends it by a second route) joins
    // the run it names: the same answer, and no second run.
    const accepted = provider.exchange.providerStats().accepted
    stream.send(good.envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.accept',
      payload: { id: good.envelope.payload.id },
    })
    expect(await stream.next()).toMatchObject({
      type: 'task.result',
      payload: { id: good.envelope.payload.id, requestHash: good.digest, status: 'completed' },
    })
    expect(provider.engine.list({ type: 'mock' })).toHaveLength(1)
    expect(provider.exchange.providerStats().accepted).toBe(accepted + 1)
    // A replay that names no run this node knows stays refused.
    stream.send(refused.envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: unknown.id, error: { code: 'ERR_REPLAYED_NONCE' } },
    })
  })

  it('drops a stream that announces an oversized frame, and serves the next stream', async () => {
    const { requester, provider, stream, request } = await pair()
    stream.write(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x40]))
    expect(await stream.closed).toBeDefined()
    // Held against the peer, though not yet enough for a ban.
    expect(provider.reputation(requester.peerId)).toMatchObject({ offences: 4, circuit: 'closed' })
    expect(provider.reputation(requester.peerId).bannedUntil).toBeUndefined()
    const again = await rawTaskStream(requester, provider)
    const next = sealEnvelope(requester.identity, 'task.request', request())
    again.send(next.envelope)
    expect(await again.next()).toMatchObject({ type: 'task.accept' })
    expect(await again.next()).toMatchObject({ type: 'task.result', payload: { status: 'completed' } })
  })
})

describe('idempotent re-execution', () => {
  it('answers a repeated task id from the first run instead of running it again', async () => {
    const [requester, provider] = await spawnNodes({}, {})
    let runs = 0
    provider!.exchange.registerTask({
      name: 'once',
      input: z.strictObject({ n: z.number() }),
      run: ({ n }) => {
        runs++
        return { doubled: n * 2 }
      },
    })
    const first = await rawTaskStream(requester!, provider!)
    const payload = createTaskRequest({ requester: requester!.peerId, taskType: 'once', input: { n: 21 } })
    first.send(sealEnvelope(requester!.identity, 'task.request', payload).envelope)
    expect(await first.next()).toMatchObject({ type: 'task.accept' })
    expect(await first.next()).toMatchObject({ type: 'task.result', payload: { output: { doubled: 42 } } })
    await first.close()
    // The requester lost the answer (say, its stream broke) and asks again with a fresh signature.
    const second = await rawTaskStream(requester!, provider!)
    const retry = sealEnvelope(requester!.identity, 'task.request', payload)
    second.send(retry.envelope)
    expect(await second.next()).toMatchObject({ type: 'task.accept' })
    expect(await second.next()).toMatchObject({
      type: 'task.result',
      payload: { requestHash: retry.digest, output: { doubled: 42 } },
    })
    expect(runs).toBe(1)
  })
})
