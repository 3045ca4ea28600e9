/**
 * The spans of the task exchange (docs/protocol.md §2.7 lists them): what the requester, relays and
 * providers record of each task, and the W3C trace context that ties them together across nodes.
 * Every parent is passed explicitly (no context manager): a task's span goes from the task to its
 * attempts, from an attempt onto the wire, and from the wire to the span of whoever received it.
 */
import {
  type Attributes,
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api'
import { formatTraceparent, parseTraceparent, type TraceContext } from '@p2p-ai/protocol'

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

/** Records the exchange's spans through an OpenTelemetry tracer. */
export class TaskTracer {
  readonly #tracer: Tracer

  constructor(tracer: Tracer) {
    this.#tracer = tracer
  }

  /**
   * The span of a task submitted here, from submission to its final state: `task`, or for one
   * provider of a redundant task, `replica` under the redundant task's span.
   */
  task(id: string, type: string, parent?: { span: Span; replica: number }): Span {
    if (parent === undefined) {
      return this.#tracer.startSpan(
        'task',
        { attributes: { [SPAN_ATTRIBUTES.taskId]: id, [SPAN_ATTRIBUTES.taskType]: type } },
        ROOT_CONTEXT,
      )
    }
    return this.#tracer.startSpan(
      'replica',
      { attributes: { [SPAN_ATTRIBUTES.replica]: parent.replica } },
      trace.setSpan(ROOT_CONTEXT, parent.span),
    )
  }

  /** One attempt of a task: on this node's engine (`local`) or sent to `peer`. */
  attempt(parent: Span | undefined, peer: string, route: 'local' | 'direct' | 'forward', n: number): Span {
    const attributes: Attributes = { [SPAN_ATTRIBUTES.route]: route, [SPAN_ATTRIBUTES.attempt]: n }
    if (route !== 'local') attributes[SPAN_ATTRIBUTES.peer] = peer
    return this.#tracer.startSpan(
      'attempt',
      { kind: route === 'local' ? SpanKind.INTERNAL : SpanKind.CLIENT, attributes },
      parent === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, parent),
    )
  }

  /**
   * A task received from `from`: served here (`serve`) or passed on (`relay`), a child of the
   * sender's span when its message carried a trace context, else the root of a trace of its own.
   */
  receive(
    name: 'serve' | 'relay',
    remote: TraceContext | undefined,
    task: { id: string; type: string; from: string },
  ): Span {
    return this.#tracer.startSpan(
      name,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [SPAN_ATTRIBUTES.taskId]: task.id,
          [SPAN_ATTRIBUTES.taskType]: task.type,
          [SPAN_ATTRIBUTES.from]: task.from,
        },
      },
      remoteContext(remote),
    )
  }

  /**
   * `queue` and `run` under `parent`, for a task this node ran and that finished just now: each
   * ends where the next begins, the run at this instant, so both nest within the parent.
   */
  work(parent: Span, timings: WorkTimings): void {
    const end = performance.now()
    const started = end - timings.runMs
    const queued = started - timings.queuedMs
    const context = trace.setSpan(ROOT_CONTEXT, parent)
    this.#tracer.startSpan('queue', { startTime: queued }, context).end(started)
    this.#tracer.startSpan('run', { startTime: started }, context).end(end)
  }

  /** Ends a span with its step's outcome. */
  end(span: Span, outcome: SpanOutcome): void {
    if (span.isRecording()) {
      span.setAttribute(SPAN_ATTRIBUTES.status, outcome.status)
      if (outcome.code !== undefined) {
        span.setAttribute(SPAN_ATTRIBUTES.error, outcome.code)
        span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.code })
      } else {
        span.setStatus({ code: SpanStatusCode.OK })
      }
    }
    span.end()
  }
}

/**
 * The trace context that makes `span` the parent of what the receiver records (docs/protocol.md
 * §2.7), with the `tracestate` the trace arrived with.
 */
export function wireContext(span: Span): TraceContext {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext()
  const traceparent = formatTraceparent({ traceId, spanId, flags: traceFlags })
  const tracestate = traceState?.serialize()
  return tracestate === undefined || tracestate === '' ? { traceparent } : { traceparent, tracestate }
}

/** The trace id of a span that records, for records and log lines. */
export function recordedTraceId(span: Span | undefined): string | undefined {
  return span?.isRecording() === true ? span.spanContext().traceId : undefined
}

/** A remote parent from the wire, or the root context when there is none. */
function remoteContext(remote: TraceContext | undefined): Context {
  if (remote === undefined) return ROOT_CONTEXT
  const parent = parseTraceparent(remote.traceparent)
  // The schema checked it when the message was opened; an unreadable one starts a trace of its own.
  if (parent === undefined) return ROOT_CONTEXT
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.flags & TraceFlags.SAMPLED,
    isRemote: true,
    ...(remote.tracestate === undefined ? {} : { traceState: createTraceState(remote.tracestate) }),
  })
}
