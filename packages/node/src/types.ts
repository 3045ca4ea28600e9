import type { ResultStore, TaskEngine } from '@p2p-ai/engine'
import type { Transport } from '@p2p-ai/transport'
import type { AlertState } from './alerts/monitor.js'
import type { ConfigChange } from './config/reconfigure.js'
import type { NodeConfig } from './config/types.js'
import type { WatchConfigInit } from './config/watch.js'
import type { ContentFactory } from './content/types.js'
import type { TaskExchangeInit } from './exchange/index.js'
import type { HealthReport } from './health/monitor.js'
import type { JobStore } from './jobs/store.js'
import type { StateChange } from './lifecycle.js'
import type { ComponentLoggers } from './logger.js'
import type { PeerFailure, PeerRemoval } from './peers/directory.js'
import type { ReputationBook } from './peers/reputation.js'
import type { PeerInfo } from './peers/types.js'
import type { ResourceStatus, Sampler } from './resources/types.js'
import type { NodeTracing } from './tracing/types.js'

/** What the node needs of its identity; an `Identity` of `@p2p-ai/identity` is one. */
export interface NodeIdentity {
  readonly peerId: string
  sign(data: Uint8Array): Uint8Array
  verify(data: Uint8Array, signature: Uint8Array): boolean
  privateKeyProtobuf(): Uint8Array
}

/** The node's events; each `detail` is a snapshot. */
export interface NodeEvents {
  /** Every lifecycle transition. */
  'state:change': CustomEvent<StateChange>
  /** A peer connected (first connection, or back after a failure). */
  'peer:connect': CustomEvent<PeerInfo>
  /** identify finished or capabilities changed. */
  'peer:update': CustomEvent<PeerInfo>
  'peer:failed': CustomEvent<PeerFailure>
  'peer:remove': CustomEvent<PeerRemoval>
  /** A health round changed some component's status (or the overall status). */
  'health:change': CustomEvent<HealthReport>
  /** A reconfiguration (by `reconfigure()` or a watched config file) took effect. */
  'config:change': CustomEvent<ConfigChange>
  /** A watched config file changed but does not load; the previous configuration stays in force. */
  'config:error': CustomEvent<Error>
  /** The node paused: it takes no tasks from peers now (`limits.idleOnly`, `limits.windows`, on battery). */
  'resources:pause': CustomEvent<ResourceStatus>
  /** The node takes tasks from peers again. */
  'resources:resume': CustomEvent<ResourceStatus>
  /** An alert's condition held for `alerts.forMs`: it is raised (see `node.alerts()`). */
  'alert:raised': CustomEvent<AlertState>
  /** A raised alert's condition cleared, past its hysteresis band, for `alerts.forMs`. */
  'alert:cleared': CustomEvent<AlertState>
}

/** Per-call options of `stop`. */
export interface StopOptions {
  /** Overrides `shutdown.deadlineMs` for this stop. */
  deadlineMs?: number
  /** Aborting skips the wait for running tasks: they are cancelled at once. */
  signal?: AbortSignal
}

/** Per-call options of `start` and `connect`. */
export interface StartOptions {
  signal?: AbortSignal
}

/** Options for watching the config file while the node runs. */
export type NodeWatchInit = Omit<WatchConfigInit, 'onChange' | 'onError'>

/** Task exchange options of a node (the node names its agent itself). */
export type NodeExchangeInit = Omit<TaskExchangeInit, 'agentVersion'>

/** Everything a `P2PNode` is built from; `createNode` assembles it. */
export interface NodeParts {
  config: NodeConfig
  loggers: ComponentLoggers
  identity: NodeIdentity
  transport: Transport
  engine: TaskEngine
  /** The result store of the tasks this node submits to the network; closed on stop. */
  submittedStore?: ResultStore
  /** Where `node.jobs` keeps its jobs; closed on stop. */
  jobStore: JobStore
  agentVersion?: string
  watch?: NodeWatchInit
  /** The engine's `cancelGraceMs`, if not its default. */
  cancelGraceMs?: number
  /** Task exchange options. */
  exchange?: NodeExchangeInit
  /** Where the node's spans go; shut down when the node stops. */
  tracing?: NodeTracing
  /** Builds the content plug-in on the node's parts. */
  content?: ContentFactory
  /** The reputation book the transport's connection gater reads bans from. @default a new one */
  reputation?: ReputationBook
  /** Reads the machine (a fake in tests). @default the real machine */
  resourceSampler?: Sampler
}
