/**
 * `task trace`: a trace's spans as a timeline, with a node-by-node and a hop-by-hop breakdown.
 *
 * Each node times its spans on its own clock. Offsets across nodes are only as good as the clocks
 * agree; durations are exact, and so is the time a hop cost: a parent span on one node minus its
 * child on the next is the time the message spent between them (both ways, with whatever waited
 * to be sent or read), whatever the clocks say.
 */
import type { TraceSpan } from '@p2p-ai/protocol'
import type { TraceJson } from '../control/debug-types.js'

/** One line of the timeline. */
export interface TimelineRow {
  readonly span: TraceSpan
  /** Nesting, 0 for a root. */
  readonly depth: number
  /** Start, from the trace's first span, ms. */
  readonly offsetMs: number
  readonly durationMs: number
  /** The node's short name: A, B, C… in the order they appear. */
  readonly node: string
  readonly label: string
}

/** Where the time went on one node. */
export interface NodeBreakdown {
  readonly name: string
  readonly peerId: string
  readonly self: boolean
  /** From its first span's start to its last one's end, ms. */
  readonly spanMs: number
  /** Of that, not spent waiting for the next node: its own work and waits, ms. */
  readonly ownMs: number
  /** Queue and run times of the tasks it ran, ms. */
  readonly queueMs: number
  readonly runMs: number
}

/** What one link between two nodes cost. */
export interface HopBreakdown {
  readonly from: string
  readonly to: string
  /** The sending span and the receiving one, e.g. `attempt → relay`. */
  readonly via: string
  /** Time between the nodes, both ways: the parent's duration minus the child's, ms. */
  readonly networkMs: number
  /** Out and back, when the two clocks agree well enough to tell (both non-negative). */
  readonly outMs?: number
  readonly backMs?: number
}

export interface Timeline {
  readonly traceId: string
  readonly taskId?: string
  readonly totalMs: number
  readonly rows: readonly TimelineRow[]
  readonly nodes: readonly NodeBreakdown[]
  readonly hops: readonly HopBreakdown[]
  readonly missing: readonly string[]
}

const ms = (us: number): number => Math.round(us) / 1000

/** A short PeerId: `12D3…x7Qp`. */
export function shortPeer(peerId: string): string {
  return `${peerId.slice(0, 4)}…${peerId.slice(-4)}`
}

export function timeline(trace: TraceJson): Timeline {
  const spans = [...trace.spans].sort((a, b) => a.startUs - b.startUs)
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const children = new Map<string, TraceSpan[]>()
  const roots: TraceSpan[] = []
  for (const span of spans) {
    const parent = span.parentId === undefined ? undefined : byId.get(span.parentId)
    if (parent === undefined) roots.push(span)
    else children.set(parent.spanId, [...(children.get(parent.spanId) ?? []), span])
  }
  // The spans in tree order: each under its parent, siblings by start.
  const ordered: Array<{ span: TraceSpan; depth: number }> = []
  const visit = (span: TraceSpan, depth: number): void => {
    ordered.push({ span, depth })
    for (const child of children.get(span.spanId) ?? []) visit(child, depth + 1)
  }
  for (const root of roots) visit(root, 0)
  // Nodes named in the order the task reached them, this node first (clocks may disagree, the tree does not).
  const names = new Map<string, string>([[trace.self, 'A']])
  for (const { span } of ordered)
    if (!names.has(span.node)) names.set(span.node, String.fromCharCode(65 + names.size))
  const name = (peer: string): string => names.get(peer) ?? '?'
  const origin = roots[0]?.startUs ?? 0
  const end = Math.max(origin, ...spans.map((s) => s.endUs))
  const rows: TimelineRow[] = ordered.map(({ span, depth }) => ({
    span,
    depth,
    offsetMs: ms(span.startUs - origin),
    durationMs: ms(span.endUs - span.startUs),
    node: name(span.node),
    label: labelOf(span, name),
  }))

  const hops: HopBreakdown[] = []
  for (const { span } of ordered) {
    const parent = span.parentId === undefined ? undefined : byId.get(span.parentId)
    if (parent === undefined || parent.node === span.node) continue
    const out = span.startUs - parent.startUs
    const back = parent.endUs - span.endUs
    hops.push({
      from: name(parent.node),
      to: name(span.node),
      via: `${parent.name} → ${span.name}`,
      networkMs: ms(parent.endUs - parent.startUs - (span.endUs - span.startUs)),
      ...(out >= 0 && back >= 0 ? { outMs: ms(out), backMs: ms(back) } : {}),
    })
  }

  const nodes: NodeBreakdown[] = [...names].flatMap(([peerId, short]) => {
    const own = spans.filter((s) => s.node === peerId)
    if (own.length === 0) return []
    const first = Math.min(...own.map((s) => s.startUs))
    const last = Math.max(...own.map((s) => s.endUs))
    // Its outermost spans, less the spans of its own that waited on another node (an attempt sent
    // there covers the way there, the work there and the way back).
    const tops = own.filter((s) => s.parentId === undefined || byId.get(s.parentId)?.node !== peerId)
    const waiting = new Set(
      spans
        .filter((s) => s.node !== peerId && byId.get(s.parentId ?? '')?.node === peerId)
        .map((s) => s.parentId as string),
    )
    const duration = (s: TraceSpan): number => s.endUs - s.startUs
    const topUs = tops.reduce((sum, s) => sum + duration(s), 0)
    const waitUs = [...waiting].reduce((sum, id) => sum + duration(byId.get(id) as TraceSpan), 0)
    const sum = (n: string): number =>
      ms(own.filter((s) => s.name === n).reduce((t, s) => t + duration(s), 0))
    return [
      {
        name: short,
        peerId,
        self: peerId === trace.self,
        spanMs: ms(last - first),
        ownMs: ms(Math.max(0, topUs - waitUs)),
        queueMs: sum('queue'),
        runMs: sum('run'),
      },
    ]
  })
  return {
    traceId: trace.traceId,
    ...(trace.taskId === undefined ? {} : { taskId: trace.taskId }),
    totalMs: ms(end - origin),
    rows,
    nodes,
    hops,
    missing: trace.missing,
  }
}

function labelOf(span: TraceSpan, name: (peer: string) => string): string {
  const a = span.attributes ?? {}
  const peer = typeof a['p2p_ai.peer'] === 'string' ? a['p2p_ai.peer'] : undefined
  const from = typeof a['p2p_ai.from'] === 'string' ? a['p2p_ai.from'] : undefined
  const error = typeof a['error.type'] === 'string' ? ` ✘ ${a['error.type']}` : ''
  switch (span.name) {
    case 'task':
      return `task ${String(a['p2p_ai.task.type'] ?? '')}`.trimEnd() + error
    case 'replica':
      return `replica ${String(a['p2p_ai.replica'] ?? '')}`.trimEnd() + error
    case 'attempt': {
      const route = String(a['p2p_ai.route'] ?? '')
      const where =
        route === 'local' ? 'here' : peer === undefined ? '' : `→ ${name(peer)} ${shortPeer(peer)}`
      return `attempt ${String(a['p2p_ai.attempt'] ?? '')} ${where}${route === 'forward' ? ' (forwarded)' : ''}${error}`
    }
    case 'serve':
    case 'relay':
      return `${span.name}${from === undefined ? '' : ` for ${name(from)} ${shortPeer(from)}`}${error}`
    default:
      return span.name + error
  }
}
