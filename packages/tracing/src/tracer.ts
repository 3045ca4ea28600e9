/**
 * The plug-in's OpenTelemetry tracer provider: the API's `TracerProvider`, with the SDK's sampling
 * (a trace follows its parent's decision; a new one is sampled by its trace id's ratio) and span
 * processors, but spans of its own (`RecordedSpan`). The SDK's spans cost the exchange several
 * times what recording a span needs (a Date and two clock reads, attribute copies and checks,
 * metrics and a processor chain per span), and a node at 100 % records five per task.
 */
import {
  type Context,
  context as contextApi,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  TraceFlags,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
  trace,
} from '@opentelemetry/api'
import { isTracingSuppressed } from '@opentelemetry/core'
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace'
import { newSpanId, newTraceId } from './ids.js'
import { RecordedSpan, type SpanSink } from './recorded-span.js'

/** Whether a trace this node starts is recorded, by its id. */
type RootSampler = (traceId: string) => boolean

/** A tracer provider whose spans go to a node's store and to its span processors. */
export class SpanTracerProvider implements TracerProvider {
  readonly #sink: SpanSink
  /** Whether a trace this provider starts is recorded, by its id. */
  readonly sampleRoot: RootSampler
  readonly #tracers = new Map<string, SpanTracer>()

  /** `sampleRate`: the fraction of new traces recorded, 0 to 1 (checked by the caller). */
  constructor(sink: SpanSink, sampleRate: number) {
    this.#sink = sink
    this.sampleRoot = rootSampler(sampleRate)
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`
    let tracer = this.#tracers.get(key)
    if (tracer === undefined) {
      const scope = {
        name,
        ...(version === undefined ? {} : { version }),
        ...(options?.schemaUrl === undefined ? {} : { schemaUrl: options.schemaUrl }),
      }
      tracer = new SpanTracer(scope, this.#sink, this.sampleRoot)
      this.#tracers.set(key, tracer)
    }
    return tracer
  }

  /** Writes what waits to the store, and lets every processor send what it holds. */
  async forceFlush(): Promise<void> {
    this.#sink.store.flush()
    await Promise.all(this.#sink.processors.map((processor) => processor.forceFlush()))
  }

  /** Flushes, and shuts the processors down (the store stays open: its owner closes it). */
  async shutdown(): Promise<void> {
    this.#sink.store.flush()
    await Promise.all(this.#sink.processors.map((processor) => processor.shutdown()))
  }
}

class SpanTracer implements Tracer {
  readonly #scope: RecordedSpan['instrumentationScope']
  readonly #sink: SpanSink
  readonly #sampleRoot: RootSampler

  constructor(scope: RecordedSpan['instrumentationScope'], sink: SpanSink, sampleRoot: RootSampler) {
    this.#scope = scope
    this.#sink = sink
    this.#sampleRoot = sampleRoot
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span {
    if (isTracingSuppressed(context)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT)
    const given = options.root === true ? undefined : trace.getSpanContext(context)
    const parent = given !== undefined && isSpanContextValid(given) ? given : undefined
    const traceId = parent?.traceId ?? newTraceId()
    // ParentBased: a child follows its parent (local or remote); a root, the ratio.
    const sampled =
      parent === undefined ? this.#sampleRoot(traceId) : (parent.traceFlags & TraceFlags.SAMPLED) !== 0
    const spanContext: SpanContext = {
      traceId,
      spanId: newSpanId(),
      traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    }
    if (parent?.traceState !== undefined) spanContext.traceState = parent.traceState
    // Unsampled: nothing is recorded, but the context still travels (a peer learns the decision).
    if (!sampled) return trace.wrapSpanContext(spanContext)
    return new RecordedSpan(
      this.#sink,
      this.#scope,
      {
        name,
        kind: options.kind ?? SpanKind.INTERNAL,
        context: spanContext,
        parent,
        attributes: options.attributes,
        links: options.links,
        startTime: options.startTime,
      },
      context,
    )
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]
  ): ReturnType<F> {
    const fn = rest[rest.length - 1] as F
    const options = rest.length > 1 ? (rest[0] as SpanOptions) : {}
    const parent = rest.length > 2 ? (rest[1] as Context) : contextApi.active()
    const span = this.startSpan(name, options, parent)
    return contextApi.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>
  }
}

/** The root sampler of a rate: the SDK's trace id ratio, short-cut at 0 and 1. */
function rootSampler(rate: number): RootSampler {
  if (rate >= 1) return () => true
  if (rate <= 0) return () => false
  const ratio = new TraceIdRatioBasedSampler(rate)
  return (traceId) =>
    ratio.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED
}
