import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { HeliaContent } from '@p2p-ai/content'
import type { TaskEngine, TaskRecord } from '@p2p-ai/engine'
import type { JobSubmission, P2PNode } from '@p2p-ai/node'
import type { ControlTarget, TaskQuery } from '../control/target.js'
import type {
  AddedModelJson,
  CancelJson,
  DashboardJson,
  DashboardRequest,
  JobJson,
  ModelJson,
  PeerJson,
  StatusJson,
  SubmitRequest,
  SwarmPulledModelJson,
  TaskJson,
  TaskStreamEventJson,
} from '../control/types.js'
import { MAX_PROBE_BYTES } from '../debug/constants.js'
import { cpuProfile, heapDump } from '../debug/dumps.js'
import { LogRing } from '../debug/log-ring.js'
import { networkTest } from '../debug/network-test.js'
import { takeSnapshot } from '../debug/snapshot.js'
import { stress } from '../debug/stress.js'
import type { NodeModels } from '../models/node-models.js'
import { TaskCounter } from './stats.js'
import { engineRecordToJson, networkRecordToJson } from './task-json.js'

export interface NodeTargetInit {
  readonly node: P2PNode
  readonly dataDir: string
  readonly cliVersion: string
  /** Starts the graceful shutdown of the whole process. */
  readonly shutdown: () => void
  /** Settles once the model backends have loaded (or failed to); `models()` waits for it, briefly. */
  readonly modelsReady?: Promise<unknown>
  /** The node's recent log lines, for snapshots. @default none kept */
  readonly logs?: LogRing
  /** The node's model backends, for models added and pulled while it runs. */
  readonly models?: NodeModels
  /** The Prometheus endpoint, when metrics are on. */
  readonly metrics?: { readonly url: string; exposition(): Promise<string> }
  /** The dashboard, started on demand (`POST /v1/dashboard`). */
  readonly dashboard?: {
    open(request: DashboardRequest): Promise<DashboardJson>
    readonly url: string | undefined
  }
}

/** How long a models listing waits for the model backends to load. */
const MODELS_WAIT_MS = 10_000
/** Longest a stream of a task without a handle (run here for a peer) waits for it to end. */
const MAX_STREAM_WAIT_MS = 60 * 60 * 1000

/** A coded error for the control API. */
function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/**
 * The control API's view of a running `P2PNode`. Tasks go through the node's task exchange
 * (`node.submit`: routed to the best peer, with failover, or run here); the engine's records show
 * what ran here, for this node or for peers.
 */
