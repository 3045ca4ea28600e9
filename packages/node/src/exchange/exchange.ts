/**
 * The task exchange of a node: serves the task protocol, sends tasks to peers (or runs them
 * here), picks peers, fails over, keeps reputations and announces capabilities. `createNode`
 * builds one; it can also be built on any libp2p node with `taskExchange(components, init)`.
 */
import type { IdentifyResult, PeerId } from '@libp2p/interface'
import type { ResultStore, TaskEngine } from '@p2p-ai/engine'
import {
  ANNOUNCE_PROTOCOL,
  type Capabilities,
  InvalidOptionError,
  type JsonObject,
  newTaskId,
  type ReplayCache,
  replayCache,
  type Signer,
  TASK_PROTOCOL,
} from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import { AccessPolicy, type AccessPolicyInit } from './access-policy.js'
import { type AgreementRule, DEFAULT_AGREEMENT_RULES, exactAgreement } from './agreement.js'
import type { Choice, TaskContext } from './attempt.js'
import type { CapabilityAnnouncer } from './capabilities.js'
import { AccessDeniedError, ExchangeStoppedError } from './errors.js'
import { type NumericInit, settleInit, type TaskExchangeInit } from './exchange-init.js'
import { exchangeParts } from './exchange-parts.js'
import type { Forwarding } from './forwarding.js'
import type { PeerViews } from './peer-views.js'
import type { ProviderStats, TaskProvider } from './provider.js'
import { RedundantTask } from './redundancy.js'
import { type RegisteredTask, type TaskDefinition, taskBackend } from './register.js'
import { type PeerReputation, ReputationBook } from './reputation.js'
import type { TaskRequester } from './requester.js'
import { NetworkTask } from './task.js'
import { TaskRegistry } from './task-registry.js'
import type { NetworkTaskHandle, SubmitOptions, TaskList, TaskSubmission } from './types.js'
import { validateSubmission } from './validate.js'

/** What the exchange is built on. */
export interface TaskExchangeComponents {
  /** This node's PeerId (the signer's). */
  peerId: string
  /** Signs requests, results and announcements: the node's identity. */
  signer: Signer
  /** The libp2p node. */
  transport: Transport
  engine: TaskEngine
  log: Logger
  /** Heartbeat round-trip time of a peer, when the peer table knows it. */
  peerRtt?: (peer: string) => number | undefined
  /**
   * Where the final record of every task submitted here is written, so `tasks.get` and
   * `tasks.list` find it for the store's TTL, also after a restart. Its own store, not the
   * engine's (`createNode` opens `<dataDir>/store/submitted`); the exchange does not close it.
   * A failed write is logged and changes nothing else.
   *
   * @default none: submitted tasks are kept in memory only (`taskHistory`)
   */
  submittedStore?: ResultStore
}

/** A peer as the exchange sees it. */
export interface ExchangePeer {
  readonly peerId: string
  readonly connected: boolean
  readonly capabilities?: Capabilities
  /** Tasks of this node outstanding on the peer. */
  readonly outstanding: number
  readonly reputation: PeerReputation
}

/** Sends, serves, routes and fails over tasks. See `TaskExchangeComponents` and `TaskExchangeInit`. */
export class TaskExchange {
  readonly #c: TaskExchangeComponents
  readonly #init: NumericInit
  readonly #handleAnnounce: boolean
  readonly #replay: ReplayCache
  readonly #reputation = new ReputationBook()
  readonly #provider: TaskProvider
  readonly #requester: TaskRequester
  readonly #announcer: CapabilityAnnouncer
  readonly #views: PeerViews
  readonly #tasks: TaskRegistry
  readonly #stop = new AbortController()
  readonly #context: TaskContext
  readonly #detach: Array<() => void> = []
  readonly #policy: AccessPolicy
  readonly #forwarding: Forwarding
  /** Agreement rules set here (`setAgreementRule`, `registerTask`), by task type. */
  readonly #rules = new Map<string, AgreementRule>()
  /** Protocol minor each peer announced. */
  readonly #minors = new Map<string, number>()
  #localTypes: ReadonlySet<string> = new Set()
  #localTypesAt = Number.NEGATIVE_INFINITY
  #started = false

