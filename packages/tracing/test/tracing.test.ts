import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type HrTime, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { type ReadableSpan, type SpanProcessor, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace'
import { readTraceMessage, type TraceSpan } from '@p2p-ai/protocol'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TRACE_STORE_FILE_NAME } from '../src/constants.js'
import { TracingOptionError } from '../src/errors.js'
import { traceStore } from '../src/store.js'
import { tracing } from '../src/tracing.js'

const PEER = '12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV'
const HOUR = 3_600_000

/**
 * The OTLP protobuf definitions, compiled by the OpenTelemetry project itself from the official
 * opentelemetry-proto files (protobufjs static code, shipped in an older `otlp-transformer`): an
 * encoder-independent decoder for what the exporter sends.
 */
interface OtlpRoot {
  opentelemetry: {
    proto: {
      collector: {
        trace: { v1: { ExportTraceServiceRequest: { decode(bytes: Uint8Array): OtlpRequest } } }
      }
    }
  }
}
interface OtlpValue {
  stringValue?: string
  intValue?: { toString(): string }
}
interface OtlpSpan {
  traceId: Uint8Array
  spanId: Uint8Array
  parentSpanId: Uint8Array
  name: string
  kind: number
  startTimeUnixNano: { toString(): string }
  endTimeUnixNano: { toString(): string }
  attributes: Array<{ key: string; value: OtlpValue }>
  status?: { code: number; message?: string }
}
interface OtlpRequest {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: OtlpValue }> }
    scopeSpans: Array<{ scope: { name: string }; spans: OtlpSpan[] }>
  }>
}
const otlp = createRequire(import.meta.url)('otlp-proto-definitions/build/src/generated/root.js') as OtlpRoot
const decodeRequest = (bytes: Uint8Array) =>
  otlp.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.decode(bytes)
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-tracing-plugin-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Records a task-like trace: a root `task` and an `attempt` under it. */
function record(tracerProvider: { getTracer(name: string): import('@opentelemetry/api').Tracer }) {
  const tracer = tracerProvider.getTracer('test')
  const task = tracer.startSpan(
    'task',
    { attributes: { 'p2p_ai.task.id': 'task-0001', 'p2p_ai.task.type': 'mock' } },
    ROOT_CONTEXT,
  )
  const attempt = tracer.startSpan(
    'attempt',
    { kind: SpanKind.CLIENT, attributes: { 'p2p_ai.attempt': 1, BadKey: 'dropped' } },
    trace.setSpan(ROOT_CONTEXT, task),
  )
  attempt.setStatus({ code: SpanStatusCode.ERROR, message: 'ERR_PEER_UNRESPONSIVE' })
  attempt.end()
  task.end()
  return {
    traceId: task.spanContext().traceId,
    task: task.spanContext().spanId,
    attempt: attempt.spanContext().spanId,
  }
}

