/**
 * OpenTelemetry's spans in the compact form the store keeps and the trace protocol carries
 * (`TraceSpan`, docs/protocol.md §2.7): microseconds since the epoch, three kinds, three statuses,
 * flat attributes within the protocol's bounds.
 */
import { type Attributes, type HrTime, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace'
import { MAX_REASON_LENGTH, MAX_SPAN_ATTRIBUTES, type TraceSpan } from '@p2p-ai/protocol'

/** The attribute that names the node which recorded a span (a resource attribute: its PeerId). */
export const NODE_ATTRIBUTE = 'service.instance.id'

/** The attribute that names the task a span belongs to; the store remembers recent tasks' traces by it. */
export const TASK_ID_ATTRIBUTE = 'p2p_ai.task.id'

const NAME = /^[a-z][a-z0-9._-]*$/
const KEY = /^[a-z][a-z0-9_.]{0,63}$/

/** Whether an attribute key fits the protocol, remembered: a node uses a handful of keys, millions of times. */
const keyFits = new Map<string, boolean>()
function fits(key: string): boolean {
  let ok = keyFits.get(key)
  if (ok === undefined) {
    ok = KEY.test(key)
    if (keyFits.size < 1024) keyFits.set(key, ok)
  }
  return ok
}

/** A compact span, with the trace it belongs to and the task it names, if any. */
export interface StoredSpan {
  readonly traceId: string
  readonly taskId: string | undefined
  readonly span: TraceSpan
}

/** Converts an ended OpenTelemetry span; `node` is the recording node's PeerId. */
export function compactSpan(span: ReadableSpan, node: string): StoredSpan {
  const context = span.spanContext()
  const parent = span.parentSpanContext?.spanId
  const attributes = compactAttributes(span.attributes)
  const taskId = span.attributes[TASK_ID_ATTRIBUTE]
  const startUs = micros(span.startTime)
  return {
    traceId: context.traceId,
    taskId: typeof taskId === 'string' ? taskId : undefined,
    span: {
      spanId: context.spanId,
      ...(parent === undefined ? {} : { parentId: parent }),
      node,
      name: spanName(span.name),
      kind: span.kind === SpanKind.SERVER ? 'server' : span.kind === SpanKind.CLIENT ? 'client' : 'internal',
      startUs,
      endUs: Math.max(startUs, micros(span.endTime)),
      status:
        span.status.code === SpanStatusCode.ERROR
          ? 'error'
          : span.status.code === SpanStatusCode.OK
            ? 'ok'
            : 'unset',
      ...(attributes === undefined ? {} : { attributes }),
    },
  }
}

function micros(time: HrTime): number {
  return time[0] * 1_000_000 + Math.floor(time[1] / 1_000)
}

/** Names as the protocol takes them, remembered like keys: a node records a handful of names. */
const fittedNames = new Map<string, string>()

/** A name the protocol takes: our own names pass as they are; foreign ones are made to fit. */
function spanName(name: string): string {
  let fitted = fittedNames.get(name)
  if (fitted === undefined) {
    fitted = fitName(name)
    if (fittedNames.size < 1024) fittedNames.set(name, fitted)
  }
  return fitted
}

function fitName(name: string): string {
  if (name.length <= 64 && NAME.test(name)) return name
  const fitted = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '_')
    .slice(0, 63)
  return /^[a-z]/.test(fitted) ? fitted : `x${fitted}`.slice(0, 64)
}

function compactAttributes(attributes: Attributes): Record<string, string | number | boolean> | undefined {
  let out: Record<string, string | number | boolean> | undefined
  let count = 0
  for (const key in attributes) {
    const value = attributes[key]
    if (count >= MAX_SPAN_ATTRIBUTES) break
    if (!fits(key)) continue
    if (typeof value === 'string') {
      out ??= {}
      out[key] = value.length > MAX_REASON_LENGTH ? value.slice(0, MAX_REASON_LENGTH) : value
    } else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') {
      out ??= {}
      out[key] = value
    } else continue
    count++
  }
  return out
}
