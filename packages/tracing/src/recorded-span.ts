/**
 * The spans the plug-in records: OpenTelemetry spans (the API's `Span`, and the SDK's
 * `ReadableSpan` for span processors and the OTLP exporter) kept as plain values. A node records
 * five of them per task at 100 % sampling, so a span costs what its fields cost: times are
 * milliseconds, turned into the SDK's `[seconds, nanoseconds]` only when a processor asks for them,
 * and an ended span goes to the store in its compact form, with no processor in between.
 */
import {
  type Attributes,
  type AttributeValue,
  type Context,
  diag,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanAttributes,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
} from '@opentelemetry/api'
import { type InstrumentationScope, isAttributeValue } from '@opentelemetry/core'
import type { Resource } from '@opentelemetry/resources'
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace'
import { wallOf } from './clock.js'
import { storedSpan } from './spans.js'
import type { TraceStore } from './store.js'

/** Attributes, events and links a span keeps at most (the SDK's defaults); more are counted as dropped. */
const MAX_ATTRIBUTES = 128
const MAX_EVENTS = 128
const MAX_LINKS = 128

/** What every span of one provider shares: where ended spans go, and who records them. */
export interface SpanSink {
  /** The recording node's PeerId. */
  readonly node: string
  readonly store: TraceStore
  readonly resource: Resource
  /** Span processors besides the store (the OTLP exporter's, a user's own): usually none. */
  readonly processors: readonly SpanProcessor[]
}

/** What a span starts with. */
export interface SpanStart {
  readonly name: string
  readonly kind: SpanKind
  readonly context: SpanContext
  readonly parent: SpanContext | undefined
  readonly attributes: SpanAttributes | undefined
  readonly links: readonly Link[] | undefined
  readonly startTime: TimeInput | undefined
}

export class RecordedSpan implements Span, ReadableSpan {
  name: string
  readonly kind: SpanKind
  readonly parentSpanContext?: SpanContext
  readonly attributes: Attributes = {}
  readonly links: Link[] = []
  readonly events: TimedEvent[] = []
  status: SpanStatus = { code: SpanStatusCode.UNSET }
  ended = false
  droppedAttributesCount = 0
  droppedEventsCount = 0
  droppedLinksCount = 0
  readonly instrumentationScope: InstrumentationScope
  readonly #sink: SpanSink
  readonly #context: SpanContext
  /** Wall-clock milliseconds (fractional). */
  readonly #startMs: number
  #endMs = 0
  #attributeCount = 0

  constructor(sink: SpanSink, scope: InstrumentationScope, start: SpanStart, parentContext: Context) {
    this.#sink = sink
    this.instrumentationScope = scope
    this.name = start.name
    this.kind = start.kind
    this.#context = start.context
    if (start.parent !== undefined) this.parentSpanContext = start.parent
    this.#startMs = start.startTime === undefined ? wallOf(performance.now()) : wallTime(start.startTime)
    if (start.attributes !== undefined) this.setAttributes(start.attributes)
    if (start.links !== undefined) this.addLinks([...start.links])
    for (const processor of sink.processors) processor.onStart(this, parentContext)
  }

  get resource(): Resource {
    return this.#sink.resource
  }

