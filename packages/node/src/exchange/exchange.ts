/**
 * The task exchange of a node: serves the task protocol, sends tasks to peers (or runs them here),
 * routes, fails over, and announces this node's capabilities. It reads every fact about peers
 * from the peer directory it is given. `createNode` builds one; on a bare libp2p node, build a
 * directory (`peerDirectory` + `attachPeerDirectory`) and then `taskExchange(components, init)`.
 */
import type { ResultStore, TaskEngine } from '@p2p-ai/engine'
import {
  ANNOUNCE_PROTOCOL,
  type Capabilities,
  InvalidOptionError,
  newTaskId,
  type ResourceFigures,
  type Signer,
  TASK_PROTOCOL,
} from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import { TypedEventEmitter } from 'main-event'
import type { Logger } from 'pino'
import { CapabilityAnnouncer } from '../announce/announcer.js'
import type { ContentService } from '../content/types.js'
import { CapabilityAdvertiser } from '../discovery/advertiser.js'
import { ProviderFinder } from '../discovery/finder.js'
import { taskLogFields } from '../logger.js'
import type { PeerDirectory, PeerDirectoryEvents } from '../peers/directory.js'
import type { TaskTracer } from '../tracing/task-tracer.js'
import type { TrafficCounters } from '../traffic.js'
import { MAX_RESUMES } from './constants.js'
import { AccessDeniedError, ExchangeStoppedError, NodePausedError, type TaskRecordError } from './errors.js'
import type { ExchangeReports, TaskExchangeEvents } from './events.js'
import {
  type NumericInit,
  type ServingLimitsInit,
  settleInit,
  settleServingLimits,
  type TaskExchangeInit,
} from './init.js'
import { AttemptLauncher } from './request/launcher.js'
import { RedundantTask } from './request/redundancy.js'
import { TaskRegistry, type TrackedTask } from './request/registry.js'
import { TaskRequester } from './request/requester.js'
import { type SubmissionDefaults, type TaskSpec, validateSubmission } from './request/submission.js'
import { NetworkTask } from './request/task.js'
import { Router, type RouteSpec } from './route/router.js'
import { Admission } from './serve/admission.js'
import { type RegisteredTask, type TaskDefinition, taskBackend } from './serve/custom-tasks.js'
import { type ProviderStats, TaskProvider } from './serve/provider.js'
import { AccessPolicy, type AccessPolicyInit } from './trust/access-policy.js'
import { type AgreementRule, DEFAULT_AGREEMENT_RULES, exactAgreement } from './trust/agreement.js'
import { type EnvelopeChecks, envelopeChecks } from './trust/checks.js'
import type { NetworkTaskHandle, SubmitOptions, TaskList, TaskSubmission } from './types.js'

/** What the exchange is built on. */
export interface TaskExchangeComponents {
  /** This node's PeerId (the signer's). */
  peerId: string
  /** Signs requests, results and announcements: the node's identity. */
  signer: Signer
  /** The libp2p node. */
  transport: Transport
  engine: TaskEngine
  /** Every fact about peers: connections, capabilities, liveness, reputation. */
  peers: PeerDirectory
  log: Logger
  /**
   * How envelopes are verified: the node's replay cache and batch cache, shared with the announce
   * protocol.
   *
   * @default built from `init.crypto`
   */
  checks?: EnvelopeChecks
  /**
   * Where the final record of every task submitted here is written, so `tasks.get` and
   * `tasks.list` find it for the store's TTL, also after a restart. Its own store, not the
   * engine's (`createNode` opens `<dataDir>/store/submitted`); the exchange does not close it.
   * A failed write is logged and changes nothing else.
   *
   * @default none: submitted tasks are kept in memory only (`taskHistory`)
   */
  submittedStore?: ResultStore
  /**
   * Records a span for each task, attempt, relay and run, and carries the trace context to peers
   * that speak protocol minor 3 (docs/protocol.md §2.7).
   *
   * @default none: nothing is traced
   */
  tracer?: TaskTracer
  /**
   * Where messages and bytes of the task and announce protocols are counted (`node.counters()`).
   *
   * @default none: nothing is counted
   */
  traffic?: TrafficCounters
  /**
   * Content by CID (a content plug-in): large inputs and outputs travel through it
   * (docs/protocol.md §2.9), and it fetches models for `autoFetchModels`.
   *
   * @default none: everything travels inline; a task too large for a frame runs here only
   */
  content?: ContentService
}

