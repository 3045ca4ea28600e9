import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TRACE_PROTOCOL, type TraceSpan } from '@p2p-ai/protocol'
import { tracing } from '@p2p-ai/tracing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createNode } from '../src/create.js'
import { tracingCheck } from '../src/health/checks.js'
import type { P2PNode } from '../src/node.js'
import type { TraceService } from '../src/tracing/trace-service.js'
import { NodeTraces } from '../src/tracing/traces.js'
import type { TracingFactory } from '../src/tracing/types.js'
import { capturedLogger, localInit } from './helpers.js'

// One line of nodes for the file: A – B – C, linked to their neighbours only. C runs `whoami`, and
// B and C run `echo`; A reaches `whoami` only through B. D records nothing it starts (sampled at 0).
let dir: string
let a: P2PNode
let b: P2PNode
let c: P2PNode
let d: P2PNode

const aLog = capturedLogger()
const cLog = capturedLogger()

// The plug-in's factory is the node's seam: it type-checks as one.
const inMemory = (sampleRate = 1): TracingFactory => tracing({ sampleRate, store: { inMemory: true } })

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const knows = (x: P2PNode, y: P2PNode) =>
  x.peers().some((p) => p.peerId === y.peerId && p.status === 'connected' && p.capabilities !== undefined)

async function link(x: P2PNode, y: P2PNode): Promise<void> {
  await x.connect(y.getMultiaddrs()[0] as string)
  await until(() => knows(x, y) && knows(y, x), 'capabilities both ways')
}

