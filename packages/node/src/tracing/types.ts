/**
 * The seam between a node and whatever records its spans: an OpenTelemetry tracer provider and a
 * place where spans are kept. `@p2p-ai/tracing` is one (the node loads it when `tracing.enabled`
 * and it is installed); any object of this shape is another.
 */
import type { TracerProvider } from '@opentelemetry/api'
import type { TraceSpan } from '@p2p-ai/protocol'

/** Where a node's spans are kept, and the spans peers sent back for its traces. */
export interface NodeTraceStore {
  /** Adds spans of a trace that peers recorded. */
  add(traceId: string, spans: readonly TraceSpan[]): void
  /** The spans kept of a trace (this node's and its peers'), the earliest first. */
  spans(traceId: string): Promise<TraceSpan[]>
  /** The trace of a task this node recorded recently, if it remembers it. */
  traceOf(taskId: string): string | undefined
  /**
   * Writes that failed since the store opened, their spans lost (the `tracing` health check turns
   * `degraded` while it grows).
   *
   * @default never counted
   */
  readonly writeErrors?: number
  /**
   * Whether the store finds this trace cheaply (it recorded it recently). Peers' trace queries are
   * answered only for those, so a peer cannot make the node search its whole store at will.
   *
   * @default every trace counts as recent
   */
  recent?(traceId: string): boolean
}

/**
 * A span of the exchange, as the node records it: OpenTelemetry's span reduced to what the exchange
 * does with one (the node wraps the API's spans in this shape; `@p2p-ai/tracing` records them as
 * such, with nothing else).
 */
export interface NodeSpan {
  readonly traceId: string
  readonly spanId: string
  /** W3C trace flags; bit 0 is `sampled`. */
  readonly traceFlags: number
  /** The `tracestate` the trace arrived with, serialised. */
  readonly tracestate: string | undefined
  isRecording(): boolean
  setAttribute(key: string, value: string | number | boolean): void
  /**
   * Ends the span with OpenTelemetry's status code (0 unset, 1 ok, 2 error) and, for an error, its
   * message, at `endMs` (a `performance.now()` instant) or now.
   */
  finish(status: number, message?: string, endMs?: number): void
}

/** A peer's span, from the trace context its request carried. */
export interface RemoteSpanParent {
  readonly traceId: string
  readonly spanId: string
  /** The `traceparent`'s flags; bit 0 is `sampled`. */
  readonly flags: number
  readonly tracestate?: string | undefined
}

/** Starts the exchange's spans (a span's kind is OpenTelemetry's `SpanKind`). */
export interface NodeSpans {
  /** A span under `parent` (one this recorder started), or the root of a new trace. */
  start(name: string, kind: number, parent?: NodeSpan, startMs?: number): NodeSpan
  /** A span under a peer's span, or the root of a new trace. */
  startRemote(name: string, kind: number, remote?: RemoteSpanParent, startMs?: number): NodeSpan
  /**
   * An internal span under `parent` that is over already, from `startMs` to `endMs`
   * (`performance.now()` instants) with no status or attributes: `start` then `finish`, without
   * a span in between.
   */
  record(name: string, parent: NodeSpan, startMs: number, endMs: number): void
}

/** A node's tracing, as the node uses it. */
export interface NodeTracing {
  /** Where the node's spans go. */
  readonly tracerProvider: TracerProvider
  /**
   * Records the exchange's spans directly, without OpenTelemetry's API objects, when the tracing
   * offers it (`@p2p-ai/tracing` does while no span processor wants the SDK's spans).
   *
   * @default the exchange's spans go through `tracerProvider`
   */
  readonly spans?: NodeSpans | undefined
  readonly store: NodeTraceStore
  /** Writes and exports what waits. */
  forceFlush(): Promise<void>
  /** Flushes and closes; the node calls it once it has stopped. */
  shutdown(): Promise<void>
}

/** What a node tells its tracing about itself. */
export interface TracingContext {
  readonly peerId: string
  readonly dataDir: string
  readonly agentVersion: string
}

/** Builds a node's tracing once the node knows its PeerId: what `tracing()` of `@p2p-ai/tracing` returns. */
export type TracingFactory = (context: TracingContext) => NodeTracing | Promise<NodeTracing>
