import { createHash, createPrivateKey, sign } from 'node:crypto'
import { identityFromSeed } from '@p2p-ai/identity'
import { describe, expect, it } from 'vitest'
import { canonicalize } from '../src/canonical-json.js'
import { openEnvelope, sealEnvelope, signingInput } from '../src/envelope.js'
import { sealForward } from '../src/forward.js'
import type { UnsignedEnvelope } from '../src/messages.js'
import { validatePayload } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { traceContextSchema, traceQuerySchema, traceSpanSchema, traceSpansSchema } from '../src/schemas.js'
import { encodeTraceMessage, formatTraceparent, parseTraceparent, readTraceMessage } from '../src/trace.js'
import { jsonBlocks, PROTOCOL_MD } from './doc.js'

interface TraceVector {
  seedHex: string
  peerId: string
  unsignedEnvelope: UnsignedEnvelope<'task.request'>
  canonicalJson: string
  sig: string
  digest: string
}

const blocks = jsonBlocks(PROTOCOL_MD)
const block = (tag: string): unknown => blocks.find((b) => b.tag === tag)?.value
const vector = block('trace-vector') as TraceVector
const section = PROTOCOL_MD.slice(
  PROTOCOL_MD.indexOf('### 2.7 Trace context'),
  PROTOCOL_MD.indexOf('## 3. Framing'),
)

/** The first column of the table in §2.7 whose header starts with `first`. */
function documentedFields(first: string): string[] {
  const lines = section.split('\n')
  const start = lines.findIndex((line) => line.startsWith(`| ${first} |`))
  expect(start, first).toBeGreaterThan(-1)
  const rows: string[] = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    rows.push((line.split('|')[1] as string).trim().replaceAll('`', ''))
  }
  return rows
}

function shapeOf(schema: unknown): string[] {
  const s = schema as { shape?: object; def?: { in?: { shape?: object } } }
  return Object.keys(s.shape ?? s.def?.in?.shape ?? {})
}

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