  constructor(components: TaskExchangeComponents, init: TaskExchangeInit = {}) {
    this.#c = components
    this.#init = settleInit(init)
    this.#policy = new AccessPolicy(components.peerId, init.access)
    this.#handleAnnounce = init.handleAnnounce ?? false
    this.#replay = replayCache()
    const parts = exchangeParts(components, init, this.#init, {
      replay: this.#replay,
      reputation: this.#reputation,
      policy: this.#policy,
      peerMinor: (peer) => this.#minors.get(peer),
      runsLocally: (type) => this.#runsLocally(type),
      started: () => this.#started,
    })
    this.#provider = parts.provider
    this.#requester = parts.requester
    this.#forwarding = parts.forwarding
    this.#announcer = parts.announcer
    this.#views = parts.views
    this.#tasks = new TaskRegistry(
      this.#init.taskHistory,
      components.submittedStore === undefined
        ? undefined
        : { store: components.submittedStore, log: components.log },
    )
    const stopSignal = this.#stop.signal
    this.#context = {
      get stopped() {
        return stopSignal.aborted
      },
      self: components.peerId,
      signer: components.signer,
      requester: this.#requester,
      engine: components.engine,
      reputation: this.#reputation,
      acceptTimeoutMs: this.#init.acceptTimeoutMs,
      maxFrameBytes: this.#init.maxFrameBytes,
      log: components.log,
      allows: (peer) => this.#policy.allows(peer),
      routeRefused: (peer, type) => this.#forwarding.routeRefused(peer, type),
      choose: (task, tried) => this.#choose(task, tried),
      finished: (task) => this.#tasks.finished(task),
    }
  }

  /** Registers the task protocol and starts announcing capabilities. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    const t = this.#c.transport
    await t.handle(TASK_PROTOCOL, this.#provider.handler, { runOnLimitedConnection: false })
    if (this.#handleAnnounce) {
      const { announceHandler } = await import('../announce.js')
      await t.handle(
        ANNOUNCE_PROTOCOL,
        announceHandler({
          replayCache: this.#replay,
          log: this.#c.log,
          onGoodbye: (connection) => this.onGoodbye(connection.remotePeer.toString()),
          onCapabilities: (connection, caps) => this.onCapabilities(connection.remotePeer.toString(), caps),
        }),
      )
    }
    const onConnect = (evt: CustomEvent<PeerId>): void => this.#views.connected(evt.detail)
    const onDisconnect = (evt: CustomEvent<PeerId>): void => {
      this.#views.disconnected(evt.detail.toString())
      this.#announcer.removePeer(evt.detail.toString())
    }
    const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
      if (evt.detail.protocols.includes(ANNOUNCE_PROTOCOL)) this.#announcer.addPeer(evt.detail.peerId)
    }
    t.addEventListener('peer:connect', onConnect)
    t.addEventListener('peer:disconnect', onDisconnect)
    t.addEventListener('peer:identify', onIdentify)
    this.#detach.push(() => {
      t.removeEventListener('peer:connect', onConnect)
      t.removeEventListener('peer:disconnect', onDisconnect)
      t.removeEventListener('peer:identify', onIdentify)
    })
    for (const connection of t.getConnections()) this.#views.connected(connection.remotePeer)
    // Peers identified before we listened: announce to every connected one that speaks the protocol.
    for (const connection of t.getConnections()) {
      const peer = await t.peerStore.get(connection.remotePeer).catch(() => undefined)
      if (peer?.protocols.includes(ANNOUNCE_PROTOCOL) === true) this.#announcer.addPeer(connection.remotePeer)
    }
    this.#requester.start()
    this.#announcer.start()
  }

  /**
   * Stops: new requests from peers are refused (`ERR_SHUTTING_DOWN`), tasks submitted here and not
   * finished fail with `ERR_EXCHANGE_STOPPED` (their providers are told to cancel), outbound
   * streams close. Tasks accepted from peers keep running until the engine stops; the protocol
   * handlers stay registered until the transport stops. Resolves once the final records of the
   * tasks finished so far are in `submittedStore`.
   */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return
    this.#provider.stopAccepting()
    this.#stop.abort(new ExchangeStoppedError('the exchange stopped'))
    for (const task of this.#tasks.active()) task.halt()
    this.#announcer.stop()
    this.#requester.stop(new ExchangeStoppedError('the exchange stopped'))
    for (const detach of this.#detach.splice(0)) detach()
    await this.#tasks.flush()
    // The task handler stays registered: a request arriving now gets a coded ERR_SHUTTING_DOWN
    // (and its requester moves on at once) rather than a failed protocol negotiation.
  }

  /**
   * Runs a task on this node or on a peer and returns its handle at once. Failures (no capable
   * peer, every attempt failed, a final task error) end up in the handle's record, never thrown;
   * only a malformed submission throws (`ERR_INVALID_TASK`, `ERR_INVALID_TARGET`).
   */
  submit<Output = unknown>(task: TaskSubmission, options: SubmitOptions = {}): NetworkTaskHandle<Output> {
    const spec = validateSubmission(task, options, {
      id: newTaskId,
      maxAttempts: this.#init.maxAttempts,
      waitForPeerMs: this.#init.waitForPeerMs,
      maxHops: this.#init.maxHops,
    })
    const { target } = spec
    if (target !== 'auto' && target !== 'local' && !this.#policy.allows(target)) {
      throw new AccessDeniedError(`target ${target} is not on this node's allowlist`)
    }
    // A generated id is fresh: only an id the caller chose can name an earlier run.
    const existing = this.#tasks.existing(spec.id, spec.type, task.id !== undefined)
    if (existing !== undefined) return existing as NetworkTaskHandle<Output>
    const settled = { ...spec, input: spec.input as JsonObject }
    const handle =
      spec.redundancy > 1
        ? new RedundantTask(settled, this.#context, this.#ruleFor(spec.type, options.agreement))
        : new NetworkTask(settled, this.#context)
    this.#tasks.add(handle)
    if (options.signal !== undefined) {
      const signal = options.signal
      const onAbort = (): void => {
        handle.cancel('aborted by the caller')
      }
      if (signal.aborted) onAbort()
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        void handle.result().then(() => signal.removeEventListener('abort', onAbort))
      }
    }
    void handle.run()
    return handle as NetworkTaskHandle<Output>
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
    this.#localTypesAt = Number.NEGATIVE_INFINITY
    this.#announcer.refresh()
    this.#views.refreshLocal()
    return {
      name: definition.name,
      unregister: async () => {
        await this.#c.engine.backends.unregister(backend.name)
        this.#localTypesAt = Number.NEGATIVE_INFINITY
        this.#announcer.refresh()
        this.#views.refreshLocal()
      },
    }
  }

  /** A peer announced its capabilities (called by the node's announce handler). */
  onCapabilities(peer: string, capabilities: Capabilities): void {
    this.#views.capabilities(peer, capabilities)
    this.#minors.set(peer, capabilities.protocolMinor)
    this.#announcer.peerAnnounced(peer)
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

  /** A peer said goodbye: no more tasks go to it. */
  onGoodbye(peer: string): void {
    this.#views.leaving(peer)
  }

  /** What this node announces. */
  capabilities(): Capabilities {
    return this.#announcer.current
  }

  /** A peer's reputation (neutral for a peer never used). */
  reputation(peer: string): PeerReputation {
    return this.#reputation.get(peer)
  }

  /**
   * Records whether a peer's result agreed with other providers' results for the same task
   * (verification by redundancy feeds this).
   */
  recordAgreement(peer: string, agreed: boolean): void {
    this.#reputation.recordAgreement(peer, agreed)
  }

  /** Peers known to the exchange, with capabilities, outstanding tasks and reputation. */
  peers(): ExchangePeer[] {
    return this.#views.list()
  }

  /** Counters of the serving side. */
  providerStats(): ProviderStats {
    return this.#provider.stats()
  }

  #choose(task: NetworkTask, tried: ReadonlySet<string>): Choice | undefined {
    return this.#views.choose(task.spec, tried)
  }

  #ruleFor(type: string, given: AgreementRule | undefined): AgreementRule {
    return given ?? this.#rules.get(type) ?? DEFAULT_AGREEMENT_RULES[type] ?? exactAgreement
  }

  /** Whether the engine runs `type`: read at most every 250 ms (forwards ask on every request). */
  #runsLocally(type: string): boolean {
    const now = performance.now()
    if (now - this.#localTypesAt > 250) {
      this.#localTypes = new Set(this.#c.engine.capabilities().taskTypes.map((t) => t.name))
      this.#localTypesAt = now
    }
    return this.#localTypes.has(type)
  }
}

/** Creates a task exchange on `components`; call `start()` before use. */
export function taskExchange(components: TaskExchangeComponents, init: TaskExchangeInit = {}): TaskExchange {
  return new TaskExchange(components, init)
}
