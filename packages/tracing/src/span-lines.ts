/**
 * The text the store keeps a batch of spans in: one line per span, its fields separated by tabs,
 * under a header that names the node which recorded them and the instant the batch's times count
 * from. A node at 100 % sampling writes five spans per task, so a span is written by concatenating
 * its fields (ids, names and our own attribute values need no escaping) instead of through an
 * object per span and `JSON.stringify`, its times are small integers (microseconds from the
 * batch's base, not since the epoch), and the recording node's PeerId is written once per batch
 * instead of once per span. The protocol's form of a span (`TraceSpan`) is built only when a trace
 * is read.
 *
 * ```text
 * p2p-ai-spans <base µs since the epoch> <node>
 * <trace id>\t<span id>\t<parent id or "">\t<node or "">\t<name>\t<kind>\t<status>\t<start µs>\t<end µs>[\t<key>\t<value>]…
 * ```
 *
 * Kind is `i`, `s` or `c` (internal, server, client); status `u`, `o` or `e` (unset, ok, error); an
 * empty node is the header's. A value is `s` and a string without tabs, newlines or backslashes,
 * `j` and a JSON string, `n` and a number, or `t` / `f`. Batches written before this format (one
 * JSON object of compact spans by trace id) are still read.
 */
import { MAX_REASON_LENGTH, MAX_SPAN_ATTRIBUTES, type TraceSpan } from '@p2p-ai/protocol'

const HEADER = 'p2p-ai-spans '

/**
 * The first line of a batch of spans recorded by `node` (or, for peers' spans, '': by each line's
 * own), whose times count from `baseUs`.
 */
export function batchHeader(baseUs: number, node: string): string {
  return `${HEADER}${baseUs} ${node}\n`
}

const KIND_CHARS = { internal: 'i', server: 's', client: 'c' } as const
const STATUS_CHARS = { unset: 'u', ok: 'o', error: 'e' } as const
const KINDS: Readonly<Record<string, TraceSpan['kind']>> = { i: 'internal', s: 'server', c: 'client' }
const STATUSES: Readonly<Record<string, TraceSpan['status']>> = { u: 'unset', o: 'ok', e: 'error' }

/** Whether an attribute key fits the protocol, remembered: a node uses a handful of keys, millions of times. */
const KEY = /^[a-z][a-z0-9_.]{0,63}$/
const keyFits = new Map<string, boolean>()
export function keyFitsProtocol(key: string): boolean {
  let ok = keyFits.get(key)
  if (ok === undefined) {
    ok = KEY.test(key)
    if (keyFits.size < 1024) keyFits.set(key, ok)
  }
  return ok
}

const UNSAFE = /[\t\n\r\\]/

/** `\t<key>\t<value>` of an attribute the protocol takes, or '' for one it does not. */
export function attributeText(key: string, value: unknown): string {
  if (!keyFitsProtocol(key)) return ''
  if (typeof value === 'string') {
    const cut = value.length > MAX_REASON_LENGTH ? value.slice(0, MAX_REASON_LENGTH) : value
    return UNSAFE.test(cut) ? `\t${key}\tj${JSON.stringify(cut)}` : `\t${key}\ts${cut}`
  }
  if (typeof value === 'number') return Number.isFinite(value) ? `\t${key}\tn${value}` : ''
  if (typeof value === 'boolean') return value ? `\t${key}\tt` : `\t${key}\tf`
  return ''
}

/**
 * One span's line, attributes excepted (the caller appends them with `attributeText`, at most
 * `MAX_SPAN_ATTRIBUTES`, then a newline). `node` is '' for the batch's own; times are microseconds
 * from the batch's base.
 */
export function spanLine(
  traceId: string,
  spanId: string,
  parentId: string | undefined,
  node: string,
  name: string,
  kind: TraceSpan['kind'],
  status: TraceSpan['status'],
  startUs: number,
  endUs: number,
): string {
  return `${traceId}\t${spanId}\t${parentId ?? ''}\t${node}\t${name}\t${KIND_CHARS[kind]}\t${STATUS_CHARS[status]}\t${startUs}\t${endUs}`
}

/** The line of a span in the protocol's form (peers' spans, and spans given to `record`). */
export function traceSpanLine(traceId: string, span: TraceSpan, batchNode: string, baseUs: number): string {
  let line = spanLine(
    traceId,
    span.spanId,
    span.parentId,
    span.node === batchNode ? '' : span.node,
    span.name,
    span.kind,
    span.status,
    span.startUs - baseUs,
    span.endUs - baseUs,
  )
  const attributes = span.attributes
  if (attributes !== undefined) {
    let count = 0
    for (const key in attributes) {
      if (count >= MAX_SPAN_ATTRIBUTES) break
      const text = attributeText(key, attributes[key])
      if (text !== '') {
        line += text
        count++
      }
    }
  }
  return `${line}\n`
}

/** The spans of `traceId` in one batch's text, in the order they were written. */
export function readSpans(text: string, traceId: string): TraceSpan[] {
  if (text.startsWith('{')) {
    // A batch from before the line format: `{ "<trace id>": [span, …], … }`.
    return (JSON.parse(text) as Record<string, TraceSpan[] | undefined>)[traceId] ?? []
  }
  const headerEnd = text.indexOf('\n')
  if (!text.startsWith(HEADER) || headerEnd === -1) return []
  const header = text.slice(HEADER.length, headerEnd)
  const space = header.indexOf(' ')
  const baseUs = Number(header.slice(0, space))
  const batchNode = header.slice(space + 1)
  const spans: TraceSpan[] = []
  let at = text.indexOf(traceId, headerEnd)
  while (at !== -1) {
    let end = text.indexOf('\n', at)
    if (end === -1) end = text.length
    // A trace id starts a line; elsewhere (an attribute's value) it is no span of the trace.
    if (text.charCodeAt(at - 1) === 10 && text.charCodeAt(at + traceId.length) === 9) {
      const span = spanOf(text.slice(at, end).split('\t'), batchNode, baseUs)
      if (span !== undefined) spans.push(span)
    }
    at = text.indexOf(traceId, end)
  }
  return spans
}

function spanOf(fields: string[], batchNode: string, baseUs: number): TraceSpan | undefined {
  const kind = KINDS[fields[5] ?? '']
  const status = STATUSES[fields[6] ?? '']
  if (fields.length < 9 || kind === undefined || status === undefined) return undefined
  const parentId = fields[2] as string
  const span: { -readonly [K in keyof TraceSpan]: TraceSpan[K] } = {
    spanId: fields[1] as string,
    node: fields[3] === '' ? batchNode : (fields[3] as string),
    name: fields[4] as string,
    kind,
    startUs: baseUs + Number(fields[7]),
    endUs: baseUs + Number(fields[8]),
    status,
  }
  if (parentId !== '') span.parentId = parentId
  if (fields.length > 9) {
    const attributes: Record<string, string | number | boolean> = {}
    for (let i = 9; i + 1 < fields.length; i += 2) {
      const value = fields[i + 1] as string
      const type = value.charCodeAt(0)
      attributes[fields[i] as string] =
        type === 115 /* s */
          ? value.slice(1)
          : type === 110 /* n */
            ? Number(value.slice(1))
            : type === 106 /* j */
              ? (JSON.parse(value.slice(1)) as string)
              : value === 't'
    }
    span.attributes = attributes
  }
  return span
}
