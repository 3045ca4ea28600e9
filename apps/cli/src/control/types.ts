/**
 * JSON shapes of the control API (docs/control-api.md). Plain data; the client and the server
 * share them. What the node itself describes (task statuses, states, health, peers, metadata) is
 * the node's own type, imported as a type: nothing here loads at run time.
 */
import type {
  AlertState,
  HealthReport,
  JobRecord,
  JobSplit,
  JobStatus,
  LogLevel,
  NetworkTaskStatus,
  NodeCapabilities,
  NodeMetadata,
  NodeNetworkStatus,
  NodeState,
  PeerInfo,
  ResourceStatus,
} from '@p2p-ai/node'

/**
 * A task's status: the node's own (`NetworkTaskStatus`). `PENDING`: the node is choosing a peer
 * (or waiting to retry).
 */
export type TaskStatus = NetworkTaskStatus

export type { AlertState, LogLevel, NodeState }

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
  /** The trace it is recorded in, when the node traced it (`GET /v1/traces/:id`). */
  readonly traceId?: string
  /**
   * Times the node crashed (or was killed) while the task was unfinished and resumed it at its
   * next start; absent when never.
   */
  readonly resumed?: number
  /**
   * `false` when the node could not make this answer durable: its store of submitted tasks is
   * off (`engine.storeSubmittedTasks: false`) or failed to write, so a crash of the node may lose
   * the task (or its result). Absent otherwise: what the answer says survives a crash.
   */
  readonly durable?: false
}

/**
 * One event of `GET /v1/tasks/:id/stream` (server-sent events, the `event:` field naming the
 * type and `data:` holding the rest): the text a task streams (`delta`), a failover that starts it
 * again on another node (`restart`: drop the `discarded` characters shown since the last restart),
 * a `mismatch` of the streamed text with the signed result (`text` is the answer), and the task as
 * it ended (`end`, always last).
 */
export type TaskStreamEventJson =
  | { readonly type: 'delta'; readonly text: string }
  | {
      readonly type: 'restart'
      readonly reason: { readonly code: string; readonly message: string }
      readonly peer: string
      readonly discarded: number
    }
  | { readonly type: 'mismatch'; readonly streamed: string; readonly text: string }
  | { readonly type: 'end'; readonly task: TaskJson }

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

/** The node's last health round (`node.health()`). */
export type HealthJson = HealthReport

/** `GET /v1/status`: the node's metadata, with what the control API adds. */
export interface StatusJson
  extends Pick<
    NodeMetadata,
    | 'version'
    | 'agentVersion'
    | 'peerId'
    | 'state'
    | 'addresses'
    | 'startedAt'
    | 'uptimeMs'
    | 'connectedPeers'
  > {
  readonly pid: number
  readonly dataDir: string
  /** Version of the CLI running the node. */
  readonly cliVersion: string
  readonly ready: boolean
  readonly capabilities: NodeCapabilities
  /** Whether tasks can be sent to other peers (`--target`, `--redundancy`): always, with the task exchange every node has. */
  readonly routing: boolean
  readonly health: HealthJson | undefined
  /**
   * How the node sits in the network (`node.network()`): reachability, observed and announced
   * addresses, relay reservations, the DHT, hole punching.
   */
  readonly network: NodeNetworkStatus
  /** Every alert with its latest reading; `active` ones are raised (docs/observability.md). */
  readonly alerts: readonly AlertState[]
  /** The Prometheus endpoint, when metrics are on. */
  readonly metrics?: { readonly url: string }
  /** The dashboard, while it is served (`p2p-ai-agents dashboard` gives a login link). */
  readonly dashboard?: { readonly url: string }
  readonly tasks: TaskCounters
  /** Process figures of the node. */
  readonly process: { readonly rssBytes: number; readonly heapUsedBytes: number; readonly cpuUserMs: number }
  /** The machine (every `resources.intervalMs`) and the owner's limits: paused or not, and why. */
  readonly resources: ResourceStatus
}

