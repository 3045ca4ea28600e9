/**
 * What the dashboard reads: a narrow, plain view of a running node, so that the server, its live
 * feed and its history never touch libp2p. `nodeSource` (./node.ts) reads it off a `P2PNode`; the
 * benchmark feeds a synthetic swarm of a thousand nodes through the same interface.
 */
import type { PeerInfo, PeerReputation } from '@p2p-ai/node'
import type {
  AlertEvent,
  AlertView,
  FlowEvent,
  SelfView,
  SubmitJson,
  TaskDetailJson,
  TaskRow,
  TaskState,
  TaskStreamJson,
  TraceJson,
} from '../wire.js'

/** What the topology reads of a peer: the peer directory's own record, or a synthetic one. */
export type PeerView = Pick<
  PeerInfo,
  'peerId' | 'status' | 'connection' | 'addresses' | 'rttMs' | 'agentVersion' | 'capabilities' | 'outstanding'
> & { readonly reputation: Pick<PeerReputation, 'successRate' | 'circuit'> }

/** This node as the topology draws it. */
export interface SelfInfo extends SelfView {
  readonly agentVersion?: string
  readonly models: readonly string[]
  readonly concurrency: number
  readonly load: { readonly running: number; readonly queued: number }
}

/** Something that happened on the node. */
export type SourceEvent =
  /** A peer came, went, or announced new capabilities: the topology may have changed. */
  | { readonly type: 'peers' }
  | { readonly type: 'flow'; readonly flow: FlowEvent }
  | { readonly type: 'alert'; readonly alert: AlertEvent }

/** A filter of the tasks table. */
export interface TaskFilter {
  readonly status?: TaskState
  readonly type?: string
  /** A PeerId, or the start of one. */
  readonly peer?: string
  readonly side?: TaskRow['side']
  readonly limit: number
}

/** The node's tasks: listed, looked at, submitted, followed. */
export interface DashboardTasks {
  list(filter: TaskFilter): Promise<readonly TaskRow[]>
  /** `undefined` for an unknown id. */
  detail(id: string): Promise<TaskDetailJson | undefined>
  /** Submits a task; throws an error with a `code` (`ERR_UNSUPPORTED_TASK_TYPE`...) when refused. */
  submit(request: SubmitJson, options: { signal: AbortSignal }): Promise<TaskDetailJson>
  /** What the task streams, ending with `end`; `undefined` for an unknown id. */
  stream(id: string, signal: AbortSignal): AsyncIterable<TaskStreamJson> | undefined
  /**
   * The task's trace across every hop, when the node records traces; `undefined` when it has
   * none of this task. Absent when the node records no traces.
   */
  trace?(id: string, options: { signal: AbortSignal }): Promise<TraceJson | undefined>
}

/** Everything the dashboard reads of a node. */
export interface DashboardSource {
  self(): SelfInfo
  peers(): readonly PeerView[]
  alerts(): readonly AlertView[]
  /** Calls `listener` for each event until `signal` aborts. */
  subscribe(listener: (event: SourceEvent) => void, signal: AbortSignal): void
  readonly tasks: DashboardTasks
}
