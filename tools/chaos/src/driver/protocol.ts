/**
 * What the harness and a driver say to each other: one JSON object per line, commands on the
 * driver's stdin, events on its stdout. A driver runs next to one node (on the same host, where
 * the node's control API on 127.0.0.1 can be reached) and drives that API as a user would.
 */

/** Commands; each carries `req`, and is answered by a `reply` with the same `req`. */
export type DriverCommand =
  | {
      readonly cmd: 'workload'
      readonly req: number
      /** Clients looping submit + wait. */
      readonly clients: number
      readonly seed: number
      /** The mock task's `latencyMs`: [min, max]. */
      readonly latencyMs: readonly [number, number]
    }
  /** Stop submitting new tasks; clients still wait for the ones they have. */
  | { readonly cmd: 'pause'; readonly req: number }
  /** Stop waiting, too (the settle time is over). */
  | { readonly cmd: 'halt'; readonly req: number }
  /** Submits `count` tasks of `latencyMs` to the node's own queue (`target: self`), at once. */
  | { readonly cmd: 'fill'; readonly req: number; readonly count: number; readonly latencyMs: number }
  /** Reads each task as the API has it now, and compares with what was seen before. */
  | { readonly cmd: 'audit'; readonly req: number; readonly ids: readonly string[] }
  /** Tasks of this node running on `peer` now. */
  | { readonly cmd: 'running'; readonly req: number; readonly peer: string }
  /** The node's status: memory, peers that run `mock`. */
  | { readonly cmd: 'status'; readonly req: number }
  /** `node stop`: asks the node to shut down gracefully. */
  | { readonly cmd: 'shutdown'; readonly req: number }

/** A task as a driver saw it final. */
export interface FinalSeen {
  readonly id: string
  readonly status: string
  /** The error code of a task that did not complete. */
  readonly code?: string
  /** COMPLETED with exactly the output its input asks for. */
  readonly verified: boolean
  /** sha256 of the output's JSON, to compare with a later read. */
  readonly output?: string
  /** The node's `finishedAt`. */
  readonly finishedAt?: number
  readonly attempts?: number
  readonly resumed?: number
  /** Where it ran, when not on this node. */
  readonly peer?: string
  /** The answer said `durable: false`. */
  readonly notDurable?: true
}

/** What an audit found for one id. */
export interface AuditEntry {
  readonly id: string
  /** Absent when the node does not know the id (404) or could not be asked. */
  readonly status?: string
  readonly code?: string
  readonly verified?: boolean
  readonly output?: string
  readonly notFound?: true
  /** The node could not be asked (it stayed unreachable). */
  readonly unreachable?: true
}

export type DriverEvent =
  | { readonly ev: 'ready'; readonly at: number }
  | { readonly ev: 'reply'; readonly req: number; readonly at: number; readonly [key: string]: unknown }
  /** The API acknowledged a task: answered its id. */
  | { readonly ev: 'ack'; readonly id: string; readonly at: number; readonly fill: boolean }
  | ({ readonly ev: 'final'; readonly at: number } & FinalSeen)
  /** An acknowledged id the API no longer knows. */
  | { readonly ev: 'missing'; readonly id: string; readonly at: number }
  /** The API refused a request in a way a correct client should never see (a bug, or a code without a contract). */
  | {
      readonly ev: 'refused'
      readonly at: number
      readonly what: string
      readonly status: number
      readonly code: string
      readonly message: string
    }
