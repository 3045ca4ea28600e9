import { request as httpRequest, type IncomingMessage } from 'node:http'
import { API_PREFIX, BIN_NAME, MAX_REQUEST_BYTES, MAX_WAIT_MS, REQUEST_TIMEOUT_MS } from '../constants.js'
import { describeSupervisor, readSupervisorState } from '../daemon/supervisor-state.js'
import { STRESS_DRAIN_MS } from '../debug/constants.js'
import { ControlApiError, ControlConnectionError, NodeNotRunningError } from '../errors.js'
import {
  type ControlInfo,
  isNodeProcess,
  readControlInfo,
  readPid,
  readToken,
  removeStaleFiles,
} from '../runtime.js'
import { bytes } from '../term/format.js'
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
  LogLevelJson,
  ModelJson,
  NodeEventJson,
  PeerJson,
  StatusJson,
  SubmitRequest,
  SwarmPulledModelJson,
  SwarmPullLineJson,
  SwarmPullProgressJson,
  SwarmPullRequest,
  TaskJson,
  TaskListJson,
  TaskStatus,
  TaskStreamEventJson,
  UnbanJson,
} from './types.js'

/** Per-call options of the control client. */
export interface RequestOptions {
  /** @default 10 s (long-polls add their wait) */
  timeoutMs?: number
  signal?: AbortSignal
}

export interface ControlClientInit {
  /** Base URL of the control API, `http://127.0.0.1:<port>`. */
  url: string
  /** Bearer token (the data directory's `control.token`). */
  token: string
  /** The node's pid, when known: lets a refused connection be told apart from a dead node. */
  pid?: number
  /** For messages: the node's data directory. */
  dataDir?: string
}

/** Query of `GET /v1/tasks`. */
export interface ListQuery {
  limit?: number
  offset?: number
  status?: TaskStatus
  type?: string
}

/**
 * A client of a node's control API: what every `p2p-ai-agents` command except `node start` uses.
 * It loads nothing of the network stack.
 *
 * ```ts
 * import { connectToNode } from '@p2p-ai/cli'
 *
 * const client = await connectToNode('/home/me/.local/share/p2p-ai')
 * const task = await client.submit({ type: 'chunk', input: { text: 'One. Two.', size: 5 } })
 * console.log(await client.wait(task.id))
 * ```
 */
export class ControlClient {
  readonly url: string
  readonly #token: string
  readonly #pid: number | undefined
  readonly #dataDir: string | undefined

  constructor(init: ControlClientInit) {
    const url = new URL(init.url)
    if (url.protocol !== 'http:') throw new TypeError(`control API URL must be http:, got ${init.url}`)
    this.url = init.url.replace(/\/$/, '')
    this.#token = init.token
    this.#pid = init.pid
    this.#dataDir = init.dataDir
  }

  status(options?: RequestOptions): Promise<StatusJson> {
    return this.request('GET', '/status', undefined, options)
  }

  async peers(options?: RequestOptions): Promise<PeerJson[]> {
    return (await this.request<{ peers: PeerJson[] }>('GET', '/peers', undefined, options)).peers
  }

  /** Dials a peer by multiaddr (ending in `/p2p/<peerId>`). */
  async connect(address: string, options?: RequestOptions): Promise<void> {
    await this.request('POST', '/peers', { address }, options)
  }

  /** Lets a banned peer in again at once. */
  async unban(peerId: string, options?: RequestOptions): Promise<UnbanJson> {
    return this.request('POST', `/peers/${encodeURIComponent(peerId)}/unban`, undefined, options)
  }

  async submit(task: SubmitRequest, options?: RequestOptions): Promise<TaskJson> {
    return (await this.request<{ task: TaskJson }>('POST', '/tasks', task, options)).task
  }

  async task(id: string, options?: RequestOptions): Promise<TaskJson> {
    return (
      await this.request<{ task: TaskJson }>('GET', `/tasks/${encodeURIComponent(id)}`, undefined, options)
    ).task
  }

