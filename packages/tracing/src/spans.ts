/**
 * OpenTelemetry's spans in the compact form the trace protocol carries (`TraceSpan`,
 * docs/protocol.md §2.7): microseconds since the epoch, three kinds, three statuses, flat
 * attributes within the protocol's bounds. (The store keeps them as lines: `span-lines.ts`.)
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

/** What the compact form is made of: a span's fields as plain values. */
export interface SpanFields {
  readonly traceId: string
  readonly spanId: string
  readonly parentId: string | undefined
  readonly name: string
  readonly kind: SpanKind
  /** Microseconds since the epoch. */
  readonly startUs: number
  readonly endUs: number
  readonly status: SpanStatusCode
  readonly attributes: Attributes
}

/** Converts an ended OpenTelemetry span; `node` is the recording node's PeerId. */
export function compactSpan(span: ReadableSpan, node: string): StoredSpan {
  const context = span.spanContext()
  return storedSpan(
    {
      traceId: context.traceId,
      spanId: context.spanId,
      parentId: span.parentSpanContext?.spanId,
      name: span.name,
      kind: span.kind,
      startUs: micros(span.startTime),
      endUs: micros(span.endTime),
      status: span.status.code,
      attributes: span.attributes,
    },
    node,
  )
}

/** The compact span of these fields, recorded by `node`. */
export function storedSpan(fields: SpanFields, node: string): StoredSpan {
  return { traceId: fields.traceId, taskId: taskIdOf(fields.attributes), span: compactOf(fields, node) }
}

/**
 * The compact span of these fields, made in one shape: a missing `parentId` or `attributes` is
 * there as `undefined`, which `JSON.stringify` leaves out as the protocol wants, so every span
 * the store serialises is an object of the same hidden class (a node makes five per task).
 */
function compactOf(fields: SpanFields, node: string): TraceSpan {
  const { startUs } = fields
  const span = {
    spanId: fields.spanId,
    parentId: fields.parentId,
    node,
    name: fitSpanName(fields.name),
    kind: kindName(fields.kind),
    startUs,
    endUs: Math.max(startUs, fields.endUs),
    status: statusName(fields.status),
    attributes: compactAttributes(fields.attributes),
  }
  return span as TraceSpan
}

/** The task a span names, if it does. */
export function taskIdOf(attributes: Attributes): string | undefined {
  const taskId = attributes[TASK_ID_ATTRIBUTE]
  return typeof taskId === 'string' ? taskId : undefined
}

function kindName(kind: SpanKind): TraceSpan['kind'] {
  return kind === SpanKind.SERVER ? 'server' : kind === SpanKind.CLIENT ? 'client' : 'internal'
}

function statusName(status: SpanStatusCode): TraceSpan['status'] {
  return status === SpanStatusCode.ERROR ? 'error' : status === SpanStatusCode.OK ? 'ok' : 'unset'
}

function micros(time: HrTime): number {
  return time[0] * 1_000_000 + Math.floor(time[1] / 1_000)
}

/** Names as the protocol takes them, remembered like keys: a node records a handful of names. */
const fittedNames = new Map<string, string>()

/** A name the protocol takes: our own names pass as they are; foreign ones are made to fit. */
export function fitSpanName(name: string): string {
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

/** An attribute value the protocol takes (strings cut to its bound), or undefined for one it does not. */
function compactValue(value: Attributes[string]): string | number | boolean | undefined {
  if (typeof value === 'string')
    return value.length > MAX_REASON_LENGTH ? value.slice(0, MAX_REASON_LENGTH) : value
  if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return value
  return undefined
}

function compactAttributes(attributes: Attributes): Record<string, string | number | boolean> | undefined {
  let out: Record<string, string | number | boolean> | undefined
  let count = 0
  for (const key in attributes) {
    if (count >= MAX_SPAN_ATTRIBUTES) break
    if (!fits(key)) continue
    const value = compactValue(attributes[key])
    if (value === undefined) continue
    out ??= {}
    out[key] = value
    count++
  }
  return out
}