/** One entry of `GET /v1/peers`: the node's peer table entry. */
export type PeerJson = PeerInfo

/** `POST /v1/tasks`. */
export interface SubmitRequest {
  readonly type: string
  readonly input: unknown
  /** PeerId to run the task on; `self` (or this node's PeerId) runs it here. */
  readonly target?: string
  /** Run on this many peers and compare results. @default 1 */
  readonly redundancy?: number
  /** Execution time limit in milliseconds, 1 to 3,600,000. @default the node's `engine.taskTimeoutMs` */
  readonly timeoutMs?: number
  /** 0 (lowest) to 9 (highest). @default 5 (`DEFAULT_PRIORITY` of `@p2p-ai/node/control`) */
  readonly priority?: number
  /** Idempotency key: a known id returns the existing task. */
  readonly id?: string
}

/**
 * `POST /v1/jobs`: many tasks of one type over the lines of a JSONL file (or the pieces of a text
 * file, with `split`). Paths are absolute and read (written) by the node. The fields are those of
 * the node's `JobSubmission` (docs/jobs.md).
 */
export interface JobSubmitRequest {
  readonly type: string
  /** The input file, absolute. */
  readonly input: string
  /** The output JSONL file, absolute. */
  readonly output?: string
  readonly split?: JobSplit
  /** Fields added to every item's input. */
  readonly params?: Readonly<Record<string, unknown>>
  readonly order?: 'input' | 'completed'
  readonly failFast?: boolean
  readonly overwrite?: boolean
  readonly id?: string
  readonly priority?: number
  readonly timeoutMs?: number
}

/** A job, as the node describes it (`JobRecord`): status, item counts, progress. */
export type JobJson = JobRecord

export type { JobStatus }

/** The answer of `POST /v1/jobs/:id/cancel`. */
export interface JobCancelJson {
  /** False when the job had already ended. */
  readonly cancelled: boolean
  readonly job: JobJson
}

/** `GET /v1/tasks`. */
export interface TaskListJson {
  readonly tasks: readonly TaskJson[]
  readonly limit: number
  readonly offset: number
}

/** `POST /v1/tasks/:id/cancel`. */
/** The answer of `POST /v1/peers/:id/unban`. */
export interface UnbanJson {
  readonly peerId: string
  /** False when the peer was not banned. */
  readonly unbanned: boolean
}

export interface CancelJson {
  /** False when the task had already finished. */
  readonly cancelled: boolean
  readonly task: TaskJson
}

/** One model, as `GET /v1/models` lists it. */
export interface ModelJson {
  readonly name: string
  /** The plug-in format: `onnx` or `gguf` (absent for models of other backends). */
  readonly format?: string
  readonly taskTypes: readonly string[]
  /**
   * `builtin`, `added` (models add), `pulled` (models pull), `file` (a `.gguf` file copied into the
   * models directory), or `served` (what a running node serves, in `GET /v1/models`).
   */
  readonly source: 'builtin' | 'added' | 'pulled' | 'file' | 'served'
  readonly path?: string
  readonly description?: string
  /** sha256 of the model file, once the node has hashed it. */
  readonly sha256?: string
  readonly sizeBytes?: number
  /** Whether the node has it in memory now. */
  readonly loaded?: boolean
}

/** `POST /v1/models`: a model on the node's machine to serve (what `models add` sends). */
export interface AddModelRequest {
  /** Registry name, `[a-z0-9][a-z0-9._-]*`. */
  readonly name: string
  /** Absolute path: a `.gguf` file, an `.onnx` file, or an ONNX model directory. */
  readonly path: string
  /** The model file inside a directory, relative. @default the best export layout present */
  readonly file?: string
  /** Task types an ONNX model serves. @default inferred from its files */
  readonly taskTypes?: readonly string[]
}

