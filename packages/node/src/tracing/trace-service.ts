/**
 * The trace protocol (docs/protocol.md §2.7): a node asks the peers it sent part of a task to for
 * the spans they recorded of its trace, and answers the same question from the peers that sent it
 * part of one. A relay asks its own next hops on the asker's behalf, so the requester gets every
 * node's spans of a task from its neighbours alone, however far the task went.
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import {
  decodeFrames,
  encodeTraceMessage,
  MAX_FORWARD_HOPS,
  MAX_TRACE_SPANS,
  readTraceMessage,
  TRACE_CONTEXT_MINOR,
  TRACE_PROTOCOL,
  type TraceSpan,
} from '@p2p-ai/protocol'
import { openStream, type Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import type { PeerDirectory } from '../peers/directory.js'
import { TRACE_FRAME_BYTES, TRACE_HOP_TIMEOUT_MS } from './constants.js'
import { SPAN_ATTRIBUTES } from './task-tracer.js'
import type { NodeTraceStore } from './types.js'

export interface TraceServiceInit {
  readonly self: string
  readonly transport: Transport
  readonly directory: PeerDirectory
  readonly store: NodeTraceStore
  readonly log: Logger
  /**
   * How long one link has to answer a `trace.query`: a peer asked to go `hops` links further gets
   * this much per link.
   *
   * @default 2_000
   */
  readonly hopTimeoutMs?: number
}

/** What the spans of a trace could be gathered from this node and the peers it asked. */
export interface CollectedSpans {
  readonly spans: readonly TraceSpan[]
  /** Peers that took part but whose spans are not in: below minor 3, gone, or too slow. */
  readonly missing: readonly string[]
}

export class TraceService {
  readonly #init: TraceServiceInit
  readonly #hopTimeoutMs: number

  constructor(init: TraceServiceInit) {
    this.#init = init
    this.#hopTimeoutMs = init.hopTimeoutMs ?? TRACE_HOP_TIMEOUT_MS
  }

  /** Registers the trace protocol's handler. */
  async start(): Promise<void> {
    await this.#init.transport.handle(
      TRACE_PROTOCOL,
      (stream, connection) => this.#answer(stream, connection),
      // Tasks run over relayed connections too, so their spans come back the same way (a few KB).
      { runOnLimitedConnection: true },
    )
  }

  /**
   * This node's spans of the trace, with those of every peer it passed part of the task on to, up
   * to `hops` links further (each of those asks its own next hops in turn).
   */
  async collect(traceId: string, hops: number, signal?: AbortSignal): Promise<CollectedSpans> {
    const { self, store, directory } = this.#init
    const own = (await store.spans(traceId)).filter((span) => span.node === self)
    const downstream = new Set<string>()
    for (const span of own) {
      const peer = span.attributes?.[SPAN_ATTRIBUTES.peer]
      if (span.kind === 'client' && typeof peer === 'string' && peer !== self) downstream.add(peer)
    }
    const spans = new Map(own.map((span) => [span.spanId, span]))
    const missing = new Set<string>()
    await Promise.all(
      [...downstream].map(async (peer) => {
        const record = directory.record(peer)
        if (hops <= 0 || record === undefined || directory.protocolMinor(peer) < TRACE_CONTEXT_MINOR) {
          missing.add(peer)
          return
        }
        try {
          const answer = await this.#ask(record.id, traceId, hops - 1, signal)
          for (const span of answer.spans) if (!spans.has(span.spanId)) spans.set(span.spanId, span)
          for (const peer of answer.missing ?? []) missing.add(peer)
        } catch (err) {
          this.#init.log.debug({ remotePeer: peer, err, traceId }, 'asked a peer for spans, no answer')
          missing.add(peer)
        }
      }),
    )
    const sorted = [...spans.values()].sort((a, b) => a.startUs - b.startUs).slice(0, MAX_TRACE_SPANS)
    return { spans: sorted, missing: [...missing].slice(0, MAX_FORWARD_HOPS) }
  }

  async #ask(peer: PeerId, traceId: string, hops: number, signal?: AbortSignal) {
    // The peer may ask `hops` links further in turn, each link with the same time: a slow node far
    // down makes its own neighbour miss it, not everyone between here and there.
    const timeout = AbortSignal.timeout(this.#hopTimeoutMs * (1 + hops))
    const both = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    const stream = await openStream(this.#init.transport, peer, TRACE_PROTOCOL, {
      signal: both,
      runOnLimitedConnection: true,
    })
    const onAbort = (): void => stream.abort(new Error('no answer to trace.query in time'))
    both.addEventListener('abort', onAbort, { once: true })
    try {
      if (!stream.send(encodeTraceMessage('trace.query', { traceId, hops })))
        await stream.onDrain({ signal: both })
      await stream.close({ signal: both })
      for await (const frame of decodeFrames(stream, { maxFrameBytes: TRACE_FRAME_BYTES })) {
        if (!frame.ok) throw frame.error
        const answer = readTraceMessage(frame.value, 'trace.spans')
        if (answer.traceId !== traceId) throw new Error('the answer is about another trace')
        return answer
      }
      throw new Error('the peer closed the stream without an answer')
    } finally {
      both.removeEventListener('abort', onAbort)
    }
  }

  async #answer(stream: Stream, connection: Connection): Promise<void> {
    const remotePeer = connection.remotePeer.toString()
    try {
      let query: { traceId: string; hops: number } | undefined
      // The query and its end come at once from an honest peer: one that sends nothing, or never
      // closes its side, holds the stream for one link's time, not for ever.
      const reading = AbortSignal.timeout(this.#hopTimeoutMs)
      for await (const frame of decodeFrames(stream, { maxFrameBytes: TRACE_FRAME_BYTES, signal: reading })) {
        if (!frame.ok) throw frame.error
        query ??= readTraceMessage(frame.value, 'trace.query')
      }
      if (query === undefined) throw new Error('no trace.query on the stream')
      const answer = (await this.#allowed(query.traceId, remotePeer))
        ? await this.collect(query.traceId, Math.min(query.hops, MAX_FORWARD_HOPS - 1))
        : { spans: [], missing: [] }
      const frame = encodeTraceMessage('trace.spans', {
        traceId: query.traceId,
        spans: [...answer.spans],
        ...(answer.missing.length === 0 ? {} : { missing: [...answer.missing] }),
      })
      // Nor does a peer that stops reading hold it.
      const writing = AbortSignal.timeout(this.#hopTimeoutMs)
      if (!stream.send(frame)) await stream.onDrain({ signal: writing })
      await stream.close({ signal: writing })
    } catch (err) {
      this.#init.log.debug({ remotePeer, err }, 'trace stream failed')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  /**
   * Only a peer that sent this node part of the trace may read its spans (§2.7, rule 1), and only
   * of a trace the store finds without a search of everything it keeps.
   */
  async #allowed(traceId: string, peer: string): Promise<boolean> {
    const { self, store } = this.#init
    if (store.recent !== undefined && !store.recent(traceId)) return false
    const spans = await store.spans(traceId)
    return spans.some((span) => span.node === self && span.attributes?.[SPAN_ATTRIBUTES.from] === peer)
  }
}
