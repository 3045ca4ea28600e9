/**
 * JSON shapes of the control API (docs/control-api.md). Plain data; the client and the server
 * share them, and nothing here loads at run time.
 */

/** `PENDING`: the node is choosing a peer for it (or waiting to retry). */
export type TaskStatus = 'PENDING' | 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TIMEOUT' | 'CANCELLED'

export type NodeState = 'INITIALIZING' | 'REGISTERING' | 'ACTIVE' | 'SHUTTING_DOWN' | 'STOPPED'

/** `{ error: { code, message } }`: the body of every non-2xx answer. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string }
}

/** One task, as the node knows it. */
export interface TaskJson {
  readonly id: string
  readonly type: string
  readonly status: TaskStatus
  readonly priority: number
  /** Backend that ran it here, or `remote` for a task another peer ran. */
  readonly backend: string
  readonly queuedAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
  readonly progress?: { readonly fraction: number; readonly message?: string }
  /** Only when COMPLETED. */
  readonly output?: unknown
  /** Only when FAILED, TIMEOUT or CANCELLED. */
  readonly error?: { readonly code: string; readonly message: string }
  /** Labels; `peer` is the PeerId that ran (or runs) the task. */
  readonly meta?: Readonly<Record<string, string>>
  /** Attempts made so far, when the task went through the network (failover retries count). */
  readonly attempts?: number
}

/** Counters since the node started (for `node monitor`'s throughput). */
export interface TaskCounters {
  readonly submitted: number
  readonly completed: number
  readonly failed: number
  readonly timedOut: number
  readonly cancelled: number
  readonly running: number
  readonly queued: number
}

export interface HealthJson {
  readonly status: 'healthy' | 'degraded' | 'unhealthy'
  readonly checkedAt: number
  readonly components: ReadonlyArray<{
    readonly name: string
    readonly status: 'healthy' | 'degraded' | 'unhealthy'
    readonly detail?: string
    readonly local: boolean
    readonly durationMs: number
  }>
}

/** `GET /v1/status`. */
export interface StatusJson {
  readonly pid: number
  readonly dataDir: string
  /** Version of the CLI running the node. */
  readonly cliVersion: string
  /** Version of `@p2p-ai/node`. */
  readonly version: string
  readonly agentVersion: string
  readonly peerId: string
  readonly state: NodeState
  readonly ready: boolean
  readonly addresses: readonly string[]
  readonly startedAt: number | undefined
  readonly uptimeMs: number
  readonly connectedPeers: number
  readonly capabilities: {
    readonly taskTypes: readonly string[]
    readonly models: readonly string[]
    readonly concurrency: number
  }
  /** Whether tasks can be sent to other peers (`--target`, `--redundancy`). */
  readonly routing: boolean
  readonly health: HealthJson | undefined
  readonly tasks: TaskCounters
  /** Process figures of the node. */
  readonly process: { readonly rssBytes: number; readonly heapUsedBytes: number; readonly cpuUserMs: number }
}

/** One entry of `GET /v1/peers`. */
export interface PeerJson {
  readonly peerId: string
  readonly status: 'connected' | 'failed'
  readonly addresses: readonly string[]
  readonly rttMs?: number
  readonly lastSeen: number
  readonly agentVersion?: string
  readonly protocols: readonly string[]
  readonly capabilities?: unknown
  readonly connectedAt: number
  readonly failedAt?: number
  readonly failureReason?: string
  readonly reconnectAttempts: number
  readonly nextReconnectAt?: number
}

/** `POST /v1/tasks`. */
export interface SubmitRequest {
  readonly type: string
  readonly input: unknown
  /** PeerId to run the task on; `self` (or this node's PeerId) runs it here. */
  readonly target?: string
  /** Run on this many peers and compare results. @default 1 */
  readonly redundancy?: number
  /** Execution time limit in milliseconds. @default the node's `engine.taskTimeoutMs` */
  readonly timeoutMs?: number
  /** Higher runs first. @default 0 */
  readonly priority?: number
  /** Idempotency key: a known id returns the existing task. */
  readonly id?: string
}

/** `GET /v1/tasks`. */
export interface TaskListJson {
  readonly tasks: readonly TaskJson[]
  readonly limit: number
  readonly offset: number
}

/** `POST /v1/tasks/:id/cancel`. */
export interface CancelJson {
  /** False when the task had already finished. */
  readonly cancelled: boolean
  readonly task: TaskJson
}

/** One model, as `GET /v1/models` lists it. */
export interface ModelJson {
  readonly name: string
  readonly taskTypes: readonly string[]
  /** `builtin`, `added` (models add) or `pulled` (models pull). */
  readonly source: 'builtin' | 'added' | 'pulled' | 'served'
  readonly path?: string
  readonly description?: string
  /** sha256 of the model file, once the node has hashed it. */
  readonly sha256?: string
  readonly sizeBytes?: number
  /** Whether the node has it in memory now. */
  readonly loaded?: boolean
}