  /**
   * Waits until the task is final and returns it; a wait longer than one request may last is
   * made of several requests. `timeoutMs` bounds the whole wait (then the task is returned as it is).
   */
  async wait(
    id: string,
    options: RequestOptions & { onUpdate?: (task: TaskJson) => void } = {},
  ): Promise<TaskJson> {
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs
    for (;;) {
      const left = Math.min(MAX_WAIT_MS, deadline - Date.now())
      const path = `/tasks/${encodeURIComponent(id)}/wait?timeoutMs=${Math.max(0, Math.floor(left))}`
      const { task } = await this.request<{ task: TaskJson }>('GET', path, undefined, {
        timeoutMs: Math.max(0, left) + REQUEST_TIMEOUT_MS,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
      options.onUpdate?.(task)
      if (isFinal(task.status) || Date.now() >= deadline) return task
    }
  }

  list(query: ListQuery = {}, options?: RequestOptions): Promise<TaskListJson> {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v))
    const qs = params.size === 0 ? '' : `?${params}`
    return this.request('GET', `/tasks${qs}`, undefined, options)
  }

  cancel(id: string, options?: RequestOptions): Promise<CancelJson> {
    return this.request('POST', `/tasks/${encodeURIComponent(id)}/cancel`, {}, options)
  }

  async submitJob(job: JobSubmitRequest, options?: RequestOptions): Promise<JobJson> {
    return (await this.request<{ job: JobJson }>('POST', '/jobs', job, options)).job
  }

  async job(id: string, options?: RequestOptions): Promise<JobJson> {
    return (
      await this.request<{ job: JobJson }>('GET', `/jobs/${encodeURIComponent(id)}`, undefined, options)
    ).job
  }

