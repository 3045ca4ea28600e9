import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { ResultStore, TaskEngine, TaskRecord } from '@p2p-ai/engine'
import { ANNOUNCE_PROTOCOL } from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import { TypedEventEmitter } from 'main-event'
import { type AlertChange, AlertMonitor, type AlertState } from './alerts/monitor.js'
import { NodeReadings } from './alerts/readings.js'
import { type ConfigChange, planReconfigure } from './config/reconfigure.js'
import type { NodeConfig, NodeConfigInput } from './config/types.js'
import { type ConfigWatcher, watchConfig } from './config/watch.js'
import { setMaxConnections } from './connections.js'
import type { ContentService } from './content/types.js'
import { DialFailedError, InvalidPeerAddressError, NodeNotActiveError } from './errors.js'
import {
  countingEd25519,
  type EnvelopeChecks,
  envelopeChecks,
  type NetworkTaskHandle,
  type RegisteredTask,
  type ServingLimitsInit,
  type SignatureCounts,
  type SubmitOptions,
  type TaskDefinition,
  type TaskExchange,
  type TaskList,
  type TaskSubmission,
  taskExchange,
} from './exchange/index.js'
import {
  engineCheck,
  identityCheck,
  modelsCheck,
  networkCheck,
  resourcesCheck,
  storeCheck,
  tracingCheck,
} from './health/checks.js'
import {
  type ComponentHealth,
  type HealthCheck,
  type HealthCheckOptions,
  HealthMonitor,
  type HealthReport,
} from './health/monitor.js'
import { DEFAULT_JOB_ITEM_ATTEMPTS } from './jobs/constants.js'
import { JobManager } from './jobs/manager.js'
import type { JobStore } from './jobs/store.js'
import type { JobList } from './jobs/types.js'
import { Lifecycle, type NodeState } from './lifecycle.js'
import { type ComponentLoggers, type Logger, taskLogFields } from './logger.js'
import { DEFAULT_AGENT_VERSION, type NodeCapabilities, type NodeMetadata, VERSION } from './metadata.js'
import { type NodeNetworkStatus, networkStatus } from './network-status.js'
import { attachPeerDirectory, peerNetwork } from './peers/attach.js'
import { type PeerDirectory, type PeerDirectoryEvents, peerDirectory } from './peers/directory.js'
import type { ConductSettings, PeerReputation } from './peers/reputation.js'
import type { PeerInfo } from './peers/types.js'
import { NodeResources, type ResourceSettings } from './resources/resources.js'
import { systemSampler } from './resources/sampler.js'
import type { ResourceStatus } from './resources/types.js'
import { type ShutdownReport, shutdown } from './shutdown.js'
import { startNode } from './start.js'
import { TaskTracer } from './tracing/task-tracer.js'
import { TraceService } from './tracing/trace-service.js'
import { NodeTraces } from './tracing/traces.js'
import type { NodeTracing } from './tracing/types.js'
import { type ProtocolTraffic, TrafficCounters } from './traffic.js'
import type {
  NodeEvents,
  NodeIdentity,
  NodeParts,
  NodeWatchInit,
  StartOptions,
  StopOptions,
} from './types.js'

/** The `protection.*` settings as the exchange's serving limits. */
function servingLimits(p: NodeConfig['protection']): ServingLimitsInit {
  return {
    tasksPerSecond: p.tasksPerSecond,
    burst: p.burst,
    maxInputBytes: p.maxInputBytes,
    maxInputBytesByType: Object.fromEntries(
      p.maxInputBytesByType.map((entry) => {
        const at = entry.lastIndexOf('=')
        return [entry.slice(0, at), Number(entry.slice(at + 1))]
      }),
    ),
  }
}

/** The `protection.*` settings as the reputation book's ban rules. */
function conductSettings(p: NodeConfig['protection']): ConductSettings {
  return { banMs: p.banMs, maxBanMs: p.maxBanMs, exempt: p.exempt }
}

/**
 * A p2p-ai node: identity, transport, task engine, peer directory and health, under one lifecycle.
 * Create one with `createNode()`.
 */