  get startTime(): HrTime {
    return hrTime(this.#startMs)
  }

  get endTime(): HrTime {
    return this.ended ? hrTime(this.#endMs) : [0, 0]
  }

  get duration(): HrTime {
    if (!this.ended) return [-1, -1]
    // The difference of the two times as given, so that start + duration is the end to the nanosecond.
    const [startS, startNs] = hrTime(this.#startMs)
    const [endS, endNs] = hrTime(this.#endMs)
    return endNs >= startNs
      ? [endS - startS, endNs - startNs]
      : [endS - startS - 1, endNs - startNs + 1_000_000_000]
  }

  spanContext(): SpanContext {
    return this.#context
  }

  isRecording(): boolean {
    return !this.ended
  }

  setAttribute(key: string, value: SpanAttributes[string]): this {
    if (this.ended || key.length === 0) return this
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      if (!isAttributeValue(value)) return this
      // An array is kept as it was set: the caller may change its own afterwards.
      value = (value as AttributeValue[]).slice() as AttributeValue
    }
    if (!Object.hasOwn(this.attributes, key)) {
      if (this.#attributeCount >= MAX_ATTRIBUTES) {
        this.droppedAttributesCount++
        return this
      }
      this.#attributeCount++
    }
    this.attributes[key] = value
    return this
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key in attributes) this.setAttribute(key, attributes[key])
    return this
  }

  addEvent(name: string, attributesOrTime?: SpanAttributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this
    let attributes: SpanAttributes | undefined
    if (isTimeInput(attributesOrTime)) time ??= attributesOrTime
    else attributes = attributesOrTime
    if (this.events.length >= MAX_EVENTS) {
      this.events.shift()
      this.droppedEventsCount++
    }
    const event: { name: string; time: HrTime; attributes?: Attributes; droppedAttributesCount: number } = {
      name,
      time: hrTime(time === undefined ? wallOf(performance.now()) : wallTime(time)),
      droppedAttributesCount: 0,
    }
    if (attributes !== undefined) event.attributes = primitiveAttributes(attributes)
    this.events.push(event)
    return this
  }

  addLink(link: Link): this {
    if (this.ended) return this
    if (this.links.length >= MAX_LINKS) {
      this.links.shift()
      this.droppedLinksCount++
    }
    this.links.push(
      link.attributes === undefined
        ? { context: link.context }
        : { context: link.context, attributes: primitiveAttributes(link.attributes) },
    )
    return this
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link)
    return this
  }

  setStatus(status: SpanStatus): this {
    // As the SDK: UNSET changes nothing, and OK is final.
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK)
      return this
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === 'string'
        ? { code: status.code, message: status.message }
        : { code: status.code }
    return this
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name
    return this
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: SpanAttributes = {}
    if (typeof exception === 'string') attributes['exception.message'] = exception
    else if (exception !== undefined && exception !== null) {
      const type = exception.code ?? exception.name
      if (type !== undefined) attributes['exception.type'] = String(type)
      if (exception.message !== undefined) attributes['exception.message'] = exception.message
      if (exception.stack !== undefined) attributes['exception.stacktrace'] = exception.stack
    }
    this.addEvent('exception', attributes, time)
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(
        `${this.name} ${this.#context.traceId}-${this.#context.spanId} - You can only call end() on a span once.`,
      )
      return
    }
    const endMs = endTime === undefined ? wallOf(performance.now()) : wallTime(endTime)
    this.#endMs = Math.max(this.#startMs, endMs)
    const { processors, store, node } = this.#sink
    for (const processor of processors) processor.onEnding?.(this)
    this.ended = true
    const context = this.#context
    store.record(
      storedSpan(
        {
          traceId: context.traceId,
          spanId: context.spanId,
          parentId: this.parentSpanContext?.spanId,
          name: this.name,
          kind: this.kind,
          startUs: Math.floor(this.#startMs * 1000),
          endUs: Math.floor(this.#endMs * 1000),
          status: this.status.code,
          attributes: this.attributes,
        },
        node,
      ),
    )
    for (const processor of processors) processor.onEnd(this)
  }
}

/**
 * Wall-clock milliseconds of a time the API takes: a `performance.now()` value of this process (a
 * number up to now), epoch milliseconds (a larger number, or a Date), or `[seconds, nanoseconds]`.
 */
function wallTime(time: TimeInput): number {
  const now = performance.now()
  let ms: number
  if (typeof time === 'number') ms = time <= now ? wallOf(time) : time
  else if (time instanceof Date) ms = time.getTime()
  else ms = time[0] * 1_000 + time[1] / 1_000_000
  // A time that is no time (NaN, an invalid Date) is now, so a span always has one.
  return Number.isFinite(ms) ? ms : wallOf(now)
}

function isTimeInput(value: unknown): value is TimeInput {
  return (
    typeof value === 'number' ||
    value instanceof Date ||
    (Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'number' &&
      typeof value[1] === 'number')
  )
}

/** `[seconds, nanoseconds]` of wall-clock milliseconds, as the SDK's spans give their times. */
function hrTime(ms: number): HrTime {
  let seconds = Math.floor(ms / 1_000)
  let nanos = Math.round((ms - seconds * 1_000) * 1_000_000)
  if (nanos >= 1_000_000_000) {
    seconds++
    nanos -= 1_000_000_000
  }
  return [seconds, nanos]
}

/** Attributes of events and links: values the API takes, arrays copied. */
function primitiveAttributes(attributes: SpanAttributes): Attributes {
  const out: Attributes = {}
  for (const key in attributes) {
    const value = attributes[key]
    if (key.length > 0 && isAttributeValue(value)) out[key] = Array.isArray(value) ? value.slice() : value
  }
  return out
}