function provide(node: P2PNode, name: string): void {
  node.registerTask({
    name,
    input: z.strictObject({}),
    // whoami tells who ran it; echo answers the same everywhere, so redundant runs agree.
    run: () => (name === 'whoami' ? { ranOn: node.peerId } : { echo: true }),
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-tracing-'))
  const make = (name: string, tracer: TracingFactory, log?: ReturnType<typeof capturedLogger>) =>
    createNode(
      localInit(join(dir, name), {
        tracer,
        health: { intervalMs: 60_000 },
        ...(log === undefined ? {} : { logger: log.logger, log: { level: 'debug' } }),
      }),
    )
  ;[a, b, c, d] = await Promise.all([
    make('a', inMemory(), aLog),
    make('b', inMemory()),
    make('c', inMemory(), cLog),
    make('d', inMemory(0)),
  ])
  provide(c, 'whoami')
  provide(b, 'echo')
  provide(c, 'echo')
  await link(a, b)
  await link(b, c)
  await link(d, b)
  await until(
    () => a.peers().some((p) => p.capabilities?.reach?.some((r) => r.taskType === 'whoami') === true),
    'A learning that B reaches whoami',
  )
})

afterAll(async () => {
  await Promise.all([a, b, c, d].map((node) => node?.stop()))
  await rm(dir, { recursive: true, force: true })
})

const byName = (spans: readonly TraceSpan[], node: P2PNode, name: string): TraceSpan[] =>
  spans.filter((s) => s.node === node.peerId && s.name === name)

function only(spans: readonly TraceSpan[], node: P2PNode, name: string): TraceSpan {
  const found = byName(spans, node, name)
  expect(found, `${name} on ${node.peerId}`).toHaveLength(1)
  return found[0] as TraceSpan
}

describe('tracing a task across nodes (docs/protocol.md §2.7)', () => {
  it('follows a forwarded task through the requester, the relay and the provider in one trace, hop by hop', async () => {
    const record = await a.submit({ type: 'whoami', input: {} }).result()
    expect(record).toMatchObject({ status: 'COMPLETED', provider: c.peerId })
    expect(record.traceId).toMatch(/^[0-9a-f]{32}$/)

    const trace = await a.traces?.get(record.id)
    expect(trace).toMatchObject({ traceId: record.traceId, taskId: record.id, self: a.peerId, missing: [] })
    const spans = trace?.spans ?? []
    const task = only(spans, a, 'task')
    const attempt = only(spans, a, 'attempt')
    const relay = only(spans, b, 'relay')
    const onward = only(spans, b, 'attempt')
    const serve = only(spans, c, 'serve')
    const run = only(spans, c, 'run')
    const queue = only(spans, c, 'queue')
    // Each node's span hangs under the span of the node that sent it the task.
    expect(task.parentId).toBeUndefined()
    expect(attempt).toMatchObject({ parentId: task.spanId, kind: 'client', status: 'ok' })
    expect(attempt.attributes).toMatchObject({ 'p2p_ai.peer': b.peerId, 'p2p_ai.route': 'forward' })
    expect(relay).toMatchObject({ parentId: attempt.spanId, kind: 'server' })
    expect(relay.attributes).toMatchObject({ 'p2p_ai.from': a.peerId, 'p2p_ai.task.id': record.id })
    expect(onward).toMatchObject({ parentId: relay.spanId, attributes: { 'p2p_ai.peer': c.peerId } })
    expect(serve).toMatchObject({ parentId: onward.spanId, attributes: { 'p2p_ai.from': b.peerId } })
    expect([queue.parentId, run.parentId]).toEqual([serve.spanId, serve.spanId])
    // On one clock (one process), each span lies within its parent's, to OpenTelemetry's grain:
    // the SDK anchors each span to Date.now(), so two spans' clocks may differ by up to 1 ms.
    const GRAIN_US = 1_000
    for (const [outer, inner] of [
      [task, attempt],
      [serve, run],
    ] as const) {
      expect(inner.startUs).toBeGreaterThanOrEqual(outer.startUs - GRAIN_US)
      expect(inner.endUs).toBeLessThanOrEqual(outer.endUs + GRAIN_US)
    }
    // The log lines about the task carry its trace id on the requester and on the provider, so a
    // log search and the trace lead to each other.
    const about = (log: ReturnType<typeof capturedLogger>, msg: string) =>
      log.lines().filter((line) => line.taskId === record.id && line.msg === msg)
    expect(about(aLog, 'task done')).toEqual([expect.objectContaining({ traceId: record.traceId })])
    expect(about(cLog, 'task finished')).toEqual([expect.objectContaining({ traceId: record.traceId })])
  })

  it('records each replica of a redundant task, and each failed attempt, as spans of their own', async () => {
    // B and C run echo: with k = 2, B runs one replica itself and sends the other to C.
    const redundant = await b.submit({ type: 'echo', input: {} }, { redundancy: 2 }).result()
    expect(redundant.status).toBe('COMPLETED')
    const spans = (await b.traces?.get(redundant.id))?.spans ?? []
    const task = only(spans, b, 'task')
    const replicas = byName(spans, b, 'replica')
    expect(replicas.map((r) => r.parentId)).toEqual([task.spanId, task.spanId])
    expect(new Set(replicas.map((r) => r.attributes?.['p2p_ai.replica']))).toEqual(new Set([1, 2]))
    const attempts = byName(spans, b, 'attempt')
    expect(new Set(attempts.map((x) => x.attributes?.['p2p_ai.route']))).toEqual(new Set(['local', 'direct']))
    // The local run's queue and run are B's; the other replica's are C's, under C's serve.
    const serve = only(spans, c, 'serve')
    expect(byName(spans, c, 'run').map((r) => r.parentId)).toEqual([serve.spanId])
    expect(byName(spans, b, 'run')).toHaveLength(1)

    // A peer that refuses the task (unknown type at a pinned target): the attempt fails, with its code.
    const refused = await a.submit({ type: 'whoami', input: {} }, { target: b.peerId }).result()
    expect(refused.status).toBe('FAILED')
    const failed = (await a.traces?.get(refused.id, { remote: false }))?.spans ?? []
    expect(only(failed, a, 'attempt')).toMatchObject({
      status: 'error',
      attributes: { 'error.type': 'ERR_UNSUPPORTED_TASK' },
    })
    expect(only(failed, a, 'task')).toMatchObject({ status: 'error' })
  })

  it('records a failover as the failed attempt and the next, each under the task, the first with its code', async () => {
    // F reaches echo at E, which refuses F (allowlist), and at C: tasks sent to E fail over to C.
    const [e, f] = await Promise.all([
      createNode(
        localInit(join(dir, 'e-refuser'), {
          tracer: inMemory(),
          health: { intervalMs: 60_000 },
          access: { mode: 'allowlist', allowlist: [c.peerId] },
        }),
      ),
      createNode(localInit(join(dir, 'f'), { tracer: inMemory(), health: { intervalMs: 60_000 } })),
    ])
    try {
      provide(e, 'echo')
      await link(f, e)
      await link(f, c)
      // Submitted together, the router spreads them over both providers, so some meet E first.
      const records = await Promise.all(
        Array.from({ length: 4 }, () => f.submit({ type: 'echo', input: {} }).result()),
      )
      const failedOver = records.find((r) => r.attempts.length > 0)
      expect(failedOver).toMatchObject({ status: 'COMPLETED', peer: c.peerId })
      const spans = (await f.traces?.get(failedOver?.id as string, { remote: false }))?.spans ?? []
      const task = only(spans, f, 'task')
      const attempts = byName(spans, f, 'attempt').sort(
        (x, y) => Number(x.attributes?.['p2p_ai.attempt']) - Number(y.attributes?.['p2p_ai.attempt']),
      )
      expect(attempts).toMatchObject([
        {
          parentId: task.spanId,
          status: 'error',
          attributes: { 'p2p_ai.attempt': 1, 'p2p_ai.peer': e.peerId, 'error.type': 'ERR_ACCESS_DENIED' },
        },
        { parentId: task.spanId, status: 'ok', attributes: { 'p2p_ai.attempt': 2, 'p2p_ai.peer': c.peerId } },
      ])
    } finally {
      await Promise.all([e.stop(), f.stop()])
    }
  })

  it("follows the requester's sampling decision: a task D does not sample leaves no spans anywhere", async () => {
    const record = await d.submit({ type: 'echo', input: {} }, { target: b.peerId }).result()
    expect(record.status).toBe('COMPLETED')
    expect(record.traceId).toBeUndefined()
    expect(await d.traces?.get(record.id)).toBeUndefined()
    // B got a traceparent with the sampled flag clear, and recorded nothing of the task either.
    expect(b.engine.get(`${d.peerId}:${record.id}`)?.status).toBe('COMPLETED')
    expect(await b.traces?.get(record.id, { remote: false })).toBeUndefined()
  })

  it('answers a trace query only from a peer that sent it part of that trace', async () => {
    const record = await a.submit({ type: 'whoami', input: {} }).result()
    const traceId = record.traceId as string
    // C ran it for B: asked by D (which sent it nothing), it says nothing; asked by B, it answers.
    const { decodeFrames, encodeTraceMessage, readTraceMessage } = await import('@p2p-ai/protocol')
    const ask = async (from: P2PNode) => {
      await from.connect(c.getMultiaddrs()[0] as string)
      const stream = await from.transport.dialProtocol(
        from.transport.getConnections().find((x) => x.remotePeer.toString() === c.peerId)!.remotePeer,
        TRACE_PROTOCOL,
      )
      stream.send(encodeTraceMessage('trace.query', { traceId, hops: 0 }))
      await stream.close()
      for await (const frame of decodeFrames(stream)) {
        if (frame.ok) return readTraceMessage(frame.value, 'trace.spans')
      }
      throw new Error('no answer')
    }
    expect((await ask(d)).spans).toEqual([])
    const answer = await ask(b)
    expect(answer.spans.map((s) => s.name).sort()).toEqual(['queue', 'run', 'serve'])
  })

  it('reports tracing as a health component: degraded while the span store loses writes, healthy once it stops', async () => {
    expect(a.health()?.components.find((c) => c.name === 'tracing')).toMatchObject({
      status: 'healthy',
      detail: 'recording',
      local: false,
    })
    const store = { writeErrors: 0, add() {}, spans: async () => [], traceOf: () => undefined }
    const check = tracingCheck(store)
    const signal = new AbortController().signal
    expect(await check({ signal })).toEqual({ status: 'healthy', detail: 'recording' })
    store.writeErrors = 2
    expect(await check({ signal })).toMatchObject({
      status: 'degraded',
      detail: expect.stringMatching(/^losing spans: 2 span writes failed/),
    })
    expect(await check({ signal })).toEqual({
      status: 'healthy',
      detail: 'recording; 2 span writes failed since the node started',
    })
  })

  it('exports to the OTLP collector its settings name, with their headers, when it is given no tracer in code', async () => {
    const received: Array<{
      path: string | undefined
      type: string | undefined
      auth: string | undefined
      body: Buffer
    }> = []
    const collector = createServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      received.push({
        path: req.url,
        type: req.headers['content-type'],
        auth: req.headers.authorization,
        body: Buffer.concat(chunks),
      })
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve))
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`
    try {
      // The settings a config file or P2P_AI_TRACING__OTLP__* gives: the node loads @p2p-ai/tracing itself.
      const e = await createNode(
        localInit(join(dir, 'e'), {
          health: { intervalMs: 60_000 },
          tracing: { otlp: { endpoint, headers: ['Authorization=Bearer collector-token'] } },
        }),
      )
      provide(e, 'echo')
      const record = await e.submit({ type: 'echo', input: {} }).result()
      expect(record.traceId).toMatch(/^[0-9a-f]{32}$/)
      await e.stop()
      expect(received.length).toBeGreaterThan(0)
      expect(received[0]).toMatchObject({
        path: '/v1/traces',
        type: 'application/x-protobuf',
        auth: 'Bearer collector-token',
      })
      // Protobuf keeps strings as they are (the plug-in's test decodes the same bytes in full).
      const body = Buffer.concat(received.map((r) => r.body))
      expect(body.includes(Buffer.from(record.id))).toBe(true)
      expect(body.includes(Buffer.from(Buffer.from(record.traceId as string, 'hex')))).toBe(true)
    } finally {
      collector.close()
    }
  })

  it("keeps a peer's span once however often a trace is asked for", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const span = (spanId: string, node: string): TraceSpan => ({
      spanId,
      node,
      name: 'serve',
      kind: 'server',
      startUs: 1,
      endUs: 2,
      status: 'ok',
    })
    const kept: TraceSpan[] = [span('00f067aa0ba902b7', a.peerId)]
    const adds: string[][] = []
    const traces = new NodeTraces({
      self: a.peerId,
      store: {
        add: (_, spans) => {
          adds.push(spans.map((s) => s.spanId))
          kept.push(...spans)
        },
        spans: async () => [...kept],
        traceOf: () => traceId,
      },
      // The peers answer the same each time.
      service: {
        collect: async () => ({
          spans: [kept[0] as TraceSpan, span('b7ad6b7169203331', b.peerId)],
          missing: [],
        }),
      } as unknown as TraceService,
      traceOfTask: () => undefined,
      hops: 1,
    })
    for (const _ of [1, 2, 3]) expect((await traces.get('some-task'))?.spans).toHaveLength(2)
    expect(adds).toEqual([['b7ad6b7169203331']])
  })
})