/** A model registered by `models add` (the answer of `POST /v1/models`). */
export interface AddedModelJson {
  readonly name: string
  readonly format: 'onnx' | 'gguf'
  /** What the registry entry points at: the file, or the ONNX model directory. */
  readonly path: string
  /** The model file that is loaded, absolute. */
  readonly file: string
  /** Other model files of its directory, not used (`--file` chooses another). */
  readonly otherFiles: readonly string[]
  readonly sha256: string
  readonly sizeBytes: number
  readonly taskTypes: readonly string[]
  /** A model of this name was registered before, and is replaced. */
  readonly replaced: boolean
  /** A running node serves it now (false when it was added while no node ran). */
  readonly served: boolean
}

/** `POST /v1/models/pull`: a model to fetch from the node's peers (`models pull --from-swarm`). */
export interface SwarmPullRequest {
  /** The model's name, as its peers announce it. */
  readonly name: string
  /** Only the model whose file has this sha256. @default the one most peers announce */
  readonly sha256?: string
}

/**
 * One line of the answer of `POST /v1/models/pull` (`application/x-ndjson`): `progress` as blocks
 * arrive, then one `model` (the pull is done and the node serves it) or one `error`.
 */
export type SwarmPullLineJson =
  | { readonly progress: SwarmPullProgressJson }
  | { readonly model: SwarmPulledModelJson }
  /** `status`: the HTTP status the error would have answered with, had it come first. */
  | { readonly error: { readonly code: string; readonly message: string; readonly status: number } }

/** Bytes of one of the model's files received so far. */
export interface SwarmPullProgressJson {
  /** Relative to the model's directory. */
  readonly file: string
  readonly receivedBytes: number
  readonly totalBytes: number
}

/** A model pulled from the swarm. */
export interface SwarmPulledModelJson {
  readonly name: string
  /** The CID of its files, as its peers announce it. */
  readonly cid: string
  readonly dir: string
  /** The model file, relative to `dir`. */
  readonly model: string
  readonly files: Readonly<Record<string, { readonly sha256: string; readonly sizeBytes: number }>>
  /** The node serves it now. */
  readonly served: boolean
}

/**
 * One line of `GET /v1/events`: something the node saw happen. `at` is the node's `Date.now()`.
 * Task events are those of the node's engine: its own tasks that run here, and tasks peers sent it
 * (`meta.requester` and `meta.taskId` name the peer and its id for the task).
 */
export type NodeEventJson =
  | { readonly event: 'peer:connect'; readonly at: number; readonly peerId: string }
  | { readonly event: 'peer:failed'; readonly at: number; readonly peerId: string; readonly reason: string }
  | { readonly event: 'peer:remove'; readonly at: number; readonly peerId: string; readonly reason: string }
  | {
      /** An alert was raised or cleared (docs/observability.md). */
      readonly event: 'alert:raised' | 'alert:cleared'
      readonly at: number
      readonly alert: string
      readonly message: string
      readonly value?: number
      readonly threshold: number
    }
  | {
      readonly event: 'task:started' | 'task:finished'
      readonly at: number
      readonly id: string
      readonly type: string
      readonly status: TaskStatus
      readonly meta?: Readonly<Record<string, string>>
    }

/** `POST /v1/dashboard`: where the node serves its dashboard, started now if it was not. */
export interface DashboardJson {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  /** The same with a one-time login token: the first request with it signs the browser in. */
  readonly loginUrl: string
  /** Whether this request started it. */
  readonly started: boolean
}

/** `POST /v1/dashboard`'s body. */
export interface DashboardRequest {
  /** Where to serve it if it is not served yet. @default the node's `dashboard.port` (8080) */
  readonly port?: number
}

/** `GET /v1/log-level`, and the answer of `PUT /v1/log-level`. */
export interface LogLevelJson {
  readonly level: LogLevel
  /** Only in the answer of `PUT`: the level before. */
  readonly previous?: LogLevel
}
