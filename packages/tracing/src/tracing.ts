/**
 * The plug-in a node records its spans with: an OpenTelemetry tracer provider whose spans are kept
 * in the node's data directory (so `task trace` needs no collector) and, when an endpoint is
 * configured, exported with OTLP over HTTP (protobuf) to a collector.
 */

import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace'
import {
  DEFAULT_OTLP_TIMEOUT_MS,
  DEFAULT_SAMPLE_RATE,
  OTLP_EXPORT_DELAY_MS,
  OTLP_MAX_BATCH,
  OTLP_MAX_QUEUE,
  SERVICE_NAME,
} from './constants.js'
import { TracingOptionError } from './errors.js'
import { LineSpans } from './line-spans.js'
import { NODE_ATTRIBUTE } from './spans.js'
import { type TraceStore, traceStore } from './store.js'
import { SpanTracerProvider } from './tracer.js'

/** Where spans go besides the data directory: an OpenTelemetry collector, over OTLP/HTTP with protobuf. */
export interface OtlpInit {
  /** The collector's traces URL, e.g. `http://127.0.0.1:4318/v1/traces`. */
  readonly endpoint: string
  /** Sent with every export, e.g. `{ authorization: 'Bearer …' }`. */
  readonly headers?: Readonly<Record<string, string>>
  /**
   * How long one export may take.
   *
   * @default 10_000
   */
  readonly timeoutMs?: number
}

/** Options of the tracing plug-in. */
export interface TracingInit {
  /**
   * Fraction of new traces recorded, 0 to 1. A trace that arrives with a sampling decision (a
   * peer's request carrying a `traceparent`) follows that decision instead.
   *
   * @default 1
   */
  readonly sampleRate?: number
  /**
   * How long spans stay in the data directory, in milliseconds.
   *
   * @default 172_800_000 (48 h)
   */
  readonly retentionMs?: number
  /** Export to an OpenTelemetry collector as well. @default none */
  readonly otlp?: OtlpInit
  /**
   * Where spans are kept: the node's data directory (the file `traces.db` in it), another
   * directory, or memory only.
   *
   * @default the node's data directory
   */
  readonly store?: { readonly directory: string } | { readonly inMemory: true }
  /** Further span processors (your own exporter, for instance). @default [] */
  readonly spanProcessors?: readonly SpanProcessor[]
}

/** What the node tells the plug-in about itself. */
export interface TracingContext {
  /** The node's PeerId: every span's `service.instance.id`. */
  readonly peerId: string
  /** The node's data directory. */
  readonly dataDir: string
  /** The node's version, e.g. `p2p-ai/0.1.0`: the spans' `service.version`. */
  readonly agentVersion?: string
}

/** A node's tracing: the provider its spans go to, and where they are kept. */
export interface Tracing {
  readonly tracerProvider: SpanTracerProvider
  /**
   * The node's own spans, recorded straight into the store (the node uses it instead of the tracer
   * provider when it is there): only while no span processor wants the SDK's spans, so `undefined`
   * with an OTLP endpoint or `spanProcessors`.
   */
  readonly spans: LineSpans | undefined
  readonly store: TraceStore
  /** Writes what waits to the store and sends what waits to the collector. */
  forceFlush(): Promise<void>
  /** Flushes, then stops exporting and closes the store. Idempotent. */
  shutdown(): Promise<void>
}

/**
 * The tracing plug-in for `createNode`: the node calls the returned function once, with its PeerId
 * and data directory, and records its spans with what it gets.
 *
 * ```ts
 * import { createNode } from '@p2p-ai/node'
 * import { tracing } from '@p2p-ai/tracing'
 *
 * const node = await createNode({ tracer: tracing({ otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces' } }) })
 * ```
 *
 * @throws {TracingOptionError} for an option out of range, at once
 */
export function tracing(init: TracingInit = {}): (context: TracingContext) => Promise<Tracing> {
  const sampleRate = init.sampleRate ?? DEFAULT_SAMPLE_RATE
  if (typeof sampleRate !== 'number' || !(sampleRate >= 0 && sampleRate <= 1)) {
    throw new TracingOptionError(`sampleRate: expected a number from 0 to 1, got ${String(sampleRate)}`)
  }
  const otlp = init.otlp
  if (otlp !== undefined) checkOtlp(otlp)
  return (context) => createTracing(init, sampleRate, context)
}

async function createTracing(
  init: TracingInit,
  sampleRate: number,
  context: TracingContext,
): Promise<Tracing> {
  // Loaded only when a collector is configured: a node that keeps its spans to itself never pays for it.
  const exporter =
    init.otlp === undefined
      ? undefined
      : (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter
  const store = traceStore({
    ...(init.store === undefined ? { directory: context.dataDir } : init.store),
    ...(init.retentionMs === undefined ? {} : { retentionMs: init.retentionMs }),
    node: context.peerId,
  })
  // Every span goes to the store; processors are for what else wants them (usually nothing).
  const processors: SpanProcessor[] = []
  if (init.otlp !== undefined && exporter !== undefined) {
    processors.push(
      new BatchSpanProcessor({
        exporter: new exporter({
          url: init.otlp.endpoint,
          headers: { ...init.otlp.headers },
          timeoutMillis: init.otlp.timeoutMs ?? DEFAULT_OTLP_TIMEOUT_MS,
        }),
        maxQueueSize: OTLP_MAX_QUEUE,
        maxExportBatchSize: OTLP_MAX_BATCH,
        scheduledDelayMillis: OTLP_EXPORT_DELAY_MS,
      }),
    )
  }
  processors.push(...(init.spanProcessors ?? []))
  const tracerProvider = new SpanTracerProvider(
    {
      node: context.peerId,
      store,
      resource: resourceFromAttributes({
        'service.name': SERVICE_NAME,
        [NODE_ATTRIBUTE]: context.peerId,
        ...(context.agentVersion === undefined ? {} : { 'service.version': context.agentVersion }),
      }),
      processors,
    },
    sampleRate,
  )
  let shutdown: Promise<void> | undefined
  return {
    tracerProvider,
    spans: processors.length === 0 ? new LineSpans(store, tracerProvider.sampleRoot) : undefined,
    store,
    forceFlush: () => tracerProvider.forceFlush(),
    shutdown() {
      shutdown ??= tracerProvider.shutdown().finally(() => store.close())
      return shutdown
    },
  }
}

function checkOtlp(otlp: OtlpInit): void {
  let url: URL
  try {
    url = new URL(otlp.endpoint)
  } catch {
    throw new TracingOptionError(
      `otlp.endpoint: expected an http(s) URL, got ${JSON.stringify(otlp.endpoint)}`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TracingOptionError(
      `otlp.endpoint: expected an http(s) URL, got ${JSON.stringify(otlp.endpoint)}`,
    )
  }
  const timeoutMs = otlp.timeoutMs ?? DEFAULT_OTLP_TIMEOUT_MS
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new TracingOptionError(`otlp.timeoutMs: expected a positive integer, got ${String(timeoutMs)}`)
  }
}
