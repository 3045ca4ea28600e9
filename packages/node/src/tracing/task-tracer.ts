/**
 * The spans of the task exchange (docs/protocol.md §2.7 lists them): what the requester, relays and
 * providers record of each task, and the W3C trace context that ties them together across nodes.
 * Every parent is passed explicitly (no context manager): a task's span goes from the task to its
 * attempts, from an attempt onto the wire, and from the wire to the span of whoever received it.
 */
import {
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import type { TraceContext } from '@p2p-ai/protocol'
import type { NodeSpan, NodeSpans, RemoteSpanParent } from './types.js'

/** The attributes the exchange's spans carry (docs/protocol.md §2.7). */
export const SPAN_ATTRIBUTES = {
  taskId: 'p2p_ai.task.id',
  taskType: 'p2p_ai.task.type',
  peer: 'p2p_ai.peer',
  from: 'p2p_ai.from',
  route: 'p2p_ai.route',
  attempt: 'p2p_ai.attempt',
  replica: 'p2p_ai.replica',
  status: 'p2p_ai.status',
  error: 'error.type',
} as const

/** How a span's step ended: a final status, and the task error code when it failed. */
export interface SpanOutcome {
  readonly status: string
  readonly code?: string | undefined
}

/** Queue and run times of a task that ran on this node, as a result's timings give them. */
export interface WorkTimings {
  readonly queuedMs: number
  readonly runMs: number
}

/** Records the exchange's spans: through the tracing's own recorder, or OpenTelemetry's API. */
export class TaskTracer {
  readonly #spans: NodeSpans

  /** `spans`: the tracing's recorder, or an OpenTelemetry tracer (wrapped). */
  constructor(spans: NodeSpans | Tracer) {
    this.#spans = 'startRemote' in spans ? spans : new ApiSpans(spans)
  }

  /**
   * The span of a task submitted here, from submission to its final state: `task`, or for one
   * provider of a redundant task, `replica` under the redundant task's span.
   */
  task(id: string, type: string, parent?: { span: NodeSpan; replica: number }): NodeSpan {
    if (parent === undefined) {
      const span = this.#spans.start('task', SpanKind.INTERNAL)
      span.setAttribute(SPAN_ATTRIBUTES.taskId, id)
      span.setAttribute(SPAN_ATTRIBUTES.taskType, type)
      return span
    }
    const span = this.#spans.start('replica', SpanKind.INTERNAL, parent.span)
    span.setAttribute(SPAN_ATTRIBUTES.replica, parent.replica)
    return span
  }

  /** One attempt of a task: on this node's engine (`local`) or sent to `peer`. */
  attempt(
    parent: NodeSpan | undefined,
    peer: string,
    route: 'local' | 'direct' | 'forward',
    n: number,
  ): NodeSpan {
    const span = this.#spans.start('attempt', route === 'local' ? SpanKind.INTERNAL : SpanKind.CLIENT, parent)
    span.setAttribute(SPAN_ATTRIBUTES.route, route)
    span.setAttribute(SPAN_ATTRIBUTES.attempt, n)
    if (route !== 'local') span.setAttribute(SPAN_ATTRIBUTES.peer, peer)
    return span
  }

  /**
   * A task received from `from`: served here (`serve`) or passed on (`relay`), a child of the
   * sender's span when its message carried a trace context, else the root of a trace of its own.
   */
  receive(
    name: 'serve' | 'relay',
    remote: TraceContext | undefined,
    task: { id: string; type: string; from: string },
  ): NodeSpan {
    const span = this.#spans.startRemote(name, SpanKind.SERVER, remoteParent(remote))
    span.setAttribute(SPAN_ATTRIBUTES.taskId, task.id)
    span.setAttribute(SPAN_ATTRIBUTES.taskType, task.type)
    span.setAttribute(SPAN_ATTRIBUTES.from, task.from)
    return span
  }

  /**
   * `queue` and `run` under `parent`, for a task this node ran and that finished just now: each
   * ends where the next begins, the run at this instant, so both nest within the parent.
   */
  work(parent: NodeSpan, timings: WorkTimings): void {
    const end = performance.now()
    const started = end - timings.runMs
    const queued = started - timings.queuedMs
    this.#spans.record('queue', parent, queued, started)
    this.#spans.record('run', parent, started, end)
  }

  /** Ends a span with its step's outcome. */
  end(span: NodeSpan, outcome: SpanOutcome): void {
    if (!span.isRecording()) {
      span.finish(SpanStatusCode.UNSET)
      return
    }
    span.setAttribute(SPAN_ATTRIBUTES.status, outcome.status)
    if (outcome.code !== undefined) {
      span.setAttribute(SPAN_ATTRIBUTES.error, outcome.code)
      span.finish(SpanStatusCode.ERROR, outcome.code)
    } else {
      span.finish(SpanStatusCode.OK)
    }
  }
}

const HEX_FLAGS = Array.from({ length: 256 }, (_, flags) => flags.toString(16).padStart(2, '0'))

/**
 * The trace context that makes `span` the parent of what the receiver records (docs/protocol.md
 * §2.7), with the `tracestate` the trace arrived with.
 */
export function wireContext(span: NodeSpan): TraceContext {
  const traceparent = `00-${span.traceId}-${span.spanId}-${HEX_FLAGS[span.traceFlags & 0xff]}`
  const tracestate = span.tracestate
  return tracestate === undefined || tracestate === '' ? { traceparent } : { traceparent, tracestate }
}

/** The trace id of a span that records, for records and log lines. */
export function recordedTraceId(span: NodeSpan | undefined): string | undefined {
  return span?.isRecording() === true ? span.traceId : undefined
}

/**
 * The parent a `traceparent` from the wire names. The message's schema checked it when the
 * message was opened (version 00, lowercase hex ids not all zero), so its fields are where the
 * format puts them; anything else starts a trace of its own.
 */
function remoteParent(remote: TraceContext | undefined): RemoteSpanParent | undefined {
  const text = remote?.traceparent
  if (text === undefined || text.length !== 55) return undefined
  return {
    traceId: text.slice(3, 35),
    spanId: text.slice(36, 52),
    flags: Number.parseInt(text.slice(53, 55), 16) & 1,
    tracestate: remote?.tracestate,
  }
}

/** OpenTelemetry's API spans in the exchange's shape: for a tracing that offers no recorder of its own. */
class ApiSpan implements NodeSpan {
  readonly span: Span
  readonly traceId: string
  readonly spanId: string
  readonly traceFlags: number
  readonly tracestate: string | undefined

  constructor(span: Span) {
    this.span = span
    const { traceId, spanId, traceFlags, traceState } = span.spanContext()
    this.traceId = traceId
    this.spanId = spanId
    this.traceFlags = traceFlags
    this.tracestate = traceState?.serialize()
  }

  isRecording(): boolean {
    return this.span.isRecording()
  }

  setAttribute(key: string, value: string | number | boolean): void {
    this.span.setAttribute(key, value)
  }

  finish(status: number, message?: string, endMs?: number): void {
    if (status === SpanStatusCode.ERROR)
      this.span.setStatus({ code: status, ...(message === undefined ? {} : { message }) })
    else if (status === SpanStatusCode.OK) this.span.setStatus({ code: status })
    this.span.end(endMs)
  }
}

class ApiSpans implements NodeSpans {
  readonly #tracer: Tracer

  constructor(tracer: Tracer) {
    this.#tracer = tracer
  }

  start(name: string, kind: number, parent?: NodeSpan, startMs?: number): NodeSpan {
    const context = parent instanceof ApiSpan ? trace.setSpan(ROOT_CONTEXT, parent.span) : ROOT_CONTEXT
    return this.#span(name, kind, context, startMs)
  }

  startRemote(name: string, kind: number, remote?: RemoteSpanParent, startMs?: number): NodeSpan {
    const context =
      remote === undefined
        ? ROOT_CONTEXT
        : trace.setSpanContext(ROOT_CONTEXT, {
            traceId: remote.traceId,
            spanId: remote.spanId,
            traceFlags: remote.flags,
            isRemote: true,
            ...(remote.tracestate === undefined ? {} : { traceState: createTraceState(remote.tracestate) }),
          })
    return this.#span(name, kind, context, startMs)
  }

  record(name: string, parent: NodeSpan, startMs: number, endMs: number): void {
    this.start(name, SpanKind.INTERNAL, parent, startMs).finish(SpanStatusCode.UNSET, undefined, endMs)
  }

  #span(name: string, kind: number, context: Context, startMs: number | undefined): NodeSpan {
    return new ApiSpan(
      this.#tracer.startSpan(
        name,
        { kind, ...(startMs === undefined ? {} : { startTime: startMs }) },
        context,
      ),
    )
  }
}