  async jobs(
    query: { status?: JobStatus; limit?: number } = {},
    options?: RequestOptions,
  ): Promise<JobJson[]> {
    const params = new URLSearchParams()
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v))
    const qs = params.size === 0 ? '' : `?${params}`
    return (await this.request<{ jobs: JobJson[] }>('GET', `/jobs${qs}`, undefined, options)).jobs
  }

  cancelJob(id: string, options?: RequestOptions): Promise<JobCancelJson> {
    return this.request('POST', `/jobs/${encodeURIComponent(id)}/cancel`, {}, options)
  }

  async resumeJob(id: string, options?: RequestOptions): Promise<JobJson> {
    return (
      await this.request<{ job: JobJson }>('POST', `/jobs/${encodeURIComponent(id)}/resume`, {}, options)
    ).job
  }

  async models(options?: RequestOptions): Promise<ModelJson[]> {
    return (await this.request<{ models: ModelJson[] }>('GET', '/models', undefined, options)).models
  }

  /** Registers a model of the node's machine; the node serves it at once. */
  async addModel(request: AddModelRequest, options?: RequestOptions): Promise<AddedModelJson> {
    return (await this.request<{ model: AddedModelJson }>('POST', '/models', request, options)).model
  }

  /** Has the node register the models pulled into its data directory; resolves with what it serves. */
  async scanModels(options?: RequestOptions): Promise<ModelJson[]> {
    return (await this.request<{ models: ModelJson[] }>('POST', '/models/scan', {}, options)).models
  }

  /**
   * Has the node fetch a model from its peers (`models pull --from-swarm`): `onProgress` as blocks
   * arrive; resolves with the model once the node serves it.
   */
  async pullFromSwarm(
    request: SwarmPullRequest,
    options: { signal?: AbortSignal; onProgress?: (progress: SwarmPullProgressJson) => void } = {},
  ): Promise<SwarmPulledModelJson> {
    const res = await this.#open('/models/pull', 'application/x-ndjson', options.signal, request)
    let rest = ''
    try {
      for await (const chunk of res) {
        const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n')
        rest = lines.pop() ?? ''
        for (const text of lines) {
          if (text === '') continue
          const line = JSON.parse(text) as SwarmPullLineJson
          if ('progress' in line) options.onProgress?.(line.progress)
          else if ('model' in line) return line.model
          else throw new ControlApiError(line.error.status, line.error.code, line.error.message)
        }
      }
    } catch (err) {
      if (options.signal?.aborted === true || !isConnectionEnd(err)) throw err
    }
    throw new ControlConnectionError(`the node closed the pull of ${request.name} before it ended`)
  }

  /**
   * The node's events as they happen (peers connecting and failing, tasks starting and
   * finishing), until `signal` aborts or the node stops (then the iteration ends).
   */
  async *events(options: { signal?: AbortSignal } = {}): AsyncGenerator<NodeEventJson> {
    const res = await this.#open('/events', 'application/x-ndjson', options.signal)
    let rest = ''
    try {
      for await (const chunk of res) {
        const lines = (rest + (chunk as Buffer).toString('utf8')).split('\n')
        rest = lines.pop() ?? ''
        for (const line of lines) if (line !== '') yield JSON.parse(line) as NodeEventJson
      }
    } catch (err) {
      // The node went away, or the caller stopped listening: the stream just ends.
      if (options.signal?.aborted !== true && !isConnectionEnd(err)) throw err
    }
  }

  /**
   * Every node's spans of a task (or of a trace, by its 32-digit id); with `remote: false` only
   * what this node keeps, without asking its peers.
   */
  async trace(id: string, options: RequestOptions & { remote?: boolean } = {}): Promise<TraceJson> {
    const { remote, ...rest } = options
    const query = remote === false ? '?remote=false' : ''
    return (
      await this.request<{ trace: TraceJson }>(
        'GET',
        `/traces/${encodeURIComponent(id)}${query}`,
        undefined,
        rest,
      )
    ).trace
  }

  /** Everything about the node in one object, secrets redacted; `logs` recent log lines. */
  async snapshot(query: { logs?: number } = {}, options?: RequestOptions): Promise<SnapshotJson> {
    const qs = query.logs === undefined ? '' : `?logs=${query.logs}`
    return (await this.request<{ snapshot: SnapshotJson }>('GET', `/debug/snapshot${qs}`, undefined, options))
      .snapshot
  }

  /** Reachability, and each connected peer's round trips, throughput and protocol versions. */
  async networkTest(
    query: { probeBytes?: number; peer?: string } = {},
    options?: RequestOptions,
  ): Promise<NetworkTestJson> {
    const params = new URLSearchParams()
    if (query.probeBytes !== undefined) params.set('probeBytes', String(query.probeBytes))
    if (query.peer !== undefined) params.set('peer', query.peer)
    const qs = params.size === 0 ? '' : `?${params}`
    return (
      await this.request<{ network: NetworkTestJson }>('GET', `/debug/network${qs}`, undefined, {
        timeoutMs: 120_000,
        ...options,
      })
    ).network
  }

  /** Runs a controlled load on the node and resolves with its report once it is over. */
  async stress(request: StressRequest, options: RequestOptions = {}): Promise<StressReportJson> {
    return (
      await this.request<{ report: StressReportJson }>('POST', '/debug/stress', request, {
        timeoutMs: request.durationMs + STRESS_DRAIN_MS + REQUEST_TIMEOUT_MS,
        ...options,
      })
    ).report
  }

  /** A CPU profile of the node, written where the answer says. */
  async profile(
    request: { durationMs: number; path?: string },
    options: RequestOptions = {},
  ): Promise<DumpJson> {
    return (
      await this.request<{ profile: DumpJson }>('POST', '/debug/profile', request, {
        timeoutMs: request.durationMs + REQUEST_TIMEOUT_MS,
        ...options,
      })
    ).profile
  }

  /** A V8 heap snapshot of the node (it pauses meanwhile), written where the answer says. */
  async heapDump(request: { path?: string } = {}, options: RequestOptions = {}): Promise<DumpJson> {
    return (
      await this.request<{ heapDump: DumpJson }>('POST', '/debug/heap-dump', request, {
        timeoutMs: 300_000,
        ...options,
      })
    ).heapDump
  }

  /** The node's Prometheus exposition (text format 0.0.4); `ERR_METRICS_OFF` when it collects none. */
  metrics(options?: RequestOptions): Promise<string> {
    return this.#request('GET', '/metrics', undefined, options, 'text')
  }

  /** The dashboard's address and a one-time login link (the node starts the dashboard if needed). */
  dashboard(request: DashboardRequest = {}, options?: RequestOptions): Promise<DashboardJson> {
    return this.request('POST', '/dashboard', request, options)
  }

  /** The log level in force. */
  logLevel(options?: RequestOptions): Promise<LogLevelJson> {
    return this.request('GET', '/log-level', undefined, options)
  }

  /** Sets the log level at run time (until a restart or a config reload). */
  setLogLevel(level: LogLevel, options?: RequestOptions): Promise<LogLevelJson> {
    return this.request('PUT', '/log-level', { level }, options)
  }

  /**
   * What a task streams (`GET /v1/tasks/:id/stream`): its generated text as it comes (`delta`),
   * `restart` when it fails over to another node, a `mismatch` with the signed result, and last
   * the task as it ended (`end`). From the start of the task, whenever it is called.
   */
  async *stream(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<TaskStreamEventJson> {
    const res = await this.#open(
      `/tasks/${encodeURIComponent(id)}/stream`,
      'text/event-stream',
      options.signal,
    )
    let rest = ''
    try {
      for await (const chunk of res) {
        const blocks = (rest + (chunk as Buffer).toString('utf8')).split('\n\n')
        rest = blocks.pop() ?? ''
        for (const block of blocks) {
          const event = parseEvent(block)
          if (event !== undefined) yield event
        }
      }
    } catch (err) {
      if (options.signal?.aborted === true || !isConnectionEnd(err)) throw err
      throw new ControlConnectionError(`the node closed the stream of task ${id} before it ended`)
    }
  }

  /**
   * A long-lived request (events, a task's stream: a GET; a pull from the swarm: a POST of `body`);
   * an error answer rejects with its code.
   */
  async #open(
    path: string,
    accept: string,
    signal: AbortSignal | undefined,
    body?: unknown,
  ): Promise<IncomingMessage> {
    const url = new URL(`${this.url}${API_PREFIX}${path}`)
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(url, {
        method: payload === undefined ? 'GET' : 'POST',
        headers: {
          authorization: `Bearer ${this.#token}`,
          accept,
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': payload.length }),
        },
        ...(signal === undefined ? {} : { signal }),
      })
      req.on('response', resolve)
      req.on('error', (err) => reject(this.#connectionError(err)))
      req.end(payload)
    })
    if (res.statusCode === 200) return res
    const chunks: Buffer[] = []
    for await (const chunk of res) chunks.push(chunk as Buffer)
    let error: { code?: unknown; message?: unknown } | undefined
    try {
      error = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: typeof error }).error
    } catch {
      // Not JSON: the status says it.
    }
    throw new ControlApiError(
      res.statusCode ?? 0,
      typeof error?.code === 'string' ? error.code : `HTTP_${res.statusCode}`,
      typeof error?.message === 'string'
        ? error.message
        : `GET ${API_PREFIX}${path} answered ${res.statusCode}`,
    )
  }

  /** Asks the node to shut down gracefully; it answers at once and exits shortly after. */
  async shutdown(options?: RequestOptions): Promise<void> {
    await this.request('POST', '/shutdown', {}, options)
  }

  /** One request; rejects with `ControlApiError` for an error answer. */
  request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.#request(method, path, body, options, 'json')
  }

  /** One request whose answer is JSON, or text (errors are JSON either way). */
  #request<T>(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions = {},
    answer: 'json' | 'text',
  ): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const url = new URL(`${this.url}${API_PREFIX}${path}`)
    if (payload !== undefined && payload.length > MAX_REQUEST_BYTES) {
      // The node would refuse it: say so without sending it.
      return Promise.reject(
        new ControlApiError(
          413,
          'ERR_PAYLOAD_TOO_LARGE',
          `the request is ${bytes(payload.length)}; the control API takes at most ${bytes(MAX_REQUEST_BYTES)}`,
        ),
      )
    }
    return new Promise<T>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method,
          headers: {
            authorization: `Bearer ${this.#token}`,
            accept: answer === 'json' ? 'application/json' : 'text/plain',
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': payload.length }),
          },
          timeout: options.timeoutMs ?? REQUEST_TIMEOUT_MS,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('error', (err) => reject(this.#connectionError(err)))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300
            if (ok && answer === 'text') {
              resolve(text as T)
              return
            }
            let json: unknown
            try {
              json = text === '' ? {} : JSON.parse(text)
            } catch {
              reject(
                new ControlConnectionError(
                  `the control API at ${this.url} answered something that is not JSON`,
                ),
              )
              return
            }
            const status = res.statusCode ?? 0
            if (status >= 200 && status < 300) {
              resolve(json as T)
              return
            }
            const error = (json as { error?: { code?: unknown; message?: unknown } }).error
            const code = typeof error?.code === 'string' ? error.code : `HTTP_${status}`
            const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`
            reject(new ControlApiError(status, code, message))
          })
        },
      )
      req.on('timeout', () => {
        req.destroy(
          new ControlConnectionError(
            `the node did not answer ${method} ${path} within ${options.timeoutMs ?? REQUEST_TIMEOUT_MS} ms`,
            'it may be overloaded or stuck; see its log, or stop it with `p2p-ai-agents node stop`',
          ),
        )
      })
      req.on('error', (err) => reject(this.#connectionError(err)))
      req.end(payload)
    })
  }

  #connectionError(err: Error): Error {
    if (err instanceof ControlConnectionError || err.name === 'AbortError') return err
    const code = (err as NodeJS.ErrnoException).code
    if (
      (code === 'ECONNREFUSED' || code === 'ECONNRESET') &&
      this.#pid !== undefined &&
      !isNodeProcess(this.#pid)
    ) {
      return new NodeNotRunningError(
        this.#dataDir ?? this.url,
        ` (the node with pid ${this.#pid} has exited)`,
      )
    }
    return new ControlConnectionError(
      `cannot reach the node's control API at ${this.url}: ${code ?? err.message}`,
      code === 'ECONNREFUSED'
        ? 'the node may be starting or stopping; try again in a moment'
        : `check that the node runs with \`${BIN_NAME} node status\``,
      { cause: err },
    )
  }
}