describe('trace context on the wire (minor 3, docs/protocol.md §2.7)', () => {
  it('signs a request with a trace context to the documented bytes: the signature covers the trace', () => {
    const seed = Buffer.from(vector.seedHex, 'hex')
    // An implementer's way, from the document alone: JCS, the prefix, pure Ed25519 from node:crypto.
    expect(canonicalize(vector.unsignedEnvelope)).toBe(vector.canonicalJson)
    const input = Buffer.from(`p2p-ai/envelope/v1\n${vector.canonicalJson}`, 'utf8')
    expect(Buffer.from(signingInput(vector.unsignedEnvelope))).toEqual(input)
    const key = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
      format: 'der',
      type: 'pkcs8',
    })
    expect(sign(null, input, key).toString('base64url')).toBe(vector.sig)
    expect(createHash('sha256').update(input).digest('base64url')).toBe(vector.digest)

    const { v, type, from, ts, nonce, payload } = vector.unsignedEnvelope
    const sealed = sealEnvelope(identityFromSeed(seed), type, payload, {
      now: ts,
      nonce: Buffer.from(nonce, 'base64url'),
    })
    expect(sealed.envelope).toEqual({ v, type, from, ts, nonce, payload, sig: vector.sig })
    const opened = openEnvelope(JSON.parse(sealed.json), { replayCache: replayCache(), now: ts })
    expect(opened.digest).toBe(vector.digest)
    // Changing the trace breaks the signature like any other signed field.
    const forged = JSON.parse(sealed.json)
    forged.payload.trace.traceparent = TRACEPARENT.replace('-01', '-00')
    expect(() => openEnvelope(forged, { replayCache: replayCache(), now: ts })).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_SIGNATURE' }),
    )
  })

  it('documents exactly the fields of the trace context, the trace messages and a span', () => {
    expect(documentedFields('field')).toEqual(shapeOf(traceContextSchema))
    expect(documentedFields('`trace.query` field')).toEqual(shapeOf(traceQuerySchema))
    expect(documentedFields('`trace.spans` field')).toEqual(shapeOf(traceSpansSchema))
    expect(documentedFields('Span field')).toEqual(shapeOf(traceSpanSchema))
  })

  it('shows valid examples of a trace context and of both trace messages', () => {
    expect(traceContextSchema.safeParse(block('trace-context')).success).toBe(true)
    expect(readTraceMessage(block('trace.query'), 'trace.query').hops).toBe(9)
    expect(readTraceMessage(block('trace.spans'), 'trace.spans').spans).toHaveLength(2)
  })

  it('reads and writes traceparents of version 00 only, with ids that are not all zero', () => {
    const parent = parseTraceparent(TRACEPARENT)
    expect(parent).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      flags: 1,
    })
    expect(formatTraceparent(parent!)).toBe(TRACEPARENT)
    for (const bad of [
      TRACEPARENT.toUpperCase(),
      TRACEPARENT.replace(/^00/, 'ff'),
      TRACEPARENT.replace(/^00/, '01'),
      `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`,
      `${TRACEPARENT}-extra`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined()
      expect(traceContextSchema.safeParse({ traceparent: bad }).success, bad).toBe(false)
    }
  })

  it('accepts tracestates as W3C writes them and refuses malformed ones', () => {
    const ok = (tracestate: string) =>
      traceContextSchema.safeParse({ traceparent: TRACEPARENT, tracestate }).success
    expect(ok('congo=t61rcWkgMzE')).toBe(true)
    expect(ok('rojo=00f067aa0ba902b7 , tenant@vendor=x')).toBe(true)
    expect(ok(Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(','))).toBe(true)
    expect(ok(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(','))).toBe(false)
    expect(ok('a=1,a=2')).toBe(false)
    expect(ok('Upper=1')).toBe(false)
    expect(ok('a=x,y')).toBe(false)
    expect(ok('a=x=y')).toBe(false)
    expect(ok('a=spaces around ')).toBe(true)
    expect(ok(`a=${'x'.repeat(600)}`)).toBe(false)
  })

  it('puts a trace context in a task.request and a task.forward, and refuses unknown members in it', () => {
    const seed = Buffer.from(vector.seedHex, 'hex')
    const me = identityFromSeed(seed)
    const { trace: _, ...plain } = vector.unsignedEnvelope.payload
    const request = sealEnvelope(me, 'task.request', plain).envelope
    const trace = { traceparent: TRACEPARENT }
    const forward = sealForward(me, request, 3, [], trace)
    expect(forward.envelope.payload.trace).toEqual(trace)
    expect(() => validatePayload('task.request', { ...plain, trace: { ...trace, sampled: true } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'payload.trace.sampled' }),
    )
  })

  it('checks trace messages strictly: type, members, span times and limits', () => {
    const query = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', hops: 2 }
    const frame = encodeTraceMessage('trace.query', query, { check: true })
    expect(JSON.parse(Buffer.from(frame.subarray(1)).toString('utf8'))).toEqual({
      v: 1,
      type: 'trace.query',
      payload: query,
    })
    expect(() => readTraceMessage({ v: 1, type: 'trace.spans', payload: query }, 'trace.query')).toThrow(
      expect.objectContaining({ path: 'type' }),
    )
    expect(() =>
      readTraceMessage({ v: 1, type: 'trace.query', payload: query, sig: 'x' }, 'trace.query'),
    ).toThrow(expect.objectContaining({ path: 'sig' }))
    expect(() => readTraceMessage({ v: 2, type: 'trace.query', payload: query }, 'trace.query')).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_VERSION' }),
    )
    const spans = (block('trace.spans') as { payload: { spans: Array<Record<string, unknown>> } }).payload
      .spans
    const backwards = { ...spans[1], endUs: 1 }
    expect(() =>
      readTraceMessage(
        { v: 1, type: 'trace.spans', payload: { traceId: query.traceId, spans: [backwards] } },
        'trace.spans',
      ),
    ).toThrow(expect.objectContaining({ path: 'payload.spans[0].endUs' }))
  })
})