describe('the tracing plug-in', () => {
  it('keeps spans in traces.db in the data directory (owner only), by trace and by task', async () => {
    const t = await tracing()({ peerId: PEER, dataDir: dir, agentVersion: 'p2p-ai/test' })
    const ids = record(t.tracerProvider)
    expect(t.store.traceOf('task-0001')).toBe(ids.traceId)
    // The earliest first; the two may start in the same microsecond, so by name here.
    const spans = (await t.store.spans(ids.traceId)).sort((a, b) => b.name.localeCompare(a.name))
    expect(spans).toEqual([
      expect.objectContaining({
        spanId: ids.task,
        node: PEER,
        name: 'task',
        kind: 'internal',
        status: 'unset',
      }),
      expect.objectContaining({ spanId: ids.attempt, parentId: ids.task, kind: 'client', status: 'error' }),
    ])
    // Attributes within the protocol's rules: a key the protocol would refuse is left out.
    expect(spans[1]?.attributes).toEqual({ 'p2p_ai.attempt': 1 })
    // Spans of other instrumentation (a user's own) get names the protocol takes, the same each time.
    const other = t.tracerProvider.getTracer('other')
    const names: string[] = []
    for (const [i, name] of ['GET /v1/Status', '9 lives', 'GET /v1/Status'].entries()) {
      other.startSpan(name, { attributes: { 'p2p_ai.task.id': `other-${i}` } }, ROOT_CONTEXT).end()
      for (const s of await t.store.spans(t.store.traceOf(`other-${i}`) as string)) names.push(s.name)
    }
    expect(names).toEqual(['get_v1_status', 'x9_lives', 'get_v1_status'])
    // As kept, the spans are what the trace protocol carries: a peer's schema takes them.
    const answer = { v: 1, type: 'trace.spans', payload: { traceId: ids.traceId, spans } }
    expect(readTraceMessage(answer, 'trace.spans').spans).toEqual(spans)
    expect(spans[0]?.endUs).toBeGreaterThanOrEqual(spans[0]?.startUs ?? Number.POSITIVE_INFINITY)
    await t.shutdown()
    expect((await stat(join(dir, TRACE_STORE_FILE_NAME))).mode & 0o777).toBe(0o600)
    // Across a restart: the file is reopened and the trace read back.
    const again = await tracing()({ peerId: PEER, dataDir: dir })
    expect((await again.store.spans(ids.traceId)).map((s) => s.name).sort()).toEqual(['attempt', 'task'])
    await again.shutdown()
  })

  it("records the node's own spans as lines of the store's batches, read back as the protocol's spans", async () => {
    const t = await tracing({ store: { inMemory: true } })({ peerId: PEER, dataDir: dir })
    const spans = t.spans
    if (spans === undefined) throw new Error('no span processor: the node records through `spans`')
    const task = spans.start('task', SpanKind.INTERNAL)
    task.setAttribute('p2p_ai.task.id', 'task-0003')
    task.setAttribute('note', 'a tab\there, a line\nthere, ünïcödé and \\')
    task.setAttribute('BadKey', 'left out')
    const attempt = spans.start('attempt', SpanKind.CLIENT, task)
    attempt.setAttribute('p2p_ai.attempt', 2)
    attempt.setAttribute('p2p_ai.retried', false)
    // A step known only once it is over (a task's queue and run): its line, and no span.
    const ranAt = performance.now()
    spans.record('run', attempt, ranAt - 2, ranAt)
    attempt.finish(SpanStatusCode.ERROR, 'ERR_PEER_UNRESPONSIVE')
    task.finish(SpanStatusCode.OK)
    // A peer's span that was not sampled: its context goes on, nothing is recorded.
    const unsampled = spans.startRemote('serve', SpanKind.SERVER, {
      traceId: task.traceId,
      spanId: attempt.spanId,
      flags: 0,
    })
    expect([unsampled.isRecording(), unsampled.traceId, unsampled.traceFlags]).toEqual([
      false,
      task.traceId,
      0,
    ])
    unsampled.finish(SpanStatusCode.OK)
    expect(t.store.traceOf('task-0003')).toBe(task.traceId)
    expect(t.store.recent(task.traceId)).toBe(true)
    expect(t.store.recent('4bf92f3577b34da6a3ce929d0e0e4737')).toBe(false)
    const all = await t.store.spans(task.traceId)
    const run = all.find((span) => span.name === 'run')
    expect(run).toMatchObject({ parentId: attempt.spanId, node: PEER, kind: 'internal', status: 'unset' })
    expect((run?.endUs ?? 0) - (run?.startUs ?? 0)).toBeGreaterThanOrEqual(1_999)
    const read = all.filter((span) => span !== run).sort((a, b) => b.name.localeCompare(a.name))
    expect(read).toEqual([
      {
        spanId: task.spanId,
        node: PEER,
        name: 'task',
        kind: 'internal',
        startUs: expect.any(Number),
        endUs: expect.any(Number),
        status: 'ok',
        attributes: { 'p2p_ai.task.id': 'task-0003', note: 'a tab\there, a line\nthere, ünïcödé and \\' },
      },
      {
        spanId: attempt.spanId,
        parentId: task.spanId,
        node: PEER,
        name: 'attempt',
        kind: 'client',
        startUs: expect.any(Number),
        endUs: expect.any(Number),
        status: 'error',
        attributes: { 'p2p_ai.attempt': 2, 'p2p_ai.retried': false },
      },
    ])
    // Microseconds since the epoch, the attempt within its task.
    const [taskSpan, attemptSpan] = read as [TraceSpan, TraceSpan]
    expect(Math.abs(taskSpan.startUs / 1000 - Date.now())).toBeLessThan(60_000)
    expect(attemptSpan.startUs).toBeGreaterThanOrEqual(taskSpan.startUs)
    expect(attemptSpan.endUs).toBeLessThanOrEqual(taskSpan.endUs)
    expect(
      readTraceMessage(
        { v: 1, type: 'trace.spans', payload: { traceId: task.traceId, spans: all } },
        'trace.spans',
      ).spans,
    ).toEqual(all)
    await t.shutdown()
  })

  it('reads the spans of a file written before the line format', async () => {
    const old = join(dir, 'before-lines')
    await mkdir(old, { recursive: true })
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const span = {
      spanId: '00f067aa0ba902b7',
      node: PEER,
      name: 'run',
      kind: 'internal',
      startUs: 1,
      endUs: 2,
      status: 'ok',
    }
    const db = new Database(join(old, TRACE_STORE_FILE_NAME))
    db.exec(
      'CREATE TABLE batches (id INTEGER PRIMARY KEY, expires_at INTEGER NOT NULL, trace_ids TEXT NOT NULL, spans TEXT NOT NULL)',
    )
    db.prepare('INSERT INTO batches VALUES (1, ?, ?, ?)').run(
      Date.now() + HOUR,
      traceId,
      JSON.stringify({ [traceId]: [span] }),
    )
    db.close()
    const store = traceStore({ directory: old })
    expect(await store.spans(traceId)).toEqual([span])
    expect(await store.count()).toBe(1)
    await store.close()
  })

  it("deletes spans once their retention is over, and adds peers' spans to a trace", async () => {
    let now = Date.now()
    const store = traceStore({ directory: join(dir, 'expiry'), retentionMs: 48 * HOUR, now: () => now })
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const span = {
      spanId: '00f067aa0ba902b7',
      node: PEER,
      name: 'serve',
      kind: 'server',
      startUs: 1,
      endUs: 2,
      status: 'ok',
    } as const
    store.add(traceId, [span])
    store.add(traceId, [{ ...span, status: 'error' }])
    // The same span sent twice is kept once, as it came last.
    expect(await store.spans(traceId)).toEqual([{ ...span, status: 'error' }])
    now += 47 * HOUR
    expect(await store.purge()).toBe(0)
    expect(await store.count()).toBe(2)
    now += 2 * HOUR
    expect(await store.spans(traceId)).toEqual([])
    expect(await store.purge()).toBe(2)
    await store.close()
  })

  it('exports spans with OTLP over HTTP as protobuf, which the official definitions decode', async () => {
    const bodies: Buffer[] = []
    const types: string[] = []
    const server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      if (req.method === 'POST' && req.url === '/v1/traces') {
        bodies.push(Buffer.concat(chunks))
        types.push(req.headers['content-type'] ?? '')
        expect(req.headers.authorization).toBe('Bearer collector-token')
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`
    try {
      const t = await tracing({
        store: { inMemory: true },
        otlp: { endpoint, headers: { authorization: 'Bearer collector-token' } },
      })({
        peerId: PEER,
        dataDir: dir,
        agentVersion: 'p2p-ai/test',
      })
      const ids = record(t.tracerProvider)
      await t.forceFlush()
      await t.shutdown()
      expect(types[0]).toBe('application/x-protobuf')
      const spans = bodies.flatMap((body) => {
        const request = decodeRequest(body)
        return request.resourceSpans.flatMap((rs) => {
          const resource = Object.fromEntries(rs.resource.attributes.map((a) => [a.key, a.value.stringValue]))
          expect(resource).toMatchObject({
            'service.name': 'p2p-ai-agent',
            'service.instance.id': PEER,
            'service.version': 'p2p-ai/test',
          })
          return rs.scopeSpans.flatMap((ss) => ss.spans)
        })
      })
      const attempt = spans.find((s) => s.name === 'attempt')
      const task = spans.find((s) => s.name === 'task')
      expect(hex(task?.traceId ?? new Uint8Array())).toBe(ids.traceId)
      expect(hex(attempt?.spanId ?? new Uint8Array())).toBe(ids.attempt)
      expect(hex(attempt?.parentSpanId ?? new Uint8Array())).toBe(ids.task)
      // SPAN_KIND_CLIENT = 3, STATUS_CODE_ERROR = 2 in trace.proto.
      expect(attempt).toMatchObject({ kind: 3, status: { code: 2, message: 'ERR_PEER_UNRESPONSIVE' } })
      expect(BigInt(attempt?.endTimeUnixNano.toString() ?? 0)).toBeGreaterThanOrEqual(
        BigInt(attempt?.startTimeUnixNano.toString() ?? 1),
      )
      expect(task?.attributes.find((a) => a.key === 'p2p_ai.task.id')?.value.stringValue).toBe('task-0001')
    } finally {
      server.close()
    }
  })

  it("hands its spans to the user's span processors as the SDK's readable spans, and samples by trace id", async () => {
    const started: string[] = []
    const ended: ReadableSpan[] = []
    const processor: SpanProcessor = {
      onStart: (span) => void started.push(span.name),
      onEnd: (span) => void ended.push(span),
      forceFlush: async () => {},
      shutdown: async () => {},
    }
    const t = await tracing({ store: { inMemory: true }, spanProcessors: [processor] })({
      peerId: PEER,
      dataDir: dir,
    })
    const ids = record(t.tracerProvider)
    expect(started).toEqual(['task', 'attempt'])
    const attempt = ended.find((s) => s.name === 'attempt')
    expect(attempt?.spanContext()).toMatchObject({ traceId: ids.traceId, spanId: ids.attempt, traceFlags: 1 })
    expect(attempt?.parentSpanContext?.spanId).toBe(ids.task)
    expect(attempt).toMatchObject({
      kind: SpanKind.CLIENT,
      ended: true,
      status: { code: SpanStatusCode.ERROR },
    })
    expect(attempt?.resource.attributes).toMatchObject({ 'service.instance.id': PEER })
    // [seconds, nanoseconds], the end not before the start, the duration their difference.
    const [start, end, duration] = [attempt?.startTime, attempt?.endTime, attempt?.duration] as HrTime[]
    const ns = (t: HrTime | undefined) => BigInt(t?.[0] ?? 0) * 1_000_000_000n + BigInt(t?.[1] ?? 0)
    expect(ns(end) - ns(start)).toBe(ns(duration))
    expect(Math.abs(Number(ns(start)) / 1e6 - Date.now())).toBeLessThan(60_000)
    await t.shutdown()

    // A sampled fraction: the same trace ids as the SDK's ratio sampler picks, unsampled ones still
    // carrying their context (with the flag clear) and recording nothing.
    const half = await tracing({ sampleRate: 0.5, store: { inMemory: true } })({ peerId: PEER, dataDir: dir })
    const sdk = new TraceIdRatioBasedSampler(0.5)
    const tracer = half.tracerProvider.getTracer('ratio')
    let sampled = 0
    for (let i = 0; i < 200; i++) {
      const span = tracer.startSpan('root', {}, ROOT_CONTEXT)
      const { traceId, traceFlags } = span.spanContext()
      expect(traceFlags).toBe(sdk.shouldSample(ROOT_CONTEXT, traceId).decision === 2 ? 1 : 0)
      expect(span.isRecording()).toBe(traceFlags === 1)
      sampled += traceFlags
      span.end()
    }
    expect(sampled).toBeGreaterThan(50)
    expect(sampled).toBeLessThan(150)
    expect(await half.store.count()).toBe(sampled)
    await half.shutdown()
  })

  it('counts the writes it loses when its file cannot be used, and says so on reading, never throwing at a span', async () => {
    const broken = join(dir, 'broken')
    // traces.db is a directory: SQLite cannot open it, so the store's thread fails.
    await mkdir(join(broken, TRACE_STORE_FILE_NAME), { recursive: true })
    const store = traceStore({ directory: broken })
    const span = {
      spanId: '00f067aa0ba902b7',
      node: PEER,
      name: 'run',
      kind: 'internal',
      startUs: 1,
      endUs: 2,
      status: 'ok',
    } as const
    store.record({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', taskId: 'task-0002', span })
    store.flush()
    await expect(store.spans('4bf92f3577b34da6a3ce929d0e0e4736')).rejects.toMatchObject({
      code: 'ERR_TRACE_STORE',
    })
    const lost = store.writeErrors
    expect(lost).toBeGreaterThan(0)
    store.record({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', taskId: 'task-0002', span })
    store.flush()
    expect(store.writeErrors).toBe(lost + 1)
    await store.close()
  })

  it('refuses options out of range at once, with a coded error', () => {
    expect(() => tracing({ sampleRate: 1.5 })).toThrow(TracingOptionError)
    expect(() => tracing({ otlp: { endpoint: 'ftp://collector' } })).toThrow(/otlp.endpoint/)
    expect(() => traceStore({ inMemory: true, retentionMs: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_TRACING_OPTION' }),
    )
  })
})
