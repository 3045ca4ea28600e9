/**
 * What the dashboard's server and its page say to each other: plain JSON, the one definition both
 * sides compile against (the page is built from `src/ui` with this file). Documented in
 * docs/dashboard.md.
 */

/** How this node sees another: itself, a peer it has a connection to, or one a peer announced. */
export type GraphNodeKind = 'self' | 'peer' | 'reached'

/**
 * What colour a node wears: `self`; a peer with free slots (`idle`), running tasks (`busy`), or
 * none free (`full`); a peer whose circuit breaker is open after repeated failures (`degraded`);
 * a node known only from a peer's announcement (`reached`).
 */
export type GraphNodeState = 'self' | 'idle' | 'busy' | 'full' | 'degraded' | 'reached'

/** One node of the topology. */
export interface GraphNode {
  /** Its PeerId. */
  readonly id: string
  readonly kind: GraphNodeKind
  readonly state: GraphNodeState
  /** Links from this node: 0 for itself, 1 for a peer, 2 or more for a reached node. */
  readonly hops: number
  /** For a reached node: the peer that announced it. */
  readonly via?: string
  readonly agentVersion?: string
  /** Task types it runs (for a reached node: those its announcing peer reaches through it). */
  readonly taskTypes: readonly string[]
  readonly models: readonly string[]
  readonly concurrency?: number
  readonly load?: { readonly running: number; readonly queued: number }
  /** Round-trip time of the last heartbeat, in milliseconds. */
  readonly rttMs?: number
  /** How this node reaches it, for a peer. */
  readonly connection?: 'direct' | 'relayed'
  /** Its track record as a provider of this node's tasks, 0..1. */
  readonly successRate?: number
  /** This node's tasks it runs or queues right now. */
  readonly outstanding?: number
  readonly addresses?: readonly string[]
}

/**
 * `direct` and `relayed`: a connection of this node (a relayed one through a circuit relay);
 * `forward`: a peer announced it reaches the other end (a forwarded task can travel it).
 */
export type GraphEdgeKind = 'direct' | 'relayed' | 'forward'

export interface GraphEdge {
  /** `<source>|<target>`. */
  readonly id: string
  readonly source: string
  readonly target: string
  readonly kind: GraphEdgeKind
  readonly rttMs?: number
  /** For a relayed connection: the relay's PeerId. */
  readonly relay?: string
  /** For a forward edge: the task types reached over it. */
  readonly taskTypes?: readonly string[]
}

/** The whole topology at one moment. */
export interface Topology {
  readonly self: string
  readonly nodes: readonly GraphNode[]
  readonly edges: readonly GraphEdge[]
}

/** What changed between two topologies; nodes and edges are replaced whole. */
export interface TopologyDiff {
  readonly upsertNodes: readonly GraphNode[]
  readonly removeNodes: readonly string[]
  readonly upsertEdges: readonly GraphEdge[]
  readonly removeEdges: readonly string[]
}

/**
 * A task moving along an edge:
 * - `sent`: an attempt of a task submitted here went to `to` (this node's own PeerId: run here);
 * - `answered`: the result came back from `from` (for a forwarded task, `provider` ran it);
 * - `failed`: the task ended without a result (`code` says why);
 * - `failover`: an attempt on `from` failed (`code`) and the task goes on with `to`;
 * - `served`: a peer's task started here (`from` is the requester);
 * - `returned`: this node sent a peer its task's result (`to` is the requester).
 */
export interface FlowEvent {
  readonly kind: 'sent' | 'answered' | 'failed' | 'failover' | 'served' | 'returned'
  readonly at: number
  readonly task: string
  readonly type: string
  readonly from: string
  readonly to: string
  readonly provider?: string
  readonly code?: string
  /** For `answered` and `failed`: the task's whole latency. */
  readonly latencyMs?: number
}

/** An alert as it stands (the node's own alert table). */
export interface AlertView {
  readonly name: string
  readonly active: boolean
  readonly message: string
  readonly value?: number
  readonly threshold: number
  /** `Date.now()` when it was raised, while active. */
  readonly since?: number
}

/** An alert raised or cleared. */
export interface AlertEvent {
  readonly at: number
  readonly name: string
  readonly state: 'raised' | 'cleared'
  readonly message: string
  readonly value?: number
  readonly threshold: number
}

/** This node, as the header shows it. */
export interface SelfView {
  readonly peerId: string
  readonly state: string
  readonly version: string
  readonly addresses: readonly string[]
  readonly startedAt: number
  readonly taskTypes: readonly string[]
}

/**
 * One point of the metrics history: what happened during `stepMs` from `at`. Counts are totals
 * over the step; gauges are means of the samples in it; latencies are percentiles of the tasks
 * that finished in it (absent when none did).
 */
export interface HistoryPoint {
  readonly at: number
  readonly completed: number
  readonly failed: number
  readonly failovers: number
  readonly served: number
  readonly peers: number
  readonly running: number
  readonly queued: number
  readonly alerts: number
  readonly p50Ms?: number
  readonly p95Ms?: number
  readonly p99Ms?: number
}