function isConnectionEnd(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code
  return (
    code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (err as Error).name === 'AbortError'
  )
}

/** One server-sent event (`event:` and `data:` lines) as `{ type, ...data }`. */
function parseEvent(block: string): TaskStreamEventJson | undefined {
  let type: string | undefined
  const data: string[] = []
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) type = line.slice(6).trim()
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
  }
  if (type === undefined || data.length === 0) return undefined
  return { type, ...(JSON.parse(data.join('\n')) as object) } as TaskStreamEventJson
}

function isFinal(status: TaskStatus): boolean {
  return status !== 'PENDING' && status !== 'QUEUED' && status !== 'RUNNING'
}

/** What the watchdog of a node run in the background left word of: a restart to come, or why it gave up. */
async function watchdogNote(dataDir: string): Promise<string> {
  const state = await readSupervisorState(dataDir)
  return describeSupervisor(state, state !== undefined && isNodeProcess(state.pid))
}

/**
 * A client for the node running from `dataDir`. Throws `NodeNotRunningError` when none runs; a
 * pid file or control file left by a node that died is removed on the way.
 */
export async function connectToNode(dataDir: string): Promise<ControlClient> {
  const info: ControlInfo | undefined = await readControlInfo(dataDir)
  const lockPid = await readPid(dataDir)
  if (lockPid !== undefined && lockPid !== info?.pid && isNodeProcess(lockPid)) {
    throw new ControlConnectionError(
      `the node (pid ${lockPid}) is starting or stopping: its control API is not up`,
      'try again in a moment',
    )
  }
  if (info === undefined) {
    if (lockPid !== undefined) {
      await removeStaleFiles(dataDir, lockPid)
      throw new NodeNotRunningError(
        dataDir,
        ` (removed a stale pid file: pid ${lockPid} is not running)${await watchdogNote(dataDir)}`,
      )
    }
    throw new NodeNotRunningError(dataDir, await watchdogNote(dataDir))
  }
  if (!isNodeProcess(info.pid)) {
    await removeStaleFiles(dataDir, lockPid)
    throw new NodeNotRunningError(
      dataDir,
      ` (removed stale files of pid ${info.pid}, which is not running)${await watchdogNote(dataDir)}`,
    )
  }
  let token: string
  try {
    token = await readToken(dataDir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new ControlConnectionError(
      `cannot read the control token in ${dataDir}: ${code === 'EACCES' ? 'permission denied' : code}`,
      code === 'EACCES' ? 'run this command as the user who started the node' : 'restart the node',
      { cause: err },
    )
  }
  return new ControlClient({ url: info.url, token, pid: info.pid, dataDir })
}