export function nodeTarget(init: NodeTargetInit): ControlTarget & { dispose(): void } {
  const { node } = init
  const engine: TaskEngine = node.engine
  const counter = new TaskCounter(engine)
  const self = node.peerId
  // For snapshots: how late the event loop ran since the node started (p50, p99, max). The alerts
  // read the shared monitor of @p2p-ai/node, which starts over at each reading: not this.
  const eventLoop = monitorEventLoopDelay({ resolution: 20 })
  eventLoop.enable()

  const isLocal = (target: string | undefined): boolean =>
    target === 'self' || target === 'local' || target === self

  /**
   * A task of the exchange as the API reports it: once what the report says is durable, its
   * acceptance or its final record (docs/delivery.md), or saying plainly that it is not.
   */
  async function reported(id: string): Promise<TaskJson | undefined> {
    const record = node.tasks.get(id)
    if (record === undefined) return undefined
    // What is durable once this resolves covers this snapshot (or a later one).
    const durable = await node.tasks.durable(id)
    const json = networkRecordToJson(record, self)
    return durable ? json : { ...json, durable: false }
  }

  async function submitOne(request: SubmitRequest): Promise<TaskJson> {
    const { type, input, id, priority, timeoutMs, target } = request
    const redundancy = request.redundancy ?? 1
    if (redundancy > 1 && target !== undefined && target !== 'auto') {
      throw coded('ERR_INVALID_REQUEST', 'redundancy picks its own peers: it does not go with a target')
    }
    if (target === undefined) checkSomeoneRuns(type)
    const handle = node.submit(
      {
        type,
        input: input as Record<string, unknown>,
        ...(id === undefined ? {} : { id }),
        ...(priority === undefined ? {} : { priority }),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      },
      {
        target: target === undefined ? 'auto' : isLocal(target) ? 'local' : target,
        ...(redundancy > 1 ? { redundancy } : {}),
      },
    )
    // The id is answered only once the task's acceptance is on disk: from then on a crash of the
    // node cannot make it unknown (it is resumed at the next start).
    return (await reported(handle.id)) as TaskJson
  }

  /**
   * The exchange runs this node's own tasks in the engine as `<self>:<id>`; a task routed
   * elsewhere, or submitted before a restart, is found in one place or the other.
   */
  async function get(id: string): Promise<TaskJson | undefined> {
    return (await reported(id)) ?? fromEngine(id)
  }

  /** The task as the node has it now, whether or not that is on disk yet. */
  function current(id: string): TaskJson | undefined {
    const fromExchange = node.tasks.get(id)
    return fromExchange === undefined ? fromEngine(id) : networkRecordToJson(fromExchange, self)
  }

  function fromEngine(id: string): TaskJson | undefined {
    const record = engine.get(id) ?? engine.get(`${self}:${id}`)
    return record === undefined ? undefined : engineRecordToJson(record, self)
  }

  /** Fails fast (instead of after the exchange's wait for a capable peer) on a type nobody runs. */
  function checkSomeoneRuns(type: string): void {
    const here = engine.capabilities().taskTypes.map((t) => t.name)
    if (here.includes(type)) return
    const connected = node.peers().filter((p) => p.status === 'connected')
    if (connected.some((p) => peerRuns(p, type))) return
    throw coded(
      'ERR_UNSUPPORTED_TASK_TYPE',
      `no node runs task type "${type}": not this one (it runs ${[...new Set(here)].join(', ')}), nor any of its ${connected.length} connected peers`,
    )
  }

  async function waitOne(id: string, timeoutMs: number, signal: AbortSignal): Promise<TaskJson | undefined> {
    const current = await get(id)
    if (current === undefined || isFinal(current) || signal.aborted) return current
    const handle = node.tasks.handle(id)
    // One signal ends every listener and the timer, however the wait ends: a listener added to an
    // already-aborted signal never fires, and a timer left behind keeps the process alive.
    const done = new AbortController()
    const ended = AbortSignal.any([signal, done.signal])
    let timer: NodeJS.Timeout | undefined
    try {
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs)
        ended.addEventListener('abort', () => resolve(), { once: true })
        if (handle !== undefined) {
          handle.result().then(
            () => resolve(),
            () => resolve(),
          )
        } else {
          engine.addEventListener(
            'task:finished',
            (evt: CustomEvent<TaskRecord>) => {
              if (evt.detail.id === id || evt.detail.id === `${self}:${id}`) resolve()
            },
            { signal: ended },
          )
        }
      })
    } finally {
      clearTimeout(timer)
      done.abort()
    }
    return get(id)
  }

  /** The handle's stream, then the task as it ended (a failure is in that record, not thrown). */
  async function* streamOne(id: string, signal: AbortSignal): AsyncGenerator<TaskStreamEventJson> {
    const handle = node.tasks.handle(id)
    if (handle !== undefined) {
      try {
        for await (const event of handle.stream({ signal })) yield event
      } catch {
        // The task failed: its record says how. Or the reader went away: nobody reads on.
        if (signal.aborted) return
      }
      await handle.result()
    } else {
      // Known only from a store or the engine (no handle): its final state is all there is.
      const task = current(id)
      if (task !== undefined && !isFinal(task)) await waitOne(id, MAX_STREAM_WAIT_MS, signal)
    }
    const task = await get(id)
    if (task === undefined || signal.aborted) return
    if (handle === undefined && task.status === 'COMPLETED') {
      const text = (task.output as { text?: unknown } | undefined)?.text
      if (typeof text === 'string' && text !== '') yield { type: 'delta', text }
    }
    yield { type: 'end', task }
  }

  async function cancelOne(id: string): Promise<CancelJson> {
    const handle = node.tasks.handle(id)
    if (handle !== undefined) {
      const cancelled = handle.cancel('cancelled from the CLI')
      return { cancelled, task: (await get(id))! }
    }
    // Throws ERR_TASK_NOT_FOUND for an unknown id.
    const engineId =
      engine.get(id) === undefined && engine.get(`${self}:${id}`) !== undefined ? `${self}:${id}` : id
    const cancelled = engine.cancel(engineId)
    return { cancelled, task: (await get(id))! }
  }

  /** Waits for the model backends to have read their models, at most `MODELS_WAIT_MS`. */
  const modelsSettled = async (): Promise<void> => {
    if (init.modelsReady === undefined) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      init.modelsReady,
      new Promise((resolve) => (timer = setTimeout(resolve, MODELS_WAIT_MS))),
    ])
    clearTimeout(timer)
  }

  const target: ControlTarget & { dispose(): void } = {
    status(): StatusJson {
      const m = node.metadata()
      const usage = process.memoryUsage()
      return {
        pid: process.pid,
        dataDir: init.dataDir,
        cliVersion: init.cliVersion,
        version: m.version,
        agentVersion: m.agentVersion,
        peerId: m.peerId,
        state: m.state,
        ready: node.isReady(),
        addresses: [...m.addresses],
        startedAt: m.startedAt,
        uptimeMs: m.uptimeMs,
        connectedPeers: m.connectedPeers,
        capabilities: {
          taskTypes: [...new Set(m.capabilities.taskTypes)],
          models: [...new Set(m.capabilities.models)],
          concurrency: m.capabilities.concurrency,
        },
        routing: true,
        health: node.health(),
        network: node.network(),
        alerts: node.alerts(),
        ...(init.metrics === undefined ? {} : { metrics: { url: init.metrics.url } }),
        ...(init.dashboard?.url === undefined ? {} : { dashboard: { url: init.dashboard.url } }),
        tasks: counter.snapshot(),
        process: {
          rssBytes: usage.rss,
          heapUsedBytes: usage.heapUsed,
          cpuUserMs: Math.round(process.cpuUsage().user / 1000),
        },
        resources: node.resources.status(),
      }
    },
    jobs: {
      submit: (request) => node.jobs.submit(request as JobSubmission).record(),
      get: (id) => node.jobs.get(id),
      list: (query) => node.jobs.list(query),
      cancel(id) {
        const cancelled = node.jobs.cancel(id, 'cancelled from the CLI')
        return { cancelled, job: node.jobs.get(id) as JobJson }
      },
      resume: (id) => node.jobs.resume(id).record(),
    },
    peers: (): PeerJson[] => node.peers(),
    connect: (address, options) => node.connect(address, options),
    unban: (peerId) => ({ peerId, unbanned: node.unban(peerId) }),
    async submit(request) {
      // A node that has just started is still reading its models (the llama backend joins once it
      // has one): a task that needs one must not be told nobody runs its type meanwhile.
      await modelsSettled()
      return submitOne(request)
    },
    task: (id) => get(id),
    wait: (id, timeoutMs, signal) => waitOne(id, timeoutMs, signal),
    async list(query: TaskQuery): Promise<TaskJson[]> {
      const matches = (t: TaskJson): boolean =>
        (query.status === undefined || t.status === query.status) &&
        (query.type === undefined || t.type === query.type)
      const window = query.offset + query.limit
      const byId = new Map<string, TaskJson>()
      // The network's record of a task wins over the engine's, matching or not: a task this node
      // ran for itself is COMPLETED in the engine before its final record is durable.
      const submitted = new Set<string>()
      const notDurable = new Set<string>()
      const checks: Array<Promise<void>> = []
      for (const r of node.tasks.list({ limit: Math.max(window, 100) })) {
        const t = networkRecordToJson(r, self)
        const seen = submitted.has(t.id)
        submitted.add(t.id)
        if (!matches(t) || seen) continue
        byId.set(t.id, t)
        // A final record is listed once it is durable, like a single task (`reported`).
        if (isFinal(t))
          checks.push(
            node.tasks.durable(t.id).then((ok) => {
              if (!ok) notDurable.add(t.id)
            }),
          )
      }
      await Promise.all(checks)
      for (const id of notDurable) byId.set(id, { ...(byId.get(id) as TaskJson), durable: false })
      // The engine holds what ran here: tasks sent straight to it and those peers sent us.
      const engineStatus = query.status === 'PENDING' ? undefined : query.status
      if (query.status !== 'PENDING') {
        for (const r of engine.list({
          limit: Math.min(1000, window),
          ...(engineStatus === undefined ? {} : { status: engineStatus }),
          ...(query.type === undefined ? {} : { type: query.type }),
        })) {
          const t = engineRecordToJson(r, self)
          if (!submitted.has(t.id)) byId.set(t.id, t)
        }
      }
      return [...byId.values()].sort((a, b) => b.queuedAt - a.queuedAt).slice(query.offset, window)
    },
    cancel: (id) => cancelOne(id),
    stream: (id, signal) => (current(id) === undefined ? undefined : streamOne(id, signal)),
    async models(): Promise<ModelJson[]> {
      await modelsSettled()
      const gguf = new Set(init.models?.llama.models().map((m) => m.name))
      const onnx = new Set(init.models?.onnx.models().map((m) => m.name))
      return engine.capabilities().models.map((m) => ({
        name: m.name,
        ...(gguf.has(m.name) ? { format: 'gguf' } : onnx.has(m.name) ? { format: 'onnx' } : {}),
        taskTypes: [...m.taskTypes],
        source: 'served' as const,
        sha256: m.sha256,
        sizeBytes: m.sizeBytes,
        loaded: m.loaded,
      }))
    },
    async addModel(request, { signal }): Promise<AddedModelJson> {
      if (init.models === undefined) throw coded('ERR_NOT_FOUND', 'this node serves no model backends')
      await init.modelsReady
      return init.models.add(engine, request, signal)
    },
    async pullFromSwarm(request, { signal, onProgress }): Promise<SwarmPulledModelJson> {
      const content = node.content as Partial<HeliaContent> | undefined
      if (content?.pullModel === undefined) {
        throw coded(
          'ERR_CONTENT_DISABLED',
          'this node exchanges no content by CID: set content.enabled to true in its configuration and restart it',
        )
      }
      await init.modelsReady
      const pulled = await content.pullModel(request.name, {
        signal,
        onProgress,
        ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
      })
      return {
        name: pulled.name,
        cid: pulled.cid,
        dir: pulled.dir,
        model: pulled.manifest.model,
        files: pulled.manifest.files,
        served: engine.capabilities().models.some((m) => m.name === pulled.name),
      }
    },
    async scanModels({ signal }): Promise<void> {
      if (init.models === undefined) throw coded('ERR_NOT_FOUND', 'this node serves no model backends')
      await init.modelsReady
      await init.models.scan(engine, signal)
    },
    events(listener, signal) {
      const at = (): number => Date.now()
      node.addEventListener(
        'peer:connect',
        (e) => listener({ event: 'peer:connect', at: at(), peerId: e.detail.peerId }),
        { signal },
      )
      node.addEventListener(
        'peer:failed',
        (e) =>
          listener({ event: 'peer:failed', at: at(), peerId: e.detail.peer.peerId, reason: e.detail.reason }),
        { signal },
      )
      node.addEventListener(
        'peer:remove',
        (e) => listener({ event: 'peer:remove', at: at(), peerId: e.detail.peerId, reason: e.detail.reason }),
        { signal },
      )
      for (const name of ['alert:raised', 'alert:cleared'] as const) {
        node.addEventListener(
          name,
          (e) =>
            listener({
              event: name,
              at: at(),
              alert: e.detail.name,
              message: e.detail.message,
              ...(e.detail.value === undefined ? {} : { value: e.detail.value }),
              threshold: e.detail.threshold,
            }),
          { signal },
        )
      }
      for (const name of ['task:started', 'task:finished'] as const) {
        engine.addEventListener(
          name,
          (e: CustomEvent<TaskRecord>) => {
            const t = engineRecordToJson(e.detail, self)
            listener({
              event: name,
              at: at(),
              id: t.id,
              type: t.type,
              status: t.status,
              ...(t.meta === undefined ? {} : { meta: t.meta }),
            })
          },
          { signal },
        )
      }
    },
    async metrics() {
      if (init.metrics === undefined) {
        throw coded(
          'ERR_METRICS_OFF',
          'this node does not collect metrics: start it with --metrics, or set metrics.enabled in its configuration',
        )
      }
      return init.metrics.exposition()
    },
    async dashboard(request) {
      if (init.dashboard === undefined) throw coded('ERR_NOT_FOUND', 'this node serves no dashboard')
      return init.dashboard.open(request)
    },
    logLevel: () => node.config.log.level,
    setLogLevel(level) {
      const previous = node.config.log.level
      node.reconfigure({ log: { level } })
      node.logger.info({ component: 'node', level, previous }, `log level ${level}`)
      return { level: node.config.log.level, previous }
    },
    shutdown: init.shutdown,
    async trace(id, options) {
      if (node.traces === undefined) {
        throw coded(
          'ERR_TRACING_DISABLED',
          'this node records no traces: `tracing.enabled` is off, or @p2p-ai/tracing is not installed',
        )
      }
      return node.traces.get(id, options)
    },
    snapshot: (options) =>
      takeSnapshot(
        {
          node,
          dataDir: init.dataDir,
          status: () => target.status(),
          recentTasks: (limit) => target.list({ limit, offset: 0 }),
          logs: init.logs ?? new LogRing(),
          eventLoop,
          ...(init.metrics === undefined ? {} : { metrics: () => init.metrics!.exposition() }),
        },
        options,
      ),
    networkTest: (options) =>
      networkTest(node, { ...options, probeBytes: Math.min(options.probeBytes, MAX_PROBE_BYTES) }),
    stress: (request, signal) => stress(node, request, signal),
    profile: (request, signal) => cpuProfile(init.dataDir, { ...request, signal }),
    heapDump: (request) => heapDump(init.dataDir, request),
    dispose() {
      counter.dispose()
      eventLoop.disable()
    },
  }
  return target
}

/** Whether a peer announced it runs `type`. */
function peerRuns(peer: PeerJson, type: string): boolean {
  const caps = peer.capabilities as { taskTypes?: unknown } | undefined
  return Array.isArray(caps?.taskTypes) && caps.taskTypes.includes(type)
}

function isFinal(t: TaskJson): boolean {
  return t.status !== 'PENDING' && t.status !== 'QUEUED' && t.status !== 'RUNNING'
}
