import type {
  DumpJson,
  NetworkTestJson,
  SnapshotJson,
  StressReportJson,
  StressRequest,
  TraceJson,
} from './debug-types.js'
import type {
  AddedModelJson,
  AddModelRequest,
  CancelJson,
  DashboardJson,
  DashboardRequest,
  JobCancelJson,
  JobJson,
  JobStatus,
  JobSubmitRequest,
  LogLevel,
  ModelJson,
  NodeEventJson,
  PeerJson,
  StatusJson,
  SubmitRequest,
  SwarmPulledModelJson,
  SwarmPullProgressJson,
  SwarmPullRequest,
  TaskJson,
  TaskStatus,
  TaskStreamEventJson,
  UnbanJson,
} from './types.js'

/** Query of a task listing. */
export interface TaskQuery {
  readonly limit: number
  readonly offset: number
  readonly status?: TaskStatus
  readonly type?: string
}

/** The node's jobs (`node.jobs`), seen through plain JSON. Errors carry the node's codes. */
export interface JobsTarget {
  submit(request: JobSubmitRequest): JobJson
  /** `undefined` for an unknown id. */
  get(id: string): JobJson | undefined
  list(query: { readonly status?: JobStatus; readonly limit: number }): readonly JobJson[]
  /** Throws `ERR_JOB_NOT_FOUND` for an unknown id. */
  cancel(id: string): JobCancelJson
  /** Throws `ERR_JOB_NOT_FOUND`, `ERR_JOB_NOT_RESUMABLE`, `ERR_JOB_INPUT_CHANGED`. */
  resume(id: string): JobJson
}

/**
 * What the control API serves: a running node, seen through plain JSON. The CLI adapts a
 * `P2PNode` to it (daemon/node-target.ts); tests can give a fake. Methods throw errors with a
 * `code` (`ERR_TASK_NOT_FOUND`...), which the server turns into `{ error: { code, message } }`.
 */
export interface ControlTarget {
  status(): StatusJson | Promise<StatusJson>
  peers(): readonly PeerJson[]
  connect(address: string, options: { signal: AbortSignal }): Promise<void>
  /** Lets a banned peer in again at once (`node unban`). */
  unban(peerId: string): UnbanJson
  /** Resolves once the task's acceptance is durable (or with `durable: false`). */
  submit(request: SubmitRequest, options: { signal: AbortSignal }): Promise<TaskJson>
  /**
   * `undefined` for an unknown id. A task reported final is durable (it survives a crash of the
   * node), or says `durable: false`.
   */
  task(id: string): TaskJson | undefined | Promise<TaskJson | undefined>
  /** Resolves with the task once final, or as it is after `timeoutMs`; `undefined` if unknown. */
  wait(id: string, timeoutMs: number, signal: AbortSignal): Promise<TaskJson | undefined>
  list(query: TaskQuery): readonly TaskJson[] | Promise<readonly TaskJson[]>
  /**
   * What the task streams (its generated text), from the start, ending with its final record;
   * `undefined` for an unknown id. Stops early when `signal` aborts.
   */
  stream(id: string, signal: AbortSignal): AsyncIterable<TaskStreamEventJson> | undefined
  /** Throws `ERR_TASK_NOT_FOUND` for an unknown id. */
  cancel(id: string): CancelJson | Promise<CancelJson>
  models(): Promise<readonly ModelJson[]>
  /** Registers a model of the node's machine and serves it at once (`models add`). */
  addModel(request: AddModelRequest, options: { signal: AbortSignal }): Promise<AddedModelJson>
  /**
   * Fetches a model from the node's peers by the CID they announce (`models pull --from-swarm`),
   * registers and serves it. Throws `ERR_CONTENT_DISABLED` when the node has no content plug-in.
   */
  pullFromSwarm(
    request: SwarmPullRequest,
    options: { signal: AbortSignal; onProgress: (progress: SwarmPullProgressJson) => void },
  ): Promise<SwarmPulledModelJson>
  /** Registers the models pulled into the data directory since the node started (`models pull`). */
  scanModels(options: { signal: AbortSignal }): Promise<void>
  /** The Prometheus exposition; throws `ERR_METRICS_OFF` when the node collects no metrics. */
  metrics(): Promise<string>
  /** The log level in force. */
  logLevel(): LogLevel
  /** Sets the log level at run time (until the next restart or config reload); throws `ERR_CONFIG_INVALID` for an unknown one. */
  setLogLevel(level: LogLevel): { readonly level: LogLevel; readonly previous: LogLevel }
  /** Calls `listener` for each event of the node until `signal` aborts. */
  events(listener: (event: NodeEventJson) => void, signal: AbortSignal): void
  readonly jobs: JobsTarget
  /**
   * The dashboard's address and a new one-time login link; starts the dashboard first if the node
   * does not serve it yet.
   */
  dashboard(request: DashboardRequest): Promise<DashboardJson>
  /** Starts a graceful shutdown; returns at once. */
  shutdown(): void
  /**
   * Every node's spans of a task (or a trace, by its id), the peers asked first unless `remote` is
   * false; `undefined` when the node recorded nothing of it. Throws `ERR_TRACING_DISABLED` when
   * the node does not trace.
   */
  trace(id: string, options: { remote: boolean; signal: AbortSignal }): Promise<TraceJson | undefined>
  /** Everything about the node in one object, secrets redacted. */
  snapshot(options: { logLines: number }): Promise<SnapshotJson>
  /** Reachability, and each connected peer's round trips, throughput and versions. */
  networkTest(options: { probeBytes: number; peer?: string; signal: AbortSignal }): Promise<NetworkTestJson>
  /** A controlled load: tasks at a rate for a time; resolves with the report. */
  stress(request: StressRequest, signal: AbortSignal): Promise<StressReportJson>
  /** A CPU profile of the node; `ERR_DEBUG_BUSY` while another is taken. */
  profile(request: { path?: string; durationMs: number }, signal: AbortSignal): Promise<DumpJson>
  /** A V8 heap snapshot of the node; `ERR_DEBUG_BUSY` while another is taken. */
  heapDump(request: { path?: string }): Promise<DumpJson>
}