export class P2PNode extends TypedEventEmitter<NodeEvents> {
  /** This node's PeerId. */
  readonly peerId: string
  readonly identity: NodeIdentity
  /** The libp2p node (for protocols of your own). */
  readonly transport: Transport
  /** The task engine: `submit`, `get`, `list`, `cancel`. */
  readonly engine: TaskEngine
  /** Sends, serves and routes tasks across the network; `submit`, `tasks` and `registerTask` use it. */
  readonly exchange: TaskExchange
  /** Everything this node knows about its peers; `peers()` and `peer()` read it. */
  readonly directory: PeerDirectory
  /**
   * Content by CID (when created with a content plug-in, `content.enabled` in the CLI):
   * `put(bytes | stream)` → `{ cid, size }`, `get(cid)` → the bytes as a stream, fetched from peers
   * when this node lacks them. Large task inputs and outputs travel through it.
   */
  readonly content: ContentService | undefined
  /**
   * The machine and the owner's limits: `status()` (CPU, memory, disk, load, battery, paused or
   * not), `measure()` for a reading now. See docs/contributing-resources.md.
   */
  readonly resources: NodeResources
  /** The root logger (JSON lines with `peerId`); components log through children. */
  readonly logger: Logger
  /**
   * The traces this node recorded (`get(taskId)` gathers every node's spans of a task), when it
   * traces: see `tracing.*` in docs/configuration.md.
   */
  readonly traces: NodeTraces | undefined
  readonly #tracing: NodeTracing | undefined
  readonly #traceService: TraceService | undefined
  /**
   * Jobs: many tasks of one type over the items of an input (a JSONL file, a text file split in
   * pieces, or items from code), fanned out across peers, resumable after a restart (docs/jobs.md).
   */
  readonly jobs: JobList
  readonly #jobs: JobManager
  readonly #jobStore: JobStore
  readonly #loggers: ComponentLoggers
  readonly #log: Logger
  readonly #lifecycle: Lifecycle
  readonly #checks: EnvelopeChecks
  readonly #health: HealthMonitor
  readonly #agentVersion: string
  readonly #watchInit: NodeWatchInit | undefined
  readonly #cancelGraceMs: number | undefined
  readonly #submittedStore: ResultStore | undefined
  #config: NodeConfig
  #watcher: ConfigWatcher | undefined
  #startedAt: number | undefined
  #starting: Promise<void> | undefined
  #stopping: Promise<ShutdownReport> | undefined
  readonly #startAbort = new AbortController()
  #addresses: readonly string[] = []
  #capabilities: NodeCapabilities = { taskTypes: [], models: [], concurrency: 0 }
  #capabilitiesAt = 0
  readonly #detach: Array<() => void> = []
  readonly #traffic = new TrafficCounters()
  readonly #signatures: SignatureCounts
  readonly #readings: NodeReadings
  readonly #alerts: AlertMonitor

