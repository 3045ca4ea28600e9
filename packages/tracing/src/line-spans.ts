/**
 * The node's own spans, recorded straight into the store's lines (`span-lines.ts`): what a node
 * records five times per task at 100 % sampling, so nothing on this path exists that a span does
 * not need. A span is its ids, name, kind and start (a monotonic instant: no clock conversion until
 * it ends), and its attributes as the text they will be stored as, appended as they are set: no
 * OpenTelemetry context, options, attribute map, status object or `[seconds, nanoseconds]` time.
 * When it ends, its line goes to the store; the protocol's and OpenTelemetry's forms of it are built
 * only when a trace is read. Used while no span processor (an OTLP exporter, a user's own) wants
 * the SDK's spans; with one, the node records through `SpanTracerProvider` instead.
 */
import { MAX_SPAN_ATTRIBUTES, type TraceSpan } from '@p2p-ai/protocol'
import { newSpanId, newTraceId } from './ids.js'
import { attributeText } from './span-lines.js'
import { fitSpanName, TASK_ID_ATTRIBUTE } from './spans.js'
import type { TraceStore } from './store.js'

/** OpenTelemetry's span kinds and status codes, as numbers (the API's enums). */
const SERVER = 1
const CLIENT = 2
const STATUS_OK = 1
const STATUS_ERROR = 2

/** What a span starts under: a span of the same recorder (or any with these fields). */
export interface LineSpanParent {
  readonly traceId: string
  readonly spanId: string
  readonly traceFlags: number
  readonly tracestate: string | undefined
}

/** A parent from the wire: the W3C trace context a peer's request carried. */
export interface RemoteSpanParent {
  readonly traceId: string
  readonly spanId: string
  /** The `traceparent`'s flags; bit 0 is `sampled`. */
  readonly flags: number
  readonly tracestate?: string | undefined
}

/** A span that records nothing: its context travels (peers learn the sampling decision), nothing else. */
class UnsampledSpan implements LineSpanParent {
  readonly traceFlags = 0

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    readonly tracestate: string | undefined,
  ) {}

  isRecording(): boolean {
    return false
  }

  setAttribute(): void {}

  finish(): void {}
}

/** A recorded span of this node. */
export class LineSpan implements LineSpanParent {
  readonly traceFlags = 1
  readonly #store: TraceStore
  readonly #parentId: string | undefined
  readonly #name: string
  readonly #kind: TraceSpan['kind']
  /** A `performance.now()` instant. */
  readonly #startMs: number
  /** The attributes as stored, `\t<key>\t<value>` each. */
  #attributes = ''
  #count = 0
  #taskId: string | undefined
  #ended = false

  constructor(
    store: TraceStore,
    readonly traceId: string,
    readonly spanId: string,
    parentId: string | undefined,
    readonly tracestate: string | undefined,
    name: string,
    kind: number,
    startMs: number,
  ) {
    this.#store = store
    this.#parentId = parentId
    this.#name = name
    this.#kind = kind === SERVER ? 'server' : kind === CLIENT ? 'client' : 'internal'
    this.#startMs = startMs
  }

  isRecording(): boolean {
    return !this.#ended
  }

  setAttribute(key: string, value: string | number | boolean): void {
    if (this.#ended || this.#count >= MAX_SPAN_ATTRIBUTES) return
    const text = attributeText(key, value)
    if (text === '') return
    this.#attributes += text
    this.#count++
    if (key === TASK_ID_ATTRIBUTE && typeof value === 'string') this.#taskId = value
  }

  /** Ends the span with OpenTelemetry's status code, at `endMs` (a `performance.now()` instant) or now. */
  finish(status: number, _message?: string, endMs: number = performance.now()): void {
    if (this.#ended) return
    this.#ended = true
    this.#store.recordSpan(
      this.traceId,
      this.spanId,
      this.#parentId,
      this.#name,
      this.#kind,
      status === STATUS_ERROR ? 'error' : status === STATUS_OK ? 'ok' : 'unset',
      this.#startMs,
      endMs,
      this.#attributes,
      this.#taskId,
    )
  }
}

export type NodeLineSpan = LineSpan | UnsampledSpan

/** Starts the node's spans; sampling as `SpanTracerProvider`'s (a child follows its parent, a root the ratio). */
export class LineSpans {
  readonly #store: TraceStore
  readonly #sampleRoot: (traceId: string) => boolean

  constructor(store: TraceStore, sampleRoot: (traceId: string) => boolean) {
    this.#store = store
    this.#sampleRoot = sampleRoot
  }

  /** A span under `parent` (a span this recorder started), or the root of a new trace. */
  start(name: string, kind: number, parent?: LineSpanParent, startMs?: number): NodeLineSpan {
    if (parent === undefined) {
      const traceId = newTraceId()
      return this.#span(name, kind, traceId, undefined, this.#sampleRoot(traceId), undefined, startMs)
    }
    return this.#span(
      name,
      kind,
      parent.traceId,
      parent.spanId,
      (parent.traceFlags & 1) !== 0,
      parent.tracestate,
      startMs,
    )
  }

  /** A span under a peer's span (the trace context its request carried), or the root of a new trace. */
  startRemote(name: string, kind: number, remote?: RemoteSpanParent, startMs?: number): NodeLineSpan {
    if (remote === undefined) return this.start(name, kind, undefined, startMs)
    return this.#span(
      name,
      kind,
      remote.traceId,
      remote.spanId,
      (remote.flags & 1) !== 0,
      remote.tracestate,
      startMs,
    )
  }

  /**
   * An internal span under `parent` that is over already (a task's queue and run, known once it
   * ran): its line, with no span in between.
   */
  record(name: string, parent: LineSpanParent, startMs: number, endMs: number): void {
    if ((parent.traceFlags & 1) === 0) return
    this.#store.recordSpan(
      parent.traceId,
      newSpanId(),
      parent.spanId,
      fitSpanName(name),
      'internal',
      'unset',
      startMs,
      endMs,
      '',
      undefined,
    )
  }

  #span(
    name: string,
    kind: number,
    traceId: string,
    parentId: string | undefined,
    sampled: boolean,
    tracestate: string | undefined,
    startMs: number | undefined,
  ): NodeLineSpan {
    if (!sampled) return new UnsampledSpan(traceId, newSpanId(), tracestate)
    return new LineSpan(
      this.#store,
      traceId,
      newSpanId(),
      parentId,
      tracestate,
      fitSpanName(name),
      kind,
      startMs ?? performance.now(),
    )
  }
}