/** Per-call options of `stop`. */
export interface ExchangeStopOptions {
  /**
   * How long tasks submitted here that are still running may take to finish before they fail
   * with `ERR_EXCHANGE_STOPPED`. New submissions fail at once either way.
   *
   * @default 0
   */
  drainMs?: number
}

/** What this node offers its peers right now (from its resource monitoring and its owner's limits). */
export interface Availability {
  /** Announced to peers of minor 4 or later as `capabilities.resources`. */
  readonly figures: ResourceFigures | undefined
  /** Share of this machine (0 to 1) its owner's other processes use: routing this node's own tasks. */
  readonly othersCpu: number
  /** Why this node takes no tasks from peers now, in words; undefined while it does. */
  readonly paused: string | undefined
  /** After pausing, peers' tasks still running this long are handed back. */
  readonly graceMs: number
}

/**
 * Sends, serves, routes and fails over tasks. See `TaskExchangeComponents` and `TaskExchangeInit`.
 * Its events (`task:done`, `task:attempt`, `task:retry`, `task:refused`) are for observers such as
 * metrics and the dashboard.
 */
export class TaskExchange extends TypedEventEmitter<TaskExchangeEvents> {
  readonly #c: TaskExchangeComponents
  readonly #init: NumericInit
  readonly #policy: AccessPolicy
  readonly #router: Router
  readonly #launcher: AttemptLauncher
  readonly #requester: TaskRequester
  readonly #provider: TaskProvider
  readonly #admission: Admission
  readonly #announcer: CapabilityAnnouncer
  /** Present when the transport runs a DHT: capability discovery beyond the connected peers. */
  readonly #advertiser: CapabilityAdvertiser | undefined
  readonly #finder: ProviderFinder | undefined
  readonly #tasks: TaskRegistry
  /** Agreement rules set here (`setAgreementRule`, `registerTask`), by task type. */
  readonly #rules = new Map<string, AgreementRule>()
  readonly #detach: Array<() => void> = []
  #autoFetchModels: boolean
  #started = false
  #stopped = false
  #figures: ResourceFigures | undefined
  /** Hands back peers' tasks still running when the pause's grace period ends. */
  #graceTimer: NodeJS.Timeout | undefined
  /** Reports from the parts, dispatched as events while anyone listens. */
  readonly #reports: ExchangeReports = {
    attempt: (detail) => {
      if (this.listenerCount('task:attempt') > 0) this.safeDispatchEvent('task:attempt', { detail })
    },
    retry: (detail) => {
      if (this.listenerCount('task:retry') > 0) this.safeDispatchEvent('task:retry', { detail })
    },
    refused: (detail) => {
      if (this.listenerCount('task:refused') > 0) this.safeDispatchEvent('task:refused', { detail })
    },
  }

  constructor(components: TaskExchangeComponents, init: TaskExchangeInit = {}) {
    super()
    this.#c = components
    this.#init = settleInit(init)
    const { peerId: self, signer, transport, engine, peers: directory, log } = components
    const checks =
      components.checks ?? envelopeChecks(init.crypto === undefined ? {} : { crypto: init.crypto })
    this.#policy = new AccessPolicy(self, init.access)
    this.#autoFetchModels = init.autoFetchModels === true
    const { content } = components
    this.#router = new Router({
      self,
      directory,
      engine,
      policy: this.#policy,
      maxHops: this.#init.maxHops,
      relay: init.relay ?? true,
      fetchableModel: (spec) => this.#fetchableModel(spec),
      relayedMaxBytes: this.#init.relayedMaxBytes,
    })
    this.#requester = new TaskRequester({
      transport,
      directory,
      signer,
      checks,
      log,
      maxFrameBytes: this.#init.maxFrameBytes,
      streamIdleMs: this.#init.streamIdleMs,
      livenessIdleMs: this.#init.livenessIdleMs,
      livenessTimeoutMs: this.#init.livenessTimeoutMs,
      ...(components.traffic === undefined ? {} : { traffic: components.traffic.of(TASK_PROTOCOL) }),
    })
    this.#launcher = new AttemptLauncher({
      self,
      signer,
      engine,
      requester: this.#requester,
      directory,
      policy: this.#policy,
      acceptTimeoutMs: this.#init.acceptTimeoutMs,
      maxFrameBytes: this.#init.maxFrameBytes,
      tracer: components.tracer,
      ...(content === undefined
        ? {}
        : { content, prepareLocal: (type, input) => this.#prepareLocal(content, type, input) }),
    })
    this.#admission = new Admission({
      limits: settleServingLimits(init.serving ?? {}, this.#init.maxTasksPerPeer, this.#init.maxFrameBytes),
      isExempt: (peer) => directory.book.isExempt(peer),
      isBanned: (peer) => directory.book.isBanned(peer),
      offence: (peer, offence) => directory.book.recordOffence(peer, offence),
      rttOf: (peer) => directory.record(peer)?.rttMs,
    })
    this.#provider = new TaskProvider({
      self,
      engine,
      signer,
      checks,
      directory,
      log,
      maxFrameBytes: this.#init.maxFrameBytes,
      admission: this.#admission,
      persist: init.storeServedTasks === true ? 'background' : 'memory',
      router: this.#router,
      launcher: this.#launcher,
      admit: (sender, requester) => this.#policy.admit(sender, requester),
      tracer: components.tracer,
      reports: this.#reports,
      ...(content === undefined ? {} : { content }),
      ...(components.traffic === undefined ? {} : { traffic: components.traffic.of(TASK_PROTOCOL) }),
    })
    this.#announcer = new CapabilityAnnouncer({
      transport,
      signer,
      engine,
      log,
      minIntervalMs: this.#init.announceIntervalMs,
      ...(init.agentVersion === undefined ? {} : { agentVersion: init.agentVersion }),
      // Nothing is reachable before start (no neighbours yet).
      reach: () => (this.#started ? this.#router.reach() : []),
      peerMinor: (peer) => directory.record(peer)?.protocolMinor,
      resources: () => this.#figures,
      ...(components.traffic === undefined ? {} : { traffic: components.traffic.of(ANNOUNCE_PROTOCOL) }),
      ...(content === undefined ? {} : { content }),
    })
    if (transport.services.dht !== undefined) {
      this.#advertiser = new CapabilityAdvertiser({
        transport,
        capabilities: () => this.#announcer.current,
        log,
      })
      this.#finder = new ProviderFinder({ transport, allows: (peer) => this.#policy.allows(peer), log })
    }
    this.#tasks = new TaskRegistry(
      this.#init.taskHistory,
      components.submittedStore === undefined ? undefined : { store: components.submittedStore, log },
      (task) => this.#finished(task),
    )
  }

  /** Registers the task protocol and starts announcing capabilities to every peer that speaks the announce protocol. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    const { transport, peers } = this.#c
    // Tasks run over relayed connections too: the router sends only small ones there (see
    // `relayedMaxBytes`), and moves to the direct connection once there is one.
    await transport.handle(TASK_PROTOCOL, this.#provider.handler, { runOnLimitedConnection: true })
    const onCapabilities = (evt: PeerDirectoryEvents['peer:capabilities']): void =>
      this.#announcer.peerAnnounced(evt.detail.peerId)
    const onRemove = (evt: PeerDirectoryEvents['peer:remove']): void =>
      this.#announcer.removePeer(evt.detail.peerId)
    const onFailed = (evt: PeerDirectoryEvents['peer:failed']): void =>
      this.#announcer.removePeer(evt.detail.peer.peerId)
    const onUpdate = (evt: PeerDirectoryEvents['peer:update']): void => {
      const peer = peers.record(evt.detail.peerId)
      if (peer !== undefined && evt.detail.protocols.includes(ANNOUNCE_PROTOCOL))
        this.#announcer.addPeer(peer.id)
      // Hole punching (or a dial-back) replaced a relayed connection: new tasks take the direct one.
      if (evt.detail.connection?.kind === 'direct') this.#requester.preferDirect(evt.detail.peerId)
    }
    peers.addEventListener('peer:capabilities', onCapabilities)
    peers.addEventListener('peer:remove', onRemove)
    peers.addEventListener('peer:failed', onFailed)
    peers.addEventListener('peer:update', onUpdate)
    this.#detach.push(() => {
      peers.removeEventListener('peer:capabilities', onCapabilities)
      peers.removeEventListener('peer:remove', onRemove)
      peers.removeEventListener('peer:failed', onFailed)
      peers.removeEventListener('peer:update', onUpdate)
    })
    // Peers identified before we listened.
    for (const peer of peers.list()) {
      const record = peers.record(peer.peerId)
      if (record !== undefined && peer.protocols.includes(ANNOUNCE_PROTOCOL))
        this.#announcer.addPeer(record.id)
    }
    this.#requester.start()
    this.#announcer.start()
    this.#resumeInterrupted()
    this.#advertiser?.start()
  }

  /**
   * Stops: new requests from peers are refused (`ERR_SHUTTING_DOWN`) and new submissions fail
   * with `ERR_EXCHANGE_STOPPED`. Tasks submitted here that are still running get `drainMs` to
   * finish, then fail with `ERR_EXCHANGE_STOPPED` (their providers are told to cancel); outbound
   * streams close. Tasks accepted from peers keep running until the engine stops; the protocol
   * handlers stay registered until the transport stops, so a request arriving meanwhile gets a
   * coded `ERR_SHUTTING_DOWN` rather than a failed protocol negotiation. Resolves once the final
   * records of the tasks finished so far are in `submittedStore`, with how many were cut short.
   */
  async stop(options: ExchangeStopOptions = {}): Promise<{ readonly tasksCancelled: number }> {
    if (this.#stopped) return { tasksCancelled: 0 }
    this.#stopped = true
    clearTimeout(this.#graceTimer)
    this.#provider.stopAccepting()
    this.#announcer.stop()
    this.#advertiser?.stop()
    const drainMs = options.drainMs ?? 0
    if (drainMs > 0 && this.#tasks.pending > 0) await this.#tasks.settled(drainMs)
    const unfinished = this.#tasks.active()
    for (const task of unfinished) task.halt()
    // Their final records (ERR_EXCHANGE_STOPPED) go to the store with the rest.
    await Promise.all(unfinished.map((task) => task.result()))
    this.#requester.stop(new ExchangeStoppedError('the exchange stopped'))
    for (const detach of this.#detach.splice(0)) detach()
    await this.#tasks.flush()
    return { tasksCancelled: unfinished.length }
  }

  /**
   * Runs a task on this node or on a peer and returns its handle at once. Failures (no capable
   * peer, every attempt failed, a final task error) end up in the handle's record, never thrown;
   * only a malformed submission throws (`ERR_INVALID_TASK`, `ERR_INVALID_TARGET`).
   */
  submit<Output = unknown>(task: TaskSubmission, options: SubmitOptions = {}): NetworkTaskHandle<Output> {
    const spec = validateSubmission(task, options, this.#defaults())
    const { target } = spec
    if (target !== 'auto' && target !== 'local' && !this.#policy.allows(target)) {
      throw new AccessDeniedError(`target ${target} is not on this node's allowlist`)
    }
    const listed = options.listed !== false
    // A generated id is fresh: only an id the caller chose can name an earlier run.
    const existing = listed ? this.#tasks.existing(spec.id, spec.type, task.id !== undefined) : undefined
    if (existing !== undefined) return existing as NetworkTaskHandle<Output>
    return this.#launch(spec, options.agreement, {
      signal: options.signal,
      listed,
    }) as NetworkTaskHandle<Output>
  }

  #defaults(): SubmissionDefaults {
    return {
      id: newTaskId,
      maxAttempts: this.#init.maxAttempts,
      waitForPeerMs: this.#init.waitForPeerMs,
      maxHops: this.#init.maxHops,
    }
  }

  /**
   * Registers a validated task and starts it. `sync`: its acceptance is on disk before it runs;
   * `signal`: aborting cancels it; `listed: false`: kept only while it runs (see `SubmitOptions`).
   */
  #launch(
    spec: TaskSpec,
    agreement: AgreementRule | undefined,
    options: { sync?: boolean; signal?: AbortSignal | undefined; listed?: boolean } = {},
  ): TrackedTask {
    const { peerId: self, peers, log, tracer } = this.#c
    const handle =
      spec.redundancy > 1
        ? new RedundantTask(spec, this.#ruleFor(spec.type, agreement), {
            self,
            chooser: this.#router,
            launcher: this.#launcher,
            book: peers.book,
            log,
            reports: this.#reports,
            tracer,
          })
        : new NetworkTask(
            spec,
            this.#router,
            this.#launcher,
            log,
            this.#reports,
            this.#finder,
            tracer === undefined ? undefined : { tracer },
          )
    this.#tasks.add(handle, { sync: options.sync === true, listed: options.listed !== false })
    const signal = options.signal
    if (signal !== undefined) {
      const onAbort = (): void => {
        handle.cancel('aborted by the caller')
      }
      if (signal.aborted) onAbort()
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        void handle.result().then(() => signal.removeEventListener('abort', onAbort))
      }
    }
    if (this.#stopped) handle.halt()
    else void handle.run()
    return handle
  }

  /**
   * Runs again the tasks a crash (or kill) of this node interrupted: their acceptance is stored,
   * their end is not. Each keeps its id and submission, and a provider that still knows the id
   * answers from the run it has (docs/delivery.md). A task interrupted `MAX_RESUMES` times is
   * failed instead, in case it is what brings the node down; so is one whose stored submission no
   * longer passes (a target now off the allowlist).
   */
  #resumeInterrupted(): void {
    const interrupted = this.#tasks.interrupted()
    if (interrupted.length === 0) return
    let resumed = 0
    for (const t of interrupted) {
      let spec: TaskSpec | undefined
      let why: TaskRecordError | undefined
      if (t.resumed >= MAX_RESUMES) {
        why = {
          code: 'ERR_EXCHANGE_STOPPED',
          message: `the node stopped without finishing this task ${t.resumed + 1} times; it is not resumed again`,
        }
      } else if (t.submission === undefined) {
        why = {
          code: 'ERR_EXCHANGE_STOPPED',
          message: 'the node stopped before the task finished, and its stored submission does not parse',
        }
      } else {
        try {
          spec = validateSubmission(t.submission.task, t.submission.options, this.#defaults())
          if (spec.target !== 'auto' && spec.target !== 'local' && !this.#policy.allows(spec.target)) {
            why = {
              code: 'ERR_ACCESS_DENIED',
              message: `target ${spec.target} is no longer on this node's allowlist`,
            }
            spec = undefined
          }
        } catch (err) {
          why = {
            code: 'ERR_EXCHANGE_STOPPED',
            message: `the node stopped before the task finished, and it cannot run again: ${(err as Error).message}`,
          }
        }
      }
      if (spec === undefined) {
        const finishedAt = Date.now()
        this.#tasks.putFinal({
          id: t.id,
          type: t.type,
          status: 'FAILED',
          priority: t.priority,
          timeoutMs: t.timeoutMs,
          target: t.target,
          submittedAt: t.submittedAt,
          finishedAt,
          attempts: [],
          error: why as TaskRecordError,
          resumed: t.resumed,
        })
        continue
      }
      this.#launch({ ...spec, resumed: { count: t.resumed + 1, submittedAt: t.submittedAt } }, undefined, {
        sync: true,
      })
      resumed++
    }
    this.#c.log.info(
      { resumed, failed: interrupted.length - resumed },
      'found tasks a crash of this node interrupted: resumed them',
    )
  }

  /**
   * How many more tasks of `type` (naming `model`, if given) could go out now with at most `depth`
   * queued beyond each provider's concurrency, as the router sees the peers (and this node, unless
   * `allowLocal` is false); `reachable`: some route exists at all. What `node.jobs` fans out by.
   */
  capacity(
    task: { readonly type: string; readonly model?: string; readonly allowLocal?: boolean },
    depth: number,
  ): { readonly free: number; readonly reachable: boolean } {
    return this.#router.capacity(
      {
        type: task.type,
        input: task.model === undefined ? {} : { model: task.model },
        target: 'auto',
        allowLocal: task.allowLocal ?? true,
        modelSha256: undefined,
        maxHops: this.#init.maxHops,
      },
      depth,
    )
  }

  /** The tasks submitted here: `get`, `handle`, `list`. */
  get tasks(): TaskList {
    return this.#tasks
  }

  /** Registers a task type of your own; peers learn about it with the next announcement. */
  registerTask<Input, Output>(definition: TaskDefinition<Input, Output>): RegisteredTask {
    const backend = taskBackend(definition)
    this.#c.engine.backends.register(backend, { placement: 'main' })
    if (definition.agreement !== undefined) this.#rules.set(definition.name, definition.agreement)
    this.#router.localChanged()
    this.#announcer.refresh()
    return {
      name: definition.name,
      unregister: async () => {
        await this.#c.engine.backends.unregister(backend.name)
        this.#router.localChanged()
        this.#announcer.refresh()
      },
    }
  }

  /**
   * Sets how outputs of a task type are compared for verification by redundancy (`redundancy: k`),
   * or with `undefined` goes back to the built-in rule (cosine for `embed`, edit distance for
   * `ocr`, exact equality otherwise).
   */
  setAgreementRule(type: string, rule: AgreementRule | undefined): void {
    if (rule === undefined) this.#rules.delete(type)
    else if (typeof rule !== 'function') throw new InvalidOptionError('an agreement rule must be a function')
    else this.#rules.set(type, rule)
  }

  /** Whether the access policy in force admits `peer` (always, in `open` mode). */
  allows(peer: string): boolean {
    return this.#policy.allows(peer)
  }

  /** The access policy in force. */
  get access(): { readonly mode: AccessPolicy['mode']; readonly allowlist: readonly string[] } {
    return { mode: this.#policy.mode, allowlist: this.#policy.allowlist }
  }

  /**
   * Replaces the access policy at once: requests already accepted run on; new ones, and the
   * choice of providers, follow the new policy. Throws `ERR_INVALID_OPTION` (nothing changed) for
   * a malformed one.
   */
  setAccessPolicy(init: AccessPolicyInit): void {
    this.#policy.set(init)
  }

  /**
   * With a content plug-in: whether a task this node runs that names a model it lacks fetches it
   * first from a peer that announces it (`models.autoFetch`). Changeable at run time.
   */
  setAutoFetchModels(on: boolean): void {
    this.#autoFetchModels = on
  }

  /**
   * Replaces the per-peer limits of serving (a config reload): `serving` as in the init, and the
   * open tasks per requester. Validates first: bad limits change nothing (`ERR_INVALID_OPTION`).
   */
  setServingLimits(serving: ServingLimitsInit, maxTasksPerPeer = this.#admission.limits.maxOpenTasks): void {
    this.#admission.configure(settleServingLimits(serving, maxTasksPerPeer, this.#init.maxFrameBytes))
  }

  /**
   * What this node offers its peers now. Paused, it refuses new tasks from peers (`ERR_BUSY`,
   * saying why), hands back the ones it has queued at once and those still running after
   * `graceMs` (`ERR_BUSY` again: their requesters try another peer), still relays forwarded tasks,
   * and runs its own tasks itself only when no peer can; its peers hear of the pause (and of the
   * resume) at once.
   */
  setAvailability(availability: Availability): void {
    const { paused } = availability
    const wasPaused = this.#provider.paused !== undefined
    this.#figures = availability.figures
    this.#router.setLocal({ paused: paused !== undefined, othersCpu: availability.othersCpu })
    if (paused !== undefined) {
      this.#provider.pause(paused)
      if (!wasPaused) {
        const reason = (): Error => new NodePausedError(`handed back: this node paused (${paused})`)
        const handed = this.#provider.handBack('queued', reason)
        if (handed > 0) this.#c.log.info({ tasks: handed }, 'paused: handed back queued tasks')
        this.#graceTimer = setTimeout(() => {
          const late = this.#provider.handBack('all', reason)
          if (late > 0) this.#c.log.info({ tasks: late }, 'paused: handed back tasks still running')
        }, availability.graceMs)
        this.#graceTimer.unref()
      }
    } else if (wasPaused) {
      clearTimeout(this.#graceTimer)
      this.#provider.resume()
    }
    if (this.#started && !this.#stopped)
      this.#announcer.refresh({ urgent: wasPaused !== (paused !== undefined) })
  }

  /** What this node announces. */
  capabilities(): Capabilities {
    return this.#announcer.current
  }

  /** What this node announces changed (a model's CID became known): announce it now. */
  refreshCapabilities(): void {
    this.#router.localChanged()
    this.#announcer.refresh()
  }

  /** The model the task names, when this node could fetch it (autoFetch) and nobody else runs it. */
  #fetchableModel(spec: RouteSpec): boolean {
    const name = spec.input.model
    if (!this.#autoFetchModels || this.#c.content?.ensureModel === undefined || typeof name !== 'string') {
      return false
    }
    // Only what a peer announces can be fetched, and only a model name and hash can be checked.
    if (spec.model !== undefined) return false
    for (const record of this.#c.peers.connected()) {
      const announced = record.capabilities?.models.some(
        (m) =>
          m.id === name &&
          m.cid !== undefined &&
          (spec.modelSha256 === undefined || m.sha256 === spec.modelSha256),
      )
      if (announced === true) return true
    }
    return false
  }

  /** Before a local run: fetches the model it names if this node lacks it and `autoFetchModels` is on. */
  async #prepareLocal(
    content: ContentService,
    type: string,
    input: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    const name = input.model
    if (!this.#autoFetchModels || content.ensureModel === undefined || typeof name !== 'string') return
    const served = this.#c.engine
      .capabilities()
      .models.some((m) => m.name === name && m.taskTypes.includes(type))
    if (served) return
    if (await content.ensureModel(name)) this.refreshCapabilities()
  }

  /**
   * Capability discovery on the DHT (present when the transport runs one): the keys this node
   * advertises, and how many lookups it made for tasks that had no route.
   */
  discovery(): { readonly advertised: readonly string[]; readonly lookups: number } | undefined {
    if (this.#advertiser === undefined || this.#finder === undefined) return undefined
    return { advertised: this.#advertiser.provided, lookups: this.#finder.lookups }
  }

  /** Counters of the serving side. */
  providerStats(): ProviderStats {
    return this.#provider.stats()
  }

  /**
   * A task submitted here is final: a log line (INFO when it failed, DEBUG otherwise) and the
   * `task:done` event. The record is only snapshotted when one of them needs it.
   */
  #finished(task: TrackedTask): void {
    const { log } = this.#c
    const failed = task.status === 'FAILED' || task.status === 'TIMEOUT'
    const listened = this.listenerCount('task:done') > 0
    if (!failed && !listened && !log.isLevelEnabled('debug')) return
    const record = task.record()
    if (failed || log.isLevelEnabled('debug')) {
      const fields = {
        ...taskLogFields(record.id, record.traceId),
        type: record.type,
        status: record.status,
        peer: record.peer,
        attempts: record.attempts.length + (record.status === 'COMPLETED' ? 1 : 0),
        code: record.error?.code,
      }
      if (failed) log.info(fields, 'task failed')
      else log.debug(fields, 'task done')
    }
    if (!listened) return
    const networkMs = task instanceof NetworkTask ? task.networkMs : undefined
    this.safeDispatchEvent('task:done', {
      detail: { record, ...(networkMs === undefined ? {} : { networkMs }) },
    })
  }

  #ruleFor(type: string, given: AgreementRule | undefined): AgreementRule {
    return given ?? this.#rules.get(type) ?? DEFAULT_AGREEMENT_RULES[type] ?? exactAgreement
  }
}

/** Creates a task exchange on `components`; call `start()` before use. */
export function taskExchange(components: TaskExchangeComponents, init: TaskExchangeInit = {}): TaskExchange {
  return new TaskExchange(components, init)
}