/** `GET /api/history?range=<ms>`. */
export interface HistoryJson {
  readonly from: number
  readonly to: number
  /** The step of the points: finer for short ranges, coarser (downsampled) for long ones. */
  readonly stepMs: number
  readonly points: readonly HistoryPoint[]
  readonly alerts: readonly AlertEvent[]
  /** How long history is kept. */
  readonly keptMs: number
}

/** The first message of the live feed. */
export interface HelloJson {
  readonly self: SelfView
  readonly topology: Topology
  readonly alerts: readonly AlertView[]
  /** The latest history point, for the live charts. */
  readonly sampleMs: number
  /** How far the view reaches, in words (shown under the graph). */
  readonly reach: string
  /** Whether task details can show a trace timeline (the node records traces). */
  readonly traces: boolean
}

/** Events of `GET /api/live` (server-sent events; the `event:` field is `type`). */
export type LiveEvent =
  | ({ readonly type: 'hello' } & HelloJson)
  | { readonly type: 'self'; readonly self: SelfView }
  | ({ readonly type: 'topology' } & TopologyDiff)
  | { readonly type: 'flow'; readonly events: readonly FlowEvent[] }
  | { readonly type: 'sample'; readonly point: HistoryPoint; readonly stepMs: number }
  | { readonly type: 'alert'; readonly event: AlertEvent; readonly alerts: readonly AlertView[] }

/** The task states a table shows. */
export type TaskState = 'PENDING' | 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TIMEOUT' | 'CANCELLED'

/** One row of the tasks table. */
export interface TaskRow {
  readonly id: string
  readonly type: string
  readonly status: TaskState
  /** `submitted`: this node's own task; `served`: a task a peer sent this node. */
  readonly side: 'submitted' | 'served'
  /** Who ran it (submitted) or who sent it (served). */
  readonly peer?: string
  readonly queuedAt: number
  readonly finishedAt?: number
  readonly latencyMs?: number
  readonly attempts?: number
  readonly error?: { readonly code: string; readonly message: string }
}

/** `GET /api/tasks`. */
export interface TaskListJson {
  readonly tasks: readonly TaskRow[]
}

/** One attempt of a task, for its detail. */
export interface AttemptView {
  readonly attempt: number
  readonly peer: string
  readonly startedAt: number
  readonly finishedAt?: number
  readonly error?: { readonly code: string; readonly message: string }
  /** The attempt that produced the result. */
  readonly answered?: boolean
}

/** `GET /api/tasks/:id`: a task with what is known of how it went. */
export interface TaskDetailJson {
  readonly task: TaskRow & {
    readonly priority?: number
    readonly startedAt?: number
    readonly output?: unknown
    readonly progress?: { readonly fraction: number; readonly message?: string }
  }
  readonly attempts: readonly AttemptView[]
  /** For a forwarded task: the node that ran it and signed the result. */
  readonly provider?: string
  /** The provider's own timings of the attempt that produced the result, in milliseconds. */
  readonly timings?: Readonly<Record<string, number>>
  /** For a redundant task: who answered and whether each agreed with the accepted answer. */
  readonly redundancy?: {
    readonly k: number
    readonly required: number
    readonly answers: readonly { readonly peer: string; readonly agreed: boolean }[]
  }
  /**
   * What the result's check said: `signed` (a peer's signed result, checked against the request:
   * signature, signer, request digest), `local` (run on this node), or absent while unfinished.
   */
  readonly verified?: 'signed' | 'local' | 'agreed'
}

/** One span of a trace timeline (`GET /api/tasks/:id/trace`). */
export interface TraceSpanView {
  readonly spanId: string
  readonly parentId?: string
  /** The PeerId of the node that recorded it. */
  readonly node: string
  readonly name: string
  readonly kind: string
  readonly startUs: number
  readonly endUs: number
  readonly status: string
  readonly attributes?: Readonly<Record<string, string | number | boolean>>
}

/** A task's trace, hop by hop: every node's spans of it. */
export interface TraceJson {
  readonly traceId: string
  readonly self: string
  readonly spans: readonly TraceSpanView[]
  /** Nodes that took part but whose spans could not be had. */
  readonly missing: readonly string[]
}

/** `POST /api/tasks`. */
export interface SubmitJson {
  readonly type: string
  readonly input: Record<string, unknown>
  /** A PeerId, or `self`; absent: the swarm chooses. */
  readonly target?: string
  readonly redundancy?: number
}

/**
 * Events of `GET /api/tasks/:id/stream` (server-sent events): streamed text as it comes, a
 * failover that starts it again, a mismatch with the signed result, and the task as it ended.
 */
export type TaskStreamJson =
  | { readonly type: 'delta'; readonly text: string }
  | {
      readonly type: 'restart'
      readonly reason: { readonly code: string; readonly message: string }
      readonly peer: string
      readonly discarded: number
    }
  | { readonly type: 'mismatch'; readonly streamed: string; readonly text: string }
  | { readonly type: 'end'; readonly detail: TaskDetailJson }

/** Every error answer of the dashboard's API. */
export interface ErrorJson {
  readonly error: { readonly code: string; readonly message: string }
}