  constructor(parts: NodeParts) {
    super()
    this.#config = parts.config
    this.#loggers = parts.loggers
    this.logger = parts.loggers.root
    this.#log = parts.loggers.get('node')
    this.identity = parts.identity
    this.peerId = parts.identity.peerId
    this.transport = parts.transport
    this.engine = parts.engine
    this.#agentVersion = parts.agentVersion ?? DEFAULT_AGENT_VERSION
    this.#watchInit = parts.watch
    this.#cancelGraceMs = parts.cancelGraceMs
    this.#submittedStore = parts.submittedStore
    this.#lifecycle = new Lifecycle((change) => {
      this.#log.info({ from: change.from, to: change.to }, `state ${change.to}`)
      this.safeDispatchEvent('state:change', { detail: change })
    })
    const c = parts.config
    // One replay cache, batch cache and Ed25519 implementation (which counts the signatures it
    // checks) for every envelope this node opens, whatever the protocol.
    const crypto = countingEd25519(parts.exchange?.crypto)
    this.#signatures = crypto.counts
    this.#checks = envelopeChecks({ crypto })
    this.directory = peerDirectory(
      {
        self: this.peerId,
        network: peerNetwork(parts.transport),
        log: parts.loggers.get('network'),
        // The transport's connection gater asks this book about bans: it must be the same one.
        ...(parts.reputation === undefined ? {} : { reputation: parts.reputation }),
      },
      { heartbeatIntervalMs: c.heartbeat.intervalMs, heartbeatTimeoutMs: c.heartbeat.timeoutMs },
    )
    this.#tracing = parts.tracing
    const tracer =
      parts.tracing === undefined
        ? undefined
        : new TaskTracer(
            parts.tracing.spans ?? parts.tracing.tracerProvider.getTracer('@p2p-ai/node', VERSION),
          )
    for (const type of ['peer:connect', 'peer:update', 'peer:failed', 'peer:remove'] as const) {
      this.directory.addEventListener(type, (evt: PeerDirectoryEvents[typeof type]) =>
        this.safeDispatchEvent(type, { detail: evt.detail } as never),
      )
    }
    // Built before the exchange, which sends large inputs and outputs through it; what it asks of
    // the exchange (the access policy, re-announcing) is only asked once the node runs.
    this.content = parts.content?.({
      transport: parts.transport,
      engine: parts.engine,
      dataDir: c.dataDir,
      settings: c.content,
      log: parts.loggers.get('content'),
      allows: (peer) => this.exchange.allows(peer),
      peers: () => this.directory.list(),
      capabilitiesChanged: () => this.exchange.refreshCapabilities(),
      // The last reading of the data directory (content included) against `limits.disk`.
      diskSpaceLeft: () => {
        const { limits, snapshot } = this.resources.status()
        const used = snapshot?.disk?.dataDirBytes
        return limits.diskBytes === undefined || used === undefined
          ? undefined
          : Math.max(0, limits.diskBytes - used)
      },
    })
    this.exchange = taskExchange(
      {
        peerId: this.peerId,
        signer: parts.identity,
        transport: parts.transport,
        engine: parts.engine,
        peers: this.directory,
        log: parts.loggers.get('exchange'),
        checks: this.#checks,
        traffic: this.#traffic,
        ...(parts.submittedStore === undefined ? {} : { submittedStore: parts.submittedStore }),
        ...(tracer === undefined ? {} : { tracer }),
        ...(this.content === undefined ? {} : { content: this.content }),
      },
      {
        access: c.access,
        autoFetchModels: c.models.autoFetch,
        relay: c.forwarding.enabled,
        maxHops: c.forwarding.maxHops,
        relayedMaxBytes: c.network.relay.maxTaskBytes,
        livenessIdleMs: c.liveness.idleMs,
        livenessTimeoutMs: c.liveness.timeoutMs,
        storeServedTasks: c.engine.storeServedTasks,
        maxTasksPerPeer: c.protection.maxOpenTasksPerPeer,
        serving: servingLimits(c.protection),
        ...parts.exchange,
        agentVersion: this.#agentVersion,
      },
    )
    if (parts.tracing === undefined) {
      this.#traceService = undefined
      this.traces = undefined
    } else {
      const store = parts.tracing.store
      this.#traceService = new TraceService({
        self: this.peerId,
        transport: parts.transport,
        directory: this.directory,
        store,
        log: parts.loggers.get('tracing'),
      })
      this.traces = new NodeTraces({
        self: this.peerId,
        store,
        service: this.#traceService,
        traceOfTask: (id) => this.exchange.tasks.get(id)?.traceId,
        hops: c.forwarding.maxHops,
      })
    }
    this.#jobStore = parts.jobStore
    this.#jobs = new JobManager({
      exchange: this.exchange,
      store: parts.jobStore,
      log: parts.loggers.get('jobs'),
      settings: {
        maxInFlight: c.jobs.maxInFlight,
        queuePerPeer: c.jobs.queuePerPeer,
        itemAttempts: DEFAULT_JOB_ITEM_ATTEMPTS,
      },
      resumeOnStart: c.jobs.resumeOnStart,
      ...(this.content === undefined ? {} : { content: this.content }),
      onPeersChanged: (wake) => {
        this.directory.addEventListener('peer:capabilities', wake)
        this.directory.addEventListener('peer:connect', wake)
        return () => {
          this.directory.removeEventListener('peer:capabilities', wake)
          this.directory.removeEventListener('peer:connect', wake)
        }
      },
    })
    this.jobs = this.#jobs
    this.directory.book.configure(conductSettings(c.protection))
    this.#health = new HealthMonitor({
      intervalMs: c.health.intervalMs,
      checkTimeoutMs: c.health.checkTimeoutMs,
      onReport: (report, previous) => this.#onHealthReport(report, previous),
    })
    this.#health.register('identity', identityCheck(parts.identity, c.identity.keyFile))
    this.#health.register('engine', engineCheck(parts.engine))
    this.#health.register('store', storeCheck(parts.engine, c.dataDir))
    this.#health.register('models', modelsCheck(parts.engine))
    this.#health.register('network', networkCheck(parts.transport, c.network.bootstrap), { local: false })
    // Lost spans are worth a word, not a reason to take no tasks.
    if (parts.tracing !== undefined)
      this.#health.register('tracing', tracingCheck(parts.tracing.store), { local: false })
    const stores = (): ResultStore[] =>
      [parts.engine.store, parts.submittedStore].filter(
        (st): st is ResultStore => st !== undefined && !st.closed,
      )
    this.resources = new NodeResources({
      engine: parts.engine,
      dataDir: c.dataDir,
      stores,
      sampler:
        parts.resourceSampler ??
        systemSampler({
          dataDir: c.dataDir,
          // A store's free pages are space it reuses: not counted against the disk limit.
          reusableBytes: () => stores().reduce((sum, st) => sum + safeFreeBytes(st), 0),
        }),
      log: parts.loggers.get('resources'),
      settings: resourceSettings(c),
      onChange: (status, change) => this.#onResources(status, change.paused),
    })
    // Not a readiness matter: a node over a limit still works, within it.
    this.#health.register('resources', resourcesCheck(this.resources), { local: false })
    // An idle-only node starts paused: the exchange knows before it serves anything.
    this.#onResources(this.resources.status(), false)
    this.#refreshCapabilities()
    this.#logFinishedTasks(parts.loggers.get('engine'))
    this.#readings = new NodeReadings({
      self: this.peerId,
      directory: this.directory,
      engine: parts.engine,
      exchange: this.exchange,
      maxQueueLength: c.engine.maxQueueLength,
      config: c.alerts,
    })
    const alertLog = parts.loggers.get('alerts')
    this.#alerts = new AlertMonitor({
      config: c.alerts,
      read: () => this.#readings.read(),
      onChange: (state, change) => this.#onAlert(alertLog, state, change),
    })
  }

  /** The current lifecycle state. */
  get state(): NodeState {
    return this.#lifecycle.state
  }

  /** The configuration in force (after any live reloads). */
  get config(): Readonly<NodeConfig> {
    return this.#config
  }

  /**
   * Starts the node: INITIALIZING → REGISTERING (listen, register protocols, discover) → ACTIVE
   * after the first health round. Resolves once ACTIVE; a node that is already ACTIVE resolves
   * at once. A failed start shuts down whatever it started and rejects with `StartFailedError`
   * (or `StartAbortedError` when `stop()` was called meanwhile); the node is then STOPPED.
   */
  async start(options: StartOptions = {}): Promise<void> {
    const state = this.#lifecycle.state
    if (state === 'ACTIVE') return
    if (state === 'REGISTERING' && this.#starting !== undefined) return this.#starting
    // Any other state than INITIALIZING is refused by startNode with InvalidStateTransitionError.
    const starting = startNode({
      transport: this.transport,
      lifecycle: this.#lifecycle,
      stopSignal: this.#startAbort.signal,
      signal: options.signal,
      log: this.#log,
      register: () => this.#register(),
      checkHealth: () => this.#health.run(),
      activate: () => this.#activate(),
      cleanUp: () => this.#stop({}, false),
    })
    if (state === 'INITIALIZING') this.#starting = starting
    return starting
  }

  async #register(): Promise<void> {
    const t = this.transport
    const onAddresses = (): void => this.#refreshAddresses()
    t.addEventListener('self:peer:update', onAddresses)
    this.#detach.push(() => t.removeEventListener('self:peer:update', onAddresses))
    // The first health round runs at start, before a bootstrap peer behind a slow link or a relay
    // answered: a network check that found nobody is looked at again as soon as a peer connects,
    // rather than showing `degraded` for a whole interval.
    const onConnect = (): void => {
      const network = this.#health.last?.components.find((c) => c.name === 'network')
      if (network !== undefined && network.status !== 'healthy') void this.#health.run()
    }
    t.addEventListener('peer:connect', onConnect)
    this.#detach.push(() => t.removeEventListener('peer:connect', onConnect))
    const detach = await attachPeerDirectory(t, this.directory, {
      replayCache: this.#checks.replayCache,
      ...(this.#checks.crypto === undefined ? {} : { crypto: this.#checks.crypto }),
      log: this.#loggers.get('network'),
      traffic: this.#traffic.of(ANNOUNCE_PROTOCOL),
    })
    this.#detach.push(() => void detach())
    await this.content?.start()
    await this.exchange.start()
    await this.#traceService?.start()
  }

  /** Called by start once the transport runs and the first health round is in. */
  #activate(): void {
    this.#startedAt = Date.now()
    this.#refreshAddresses()
    this.directory.start()
    this.#health.start()
    this.resources.start()
    if (this.#config.alerts.enabled) {
      this.#readings.start()
      this.#alerts.start()
    }
    this.#jobs.start()
    if (this.#watchInit !== undefined) {
      this.#watcher = watchConfig({
        ...this.#watchInit,
        onChange: (config) => {
          try {
            this.reconfigure(config)
          } catch (err) {
            this.#configError(err as Error)
          }
        },
        onError: (err) => this.#configError(err),
      })
    }
  }

  #configError(err: Error): void {
    this.#log.error({ err }, 'config file changed but does not load; keeping the running configuration')
    this.safeDispatchEvent('config:error', { detail: err })
  }

  /**
   * Shuts down gracefully within `shutdown.deadlineMs` (default 8 s): stops accepting work, tells
   * connected peers goodbye, lets running tasks finish until the deadline and cancels the rest,
   * closes the store and the transport. Idempotent: later calls get the same report.
   */
  stop(options: StopOptions = {}): Promise<ShutdownReport> {
    return this.#stop(options, true)
  }

  #stop(options: StopOptions, awaitStart: boolean): Promise<ShutdownReport> {
    this.#stopping ??= (async () => {
      this.#startAbort.abort()
      this.#watcher?.close()
      this.#health.stop()
      this.resources.stop()
      this.#alerts.stop()
      this.#readings.stop()
      this.directory.stop()
      for (const detach of this.#detach.splice(0)) detach()
      const report = await shutdown({
        lifecycle: this.#lifecycle,
        starting: awaitStart ? this.#starting : undefined,
        deadlineMs: options.deadlineMs ?? this.#config.shutdown.deadlineMs,
        signal: options.signal,
        signer: this.identity,
        transport: this.transport,
        engine: this.engine,
        exchange: this.exchange,
        ...(this.content === undefined ? {} : { content: this.content }),
        ...(this.#submittedStore === undefined ? {} : { submittedStore: this.#submittedStore }),
        jobs: this.#jobs,
        jobStore: this.#jobStore,
        log: this.#log,
        ...(this.#cancelGraceMs === undefined ? {} : { cancelGraceMs: this.#cancelGraceMs }),
      })
      // Last: the spans of the tasks that ended while stopping are written too.
      await this.#tracing?.shutdown().catch((err: unknown) => {
        this.#log.warn({ err }, 'tracing did not shut down cleanly: the last spans may be lost')
      })
      return report
    })()
    return this.#stopping
  }

  /**
   * Snapshots of every peer in the directory: connected ones and failed ones being redialled, with
   * their connection, capabilities and reputation as a task provider.
   */
  peers(): PeerInfo[] {
    return this.directory.list()
  }

  /** One peer's snapshot, or undefined. */
  peer(peerId: string): PeerInfo | undefined {
    return this.directory.get(peerId)
  }

  /**
   * Lets a banned peer in again at once (docs/delivery.md, "Rate limits, quotas and bans"): the
   * connection gater no longer refuses it and it may be dialled. False when it was not banned.
   */
  unban(peerId: string): boolean {
    return this.directory.unban(peerId)
  }

  /** A peer's reputation as a provider of this node's tasks (neutral for one never used). */
  reputation(peerId: string): PeerReputation {
    return this.directory.reputation(peerId)
  }

  /**
   * Runs a task on this node or on a peer (`options.target`: `'auto'`, `'local'` or a PeerId) and
   * returns its handle at once: status and progress events, `result()` (the verified result, or
   * a coded failure), `cancel()`. Failures fail over to other peers; see docs/delivery.md.
   */
  submit<Output = unknown>(task: TaskSubmission, options?: SubmitOptions): NetworkTaskHandle<Output> {
    return this.exchange.submit<Output>(task, options)
  }

  /** The tasks submitted on this node: `get(id)`, `handle(id)`, `list({ status, type, peer })`. */
  get tasks(): TaskList {
    return this.exchange.tasks
  }

  /**
   * Adds a task type of your own: a name, a zod input schema and an async function. It runs in
   * this process and peers learn about it with the next capability announcement.
   */
  registerTask<Input, Output>(definition: TaskDefinition<Input, Output>): RegisteredTask {
    return this.exchange.registerTask(definition)
  }

  /**
   * How the node sits in the network: reachability (public / private / unknown), observed and
   * announced addresses, relay reservations (held, and granted as a relay), the DHT, hole punching.
   */
  network(): NodeNetworkStatus {
    return networkStatus(this.transport, this.exchange.discovery())
  }

  /**
   * Dials a peer by multiaddr (ending in `/p2p/<peerId>`, a relay circuit address included), or by
   * its PeerId alone: then at the addresses this node knows for it, else those the DHT finds (a
   * node behind NAT is found at its relay's circuit address). Resolves once connected.
   */
  async connect(address: string, options: StartOptions = {}): Promise<void> {
    if (this.#lifecycle.state !== 'ACTIVE')
      throw new NodeNotActiveError(`cannot connect: the node is ${this.state}`)
    let target: Multiaddr
    try {
      // A bare PeerId is the multiaddr `/p2p/<peerId>`: libp2p looks its addresses up.
      target = address.startsWith('/') ? multiaddr(address) : multiaddr(`/p2p/${peerIdFromString(address)}`)
    } catch (err) {
      throw new InvalidPeerAddressError(address, (err as Error).message)
    }
    if (target.getComponents().at(-1)?.code !== CODE_P2P) {
      throw new InvalidPeerAddressError(address, 'give a PeerId, or a multiaddr ending in /p2p/<peerId>')
    }
    try {
      await this.transport.dial(target, options)
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      throw new DialFailedError(address, err)
    }
  }

  /** Multiaddrs others can dial, each ending in `/p2p/<peerId>`. */
  getMultiaddrs(): string[] {
    return [...this.#addresses]
  }

  /**
   * Version, PeerId, addresses, state, uptime and capabilities, from a cache (addresses are
   * refreshed when they change, capabilities at most once a second).
   */
  metadata(): NodeMetadata {
    const now = Date.now()
    if (now - this.#capabilitiesAt > 1_000) this.#refreshCapabilities()
    const startedAt = this.#startedAt
    return {
      version: VERSION,
      agentVersion: this.#agentVersion,
      peerId: this.peerId,
      addresses: this.#addresses,
      state: this.#lifecycle.state,
      startedAt,
      uptimeMs: startedAt === undefined ? 0 : now - startedAt,
      capabilities: this.#capabilities,
      connectedPeers: this.directory.connectedCount,
    }
  }

  /** The latest health report (every `health.intervalMs`), or undefined before the first round. */
  health(): HealthReport | undefined {
    return this.#health.last
  }

  /**
   * Every alert (see docs/observability.md) with its latest reading; `active` ones are raised now.
   * Evaluated every `alerts.intervalMs` while the node is ACTIVE.
   */
  alerts(): AlertState[] {
    return this.#alerts.list()
  }

  /**
   * Running totals since the node was created, for metrics: messages and bytes of the task and
   * announce protocols, and the Ed25519 signatures it checked. Plain numbers, read when asked.
   */
  counters(): NodeCounters {
    return { traffic: this.#traffic.snapshot(), signatures: { ...this.#signatures } }
  }

  /** Runs every health check now; each answers within `health.checkTimeoutMs`. */
  checkHealth(): Promise<HealthReport> {
    return this.#health.run()
  }

  /**
   * Readiness: ACTIVE, and every local component (identity, engine, store and any local check you
   * registered) healthy in the latest round. The network does not count: a lone node can work.
   */
  isReady(): boolean {
    if (this.#lifecycle.state !== 'ACTIVE') return false
    const report = this.#health.last
    if (report === undefined) return false
    return report.components.every((c) => !c.local || c.status === 'healthy')
  }

  /** Adds a component check (a backend, a model cache...). Local checks count for readiness. */
  registerHealthCheck(name: string, check: HealthCheck, options: HealthCheckOptions = {}): void {
    this.#health.register(name, check, options)
  }

  /**
   * Applies settings at run time: `log.level`, `network.maxConnections`, heartbeat, reconnect,
   * health, shutdown, `resources.*` and `limits.*` settings take effect at once; the others are logged as needing a restart
   * and keep their running value. Validates first (`ConfigValidationError`, nothing changed).
   */
  reconfigure(input: NodeConfigInput): ConfigChange {
    const change = planReconfigure(this.#config, input)
    const c = change.config
    this.#config = c
    for (const path of change.applied) {
      if (path === 'log.level') this.#loggers.setLevel(c.log.level)
      else if (path === 'network.maxConnections')
        setMaxConnections(this.transport, c.network.maxConnections, this.#log)
    }
    this.directory.configure({
      heartbeatIntervalMs: c.heartbeat.intervalMs,
      heartbeatTimeoutMs: c.heartbeat.timeoutMs,
    })
    this.transport.services.pool.configure({
      backoff: {
        initialDelayMs: c.reconnect.initialDelayMs,
        maxDelayMs: c.reconnect.maxDelayMs,
        maxAttempts: c.reconnect.maxAttempts,
      },
    })
    this.#health.configure(c.health.intervalMs, c.health.checkTimeoutMs)
    if (change.applied.some((path) => path.startsWith('access.'))) this.exchange.setAccessPolicy(c.access)
    if (change.applied.includes('models.autoFetch')) this.exchange.setAutoFetchModels(c.models.autoFetch)
    if (change.applied.some((path) => path.startsWith('protection.'))) {
      this.exchange.setServingLimits(servingLimits(c.protection), c.protection.maxOpenTasksPerPeer)
      this.directory.book.configure(conductSettings(c.protection))
    }
    if (change.applied.some((path) => path.startsWith('limits.') || path.startsWith('resources.'))) {
      this.resources.configure(resourceSettings(c))
    }
    if (change.applied.some((path) => path.startsWith('alerts.'))) {
      this.#readings.configure(c.alerts)
      this.#alerts.configure(c.alerts)
      // Before the node is ACTIVE only the settings change: activation starts what is enabled.
      if (this.#lifecycle.state === 'ACTIVE') {
        if (c.alerts.enabled) {
          this.#readings.start()
          this.#alerts.start()
        } else this.#readings.stop()
      }
    }
    if (change.applied.length > 0) this.#log.info({ fields: change.applied }, 'configuration reloaded')
    if (change.restartRequired.length > 0) {
      this.#log.warn(
        { fields: change.restartRequired },
        'these settings changed but need a restart to take effect',
      )
    }
    if (change.applied.length > 0 || change.restartRequired.length > 0) {
      this.safeDispatchEvent('config:change', { detail: change })
    }
    return change
  }

  /** What the exchange offers peers follows every reading, pause and resume. */
  #onResources(status: ResourceStatus, pausedChanged: boolean): void {
    this.exchange.setAvailability({
      figures: this.resources.figures(),
      othersCpu: status.snapshot?.cpu.others ?? 0,
      paused: this.resources.pausedBecause,
      graceMs: this.#config.limits.pauseGraceMs,
    })
    if (pausedChanged) {
      this.safeDispatchEvent(status.paused ? 'resources:pause' : 'resources:resume', { detail: status })
    }
  }

  #refreshAddresses(): void {
    this.#addresses = Object.freeze(this.transport.getMultiaddrs().map((a) => a.toString()))
  }

  #refreshCapabilities(): void {
    const caps = this.engine.capabilities()
    this.#capabilities = Object.freeze({
      taskTypes: Object.freeze(caps.taskTypes.map((t) => t.name)),
      models: Object.freeze(caps.models.map((m) => m.name)),
      concurrency: caps.concurrency,
    })
    this.#capabilitiesAt = Date.now()
  }

  /** One log line for every task the engine finishes. */
  #logFinishedTasks(log: Logger): void {
    this.engine.addEventListener('task:finished', (evt: CustomEvent<TaskRecord>) => {
      const r = evt.detail
      const durationMs =
        r.finishedAt !== undefined && r.startedAt !== undefined ? r.finishedAt - r.startedAt : undefined
      // The id its requester knows it by (the engine's is `<requester>:<id>`), so one grep for a
      // task id finds its lines on every node it went through.
      log.info(
        {
          ...taskLogFields(r.meta?.taskId ?? r.id, r.meta?.traceId),
          requester: r.meta?.requester,
          type: r.type,
          status: r.status,
          durationMs,
          error: r.error?.code,
        },
        'task finished',
      )
    })
  }

  /** Raised and cleared alerts: a WARN line each (`alert`, `state`), and an event. */
  #onAlert(log: Logger, state: AlertState, change: AlertChange): void {
    log.warn(
      { alert: state.name, state: change, value: state.value, threshold: state.threshold, hint: state.hint },
      `ALERT ${change} ${state.name}: ${state.message}`,
    )
    this.safeDispatchEvent(change === 'raised' ? 'alert:raised' : 'alert:cleared', { detail: state })
  }

  #onHealthReport(report: HealthReport, previous: HealthReport | undefined): void {
    this.#refreshCapabilities()
    const before = new Map<string, ComponentHealth>(previous?.components.map((c) => [c.name, c]) ?? [])
    const changed = report.components.filter((c) => before.get(c.name)?.status !== c.status)
    if (previous !== undefined && changed.length === 0 && previous.status === report.status) return
    for (const c of changed) {
      // The first round reports every component as changed: only problems are worth an info line then.
      const healthy = previous === undefined ? 'debug' : 'info'
      const level = c.status === 'healthy' ? healthy : c.status === 'degraded' ? 'warn' : 'error'
      this.#log[level]({ check: c.name, status: c.status, detail: c.detail }, `${c.name} is ${c.status}`)
    }
    this.safeDispatchEvent('health:change', { detail: report })
  }
}

/** What `node.counters()` returns. */
export interface NodeCounters {
  /** One entry per protocol that carried anything. */
  readonly traffic: readonly ProtocolTraffic[]
  readonly signatures: SignatureCounts
}

function resourceSettings(c: NodeConfig): ResourceSettings {
  return { intervalMs: c.resources.intervalMs, limits: c.limits, concurrency: c.engine.concurrency }
}

function safeFreeBytes(store: ResultStore): number {
  try {
    return store.closed ? 0 : store.usage().freeBytes
  } catch {
    return 0
  }
}
