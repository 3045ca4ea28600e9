/**
 * What the exchange tells observers (metrics, alerts, a dashboard): each task submitted here as it
 * ends, each attempt as it starts, each retry and failover, each request this node refused. Dispatched only while someone
 * listens, so a node nobody observes builds no event objects on its task path.
 */
import type { TaskErrorCode } from '@p2p-ai/protocol'
import type { NetworkTaskRecord } from './types.js'

/** A task submitted on this node reached its final status. */
export interface TaskDone {
  readonly record: NetworkTaskRecord
  /**
   * For a result that came from a peer: the round trip of the attempt that produced it minus the
   * provider's own `timings.totalMs`, in milliseconds: the time spent on the network.
   */
  readonly networkMs?: number
}

/**
 * An attempt of a task submitted here starts: the request goes to `peer` (this node's own PeerId
 * for a local run). For a forwarded task, `peer` is the neighbour it is sent to.
 */
export interface TaskAttempt {
  readonly taskId: string
  readonly type: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly peer: string
}

/** An attempt of a task submitted here failed and the task tries again. */
export interface TaskRetry {
  readonly taskId: string
  readonly type: string
  /** The number of the new attempt (2 for the first retry). */
  readonly attempt: number
  /** Why the previous attempt failed. */
  readonly code: TaskErrorCode
  /** The peer of the failed attempt (this node's own PeerId for a local run). */
  readonly from: string
  /** The peer of the new attempt. */
  readonly to: string
  /** The new attempt goes to another peer than the failed one. */
  readonly failover: boolean
}

/** This node refused a peer's task request: a `task.reject` (or a message too broken to answer). */
export interface TaskRefusal {
  /** The refused task's id, when it could be read. */
  readonly taskId?: string
  /** The peer on the stream. */
  readonly remotePeer: string
  /** Why: a code of the closed set (`ERR_BUSY`, `ERR_ACCESS_DENIED`, `ERR_BAD_SIGNATURE`...). */
  readonly code: TaskErrorCode
}

/** The exchange's events; each `detail` is a snapshot. */
export interface TaskExchangeEvents {
  'task:done': CustomEvent<TaskDone>
  'task:attempt': CustomEvent<TaskAttempt>
  'task:retry': CustomEvent<TaskRetry>
  'task:refused': CustomEvent<TaskRefusal>
}

/** Where the parts of the exchange report what observers may want; the exchange dispatches it. */
export interface ExchangeReports {
  attempt(attempt: TaskAttempt): void
  retry(retry: TaskRetry): void
  refused(refusal: TaskRefusal): void
}
