/**
 * The node speaks docs/protocol.md as written: the places an independent client found ambiguous,
 * decided and pinned here, each against a hand-driven stream.
 */
import {
  ANNOUNCE_PROTOCOL,
  createTaskRequest,
  encodeFrame,
  sealEnvelope,
  type TaskResult,
} from '@p2p-ai/protocol'
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
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop().catch(() => {})))
})

async function pair(providerInit: Parameters<typeof exchangeNode>[0] = { backends: [mock()] }) {
  const [requester, provider] = await Promise.all([exchangeNode(), exchangeNode(providerInit)])
  nodes.push(requester, provider)
  await mesh([requester, provider])
  const stream = await rawTaskStream(requester, provider)
  const request = (init: Partial<Parameters<typeof createTaskRequest>[0]> = {}) =>
    sealEnvelope(
      requester.identity,
      'task.request',
      createTaskRequest({ requester: requester.peerId, taskType: 'mock', input: { text: 'x' }, ...init }),
    )
  return { requester, provider, stream, request }
}

interface Frame {
  readonly type?: string
  readonly payload: Record<string, unknown>
}

/** Reads frames until one of `type` arrives (progress may come in between). */
async function nextOf(stream: Awaited<ReturnType<typeof pair>>['stream'], type: string): Promise<Frame> {
  for (;;) {
    const frame = (await stream.next()) as Frame
    if (frame.type === type) return frame
  }
}

describe('docs/protocol.md, as the node reads it', () => {
  it('§2.1: never closes a stream because a conversation ended; closes its side once the requester closed its own', async () => {
    const { stream, request } = await pair()
    const first = request()
    stream.send(first.envelope)
    expect(await nextOf(stream, 'task.result')).toMatchObject({ payload: { id: first.envelope.payload.id } })
    // The stream is still open: a second task goes on it.
    const second = request()
    stream.send(second.envelope)
    expect(await nextOf(stream, 'task.result')).toMatchObject({
      payload: { id: second.envelope.payload.id, status: 'completed' },
    })
    // A one-task client closes its writing side after its result: the provider closes its own.
    await stream.close()
    expect(await stream.closed).toBeUndefined()
  })

  it('§2.3: answers a second request joining an open conversation with an accept of its own, and one result quoting the newest request', async () => {
    const { stream, request } = await pair()
    const id = 'joined-task-0001'
    const first = request({ id, input: { latencyMs: 400 } })
    stream.send(first.envelope)
    expect(await nextOf(stream, 'task.accept')).toMatchObject({ payload: { id } })
    const again = request({ id, input: { latencyMs: 400 } })
    stream.send(again.envelope)
    expect(await nextOf(stream, 'task.accept')).toMatchObject({ payload: { id } })
    const result = await nextOf(stream, 'task.result')
    expect(result.payload).toMatchObject({ id, status: 'completed', requestHash: again.digest })
  })

  it('§2.3, §7: drops a message of a type it does not know, and keeps serving the stream', async () => {
    const { requester, stream, request } = await pair()
    stream.send({
      v: 1,
      type: 'task.bid',
      from: requester.peerId,
      ts: Date.now(),
      nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
      payload: { id: 'bid-for-a-task-01' },
      sig: 'A'.repeat(86),
    })
    const good = request()
    stream.send(good.envelope)
    // The first answer on the stream is for the good request: the unknown message got none.
    expect(await stream.next()).toMatchObject({
      type: 'task.accept',
      payload: { id: good.envelope.payload.id },
    })
  })

  it('§5.5: timings add up (queuedMs + runMs ≤ totalMs), also for a task that timed out while running', async () => {
    const { provider, stream, request } = await pair({ backends: [mock()], concurrency: 1 })
    const quick = request({ input: { latencyMs: 20 } })
    stream.send(quick.envelope)
    const done = (await nextOf(stream, 'task.result')).payload as unknown as TaskResult
    expect(done.status).toBe('completed')
    expect(done.timings.queuedMs + done.timings.runMs).toBeLessThanOrEqual(done.timings.totalMs)
    expect(done.timings.runMs).toBeGreaterThanOrEqual(15)

    const slow = request({ input: { latencyMs: 5_000 }, timeoutMs: 300 })
    stream.send(slow.envelope)
    const late = (await nextOf(stream, 'task.result')).payload as unknown as TaskResult
    expect(late).toMatchObject({ status: 'timeout', error: { code: 'ERR_TIMEOUT' } })
    // It started at once and ran until the deadline: its run time says so.
    expect(late.timings.runMs).toBeGreaterThan(200)
    expect(late.timings.queuedMs + late.timings.runMs).toBeLessThanOrEqual(late.timings.totalMs)
    // The provider's own record says what the wire said (it is not a cancellation).
    const engineId = `${slow.envelope.payload.requester}:${slow.envelope.payload.id}`
    expect(provider.engine.get(engineId)).toMatchObject({
      status: 'TIMEOUT',
      error: { code: 'ERR_TASK_TIMEOUT' },
    })
  })

  it('§2.1 rule 5: counts timeoutMs from receipt, queueing included: a task that waited out its time ends timeout without running', async () => {
    const { provider, stream, request } = await pair({ backends: [mock()], concurrency: 1 })
    const blocker = request({ input: { latencyMs: 800 } })
    stream.send(blocker.envelope)
    await nextOf(stream, 'task.accept')
    const queued = request({ input: { latencyMs: 10 }, timeoutMs: 200 })
    stream.send(queued.envelope)
    const late = (await nextOf(stream, 'task.result')).payload as unknown as TaskResult
    expect(late).toMatchObject({ id: queued.envelope.payload.id, status: 'timeout' })
    expect(late.timings.runMs).toBe(0)
    const engineId = `${queued.envelope.payload.requester}:${queued.envelope.payload.id}`
    expect(provider.engine.get(engineId)?.status).toBe('TIMEOUT')
  })

  it('§2.2: closes an announce stream only once it took the announcement, and resets one it refuses', async () => {
    const { requester, provider } = await pair()
    const connection = requester.transport.getConnections(provider.transport.peerId)[0]
    if (connection === undefined) throw new Error('not connected')
    const caps = {
      protocolMinor: 2,
      taskTypes: ['announced-here'],
      models: [],
      concurrency: 3,
      load: { running: 0, queued: 0 },
    }
    const stream = await connection.newStream(ANNOUNCE_PROTOCOL)
    stream.send(encodeFrame(sealEnvelope(requester.identity, 'capabilities', caps).envelope))
    await stream.close()
    for await (const _ of stream) {
      // nothing comes back: only the end of the stream, the acknowledgement
    }
    // Acknowledged means taken: the provider knows it already.
    expect(provider.directory.get(requester.peerId)?.capabilities?.taskTypes).toEqual(['announced-here'])

    const refused = await connection.newStream(ANNOUNCE_PROTOCOL)
    const reset = new Promise<Error | undefined>((resolve) => {
      refused.addEventListener('close', (evt) => resolve(evt.error))
    })
    refused.send(encodeFrame({ v: 1, type: 'capabilities', payload: caps }))
    await refused.close().catch(() => {})
    expect(await reset).toBeInstanceOf(Error)
    await until(() => provider.directory.get(requester.peerId) !== undefined)
  })
})
