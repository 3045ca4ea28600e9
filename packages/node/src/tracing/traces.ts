/**
 * `node.traces`: the timeline of a task, as spans gathered from this node and from every peer the
 * task went through (asked over the trace protocol, then kept here with this node's own).
 */
import type { TraceSpan } from '@p2p-ai/protocol'
import type { TraceService } from './trace-service.js'
import type { NodeTraceStore } from './types.js'

/** Everything known of one trace. */
export interface TaskTrace {
  readonly traceId: string
  /** The task it was asked for by, when it was asked for by a task id. */
  readonly taskId?: string
  /** This node's PeerId, to tell its spans from its peers'. */
  readonly self: string
  /** Every span kept of the trace, this node's and its peers', the earliest first. */
  readonly spans: readonly TraceSpan[]
  /** Peers that took part but whose spans could not be had (below minor 3, gone, too slow). */
  readonly missing: readonly string[]
}

/** Per-call options of `node.traces.get`. */
export interface TraceQueryOptions {
  /**
   * Ask the peers the task went through for their spans first (and keep them here).
   *
   * @default true
   */
  remote?: boolean
  signal?: AbortSignal
}

export interface NodeTracesInit {
  readonly self: string
  readonly store: NodeTraceStore
  readonly service: TraceService
  /** The trace a task of this node was recorded in: submitted here, or run here for a peer. */
  readonly traceOfTask: (taskId: string) => string | undefined
  /** How many links further peers are asked on this node's behalf. */
  readonly hops: number
}

const TRACE_ID = /^[0-9a-f]{32}$/

/** The traces a node recorded. */
export class NodeTraces {
  readonly #init: NodeTracesInit

  constructor(init: NodeTracesInit) {
    this.#init = init
  }

  /**
   * The trace of a task (by its id) or a trace by its id (32 hex digits), with the spans of every
   * node it went through; `undefined` when this node recorded nothing of it (not traced, not
   * sampled, or expired).
   */
  async get(id: string, options: TraceQueryOptions = {}): Promise<TaskTrace | undefined> {
    const { self, store, service, hops } = this.#init
    const byTraceId = TRACE_ID.test(id)
    const traceId = byTraceId ? id : (this.#init.traceOfTask(id) ?? store.traceOf(id))
    if (traceId === undefined) return undefined
    let missing: readonly string[] = []
    if (options.remote !== false) {
      const collected = await service.collect(traceId, hops, options.signal)
      // Ended spans do not change: asked again, a trace adds only what the store lacks.
      const kept = new Set((await store.spans(traceId)).map((span) => span.spanId))
      const news = collected.spans.filter((span) => span.node !== self && !kept.has(span.spanId))
      if (news.length > 0) store.add(traceId, news)
      missing = collected.missing
    }
    const spans = await store.spans(traceId)
    if (spans.length === 0) return undefined
    return { traceId, ...(byTraceId ? {} : { taskId: id }), self, spans, missing }
  }
}
