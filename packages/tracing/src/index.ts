/**
 * `@p2p-ai/tracing`: the tracing plug-in of p2p-ai, on OpenTelemetry's API. A node given it records a
 * span for every step of every task it touches (submitted, attempted, relayed, queued, run), keeps
 * them in `traces.db` in its data directory for 48 hours so that `p2p-ai-agents task trace <id>`
 * needs no collector, and exports them with OTLP over HTTP (protobuf) when an endpoint is set.
 * Kept apart from `@p2p-ai/node` so that a node without tracing installs no OpenTelemetry SDK.
 *
 * ```ts
 * import { createNode } from '@p2p-ai/node'
 * import { tracing } from '@p2p-ai/tracing'
 *
 * const node = await createNode({ tracer: tracing({ sampleRate: 0.1 }) })
 * ```
 *
 * @packageDocumentation
 */

export * from './constants.js'
export { TraceStoreError, TracingOptionError } from './errors.js'
export { LineSpan, type LineSpanParent, LineSpans, type RemoteSpanParent } from './line-spans.js'
export { compactSpan, NODE_ATTRIBUTE, type StoredSpan, TASK_ID_ATTRIBUTE } from './spans.js'
export { type TraceStore, type TraceStoreInit, traceStore } from './store.js'
export { SpanTracerProvider } from './tracer.js'
export { type OtlpInit, type Tracing, type TracingContext, type TracingInit, tracing } from './tracing.js'
