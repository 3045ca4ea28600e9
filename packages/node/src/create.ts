import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type Backend,
  type ResultStore,
  resultStore,
  type TaskEngine,
  type TaskEngineInit,
  taskEngine,
} from '@p2p-ai/engine'
import { loadOrCreateIdentity } from '@p2p-ai/identity'
import { createTransport, type Transport, type TransportInit } from '@p2p-ai/transport'
import { resolveNodeConfig } from './config/load.js'
import type { NodeConfigInput } from './config/types.js'
import { STORE_DIR_NAME, SUBMITTED_STORE_DIR_NAME } from './constants.js'
import type { ContentFactory } from './content/types.js'
import { pskFromConfig } from './create-psk.js'
import { DataDirError } from './errors.js'
import { JOB_STORE_DIR_NAME } from './jobs/constants.js'
import { JobStore } from './jobs/store.js'
import { ComponentLoggers, createLogger, type Logger, silentLogger } from './logger.js'
import { DEFAULT_AGENT_VERSION } from './metadata.js'
import { P2PNode } from './node.js'
import { ReputationBook } from './peers/reputation.js'
import type { Sampler } from './resources/types.js'
import { loadTracing } from './tracing/load.js'
import type { NodeTracing, TracingFactory } from './tracing/types.js'
import type { NodeExchangeInit, NodeWatchInit } from './types.js'

const RELAY_SERVER_MODES = { auto: 'auto', on: true, off: false } as const

/**
 * Construction options of `createNode`: the configuration (the same shape as the YAML file and
 * `loadConfig()`'s result, every field optional) plus what only code can give.
 */
export interface NodeInit extends NodeConfigInput {
  /**
   * A pino logger to log through (the node adds `peerId` and `component` bindings). Without one,
   * the node logs to stderr as `log` says when `log` is given (as it is in `loadConfig()`'s
   * result, which is what the CLI passes), and not at all otherwise: a library stays quiet
   * unless asked.
   *
   * @default silent, or a stderr logger when `log` is set
   */
  logger?: Logger
  /**
   * Start the node before returning it (like `createLibp2p`). Pass `false` to register protocols
   * or health checks first, then call `start()`.
   *
   * @default true
   */
  start?: boolean
  /** Inference backends to register besides the built-in ones. @default [] */
  backends?: readonly Backend[]
  /** Further engine options (`workers`, `builtins`, `maxTimeoutMs`, `cancelGraceMs`...). */
  engineOptions?: Omit<TaskEngineInit, 'concurrency' | 'maxQueueLength' | 'timeoutMs' | 'store' | 'backends'>
  /** What identify tells peers. @default `p2p-ai/<version>` */
  agentVersion?: string
  /**
   * Private network: only nodes with this pre-shared key can connect (see `generatePsk()`).
   * Overrides `network.psk` and `network.pskFile`.
   */
  psk?: Uint8Array
  /** Watch this config file while running and apply changes (see `NodeWatchInit`). */
  watch?: NodeWatchInit
  /** Task exchange: retries, timeouts, limits (see `TaskExchangeInit` and docs/delivery.md). */
  exchange?: NodeExchangeInit
  /**
   * Where the node's spans go: `tracing()` of `@p2p-ai/tracing` with options of your own, any
   * factory of a `NodeTracing`, or `false` for none. Given here, it is used whatever
   * `tracing.enabled` says.
   *
   * @default `@p2p-ai/tracing` configured by the `tracing.*` settings, when `tracing.enabled` and
   * the package is installed; none otherwise
   */
  tracer?: TracingFactory | false
  /**
   * Reads the machine for resource monitoring and the owner's limits: a fake in tests, so that a
   * test can say "the owner is using the machine" without burning CPU.
   *
   * @default the real machine (`/proc`, `os.cpus()`, the battery where the OS tells)
   */
  resourceSampler?: Sampler
  /**
   * libp2p's metrics implementation, handed to the transport so that libp2p records its own
   * (connections, streams, bytes by protocol): `nodeMetrics().libp2p` of `@p2p-ai/metrics`, which
   * puts them in the same Prometheus registry as the node's.
   *
   * @default none: libp2p records nothing
   */
  libp2pMetrics?: TransportInit['metrics']
  /**
   * Content by CID: `heliaContent()` of `@p2p-ai/content` (Helia on this node's libp2p), set up with
   * the `content` settings. With it, large task inputs and outputs travel as CIDs, models are
   * shared between peers, and `node.content` stores and fetches data of your own. (The CLI passes
   * it when `content.enabled` is on.)
   *
   * @default none: inputs and outputs travel inline only (a task too large for a frame runs here)
   */
  contentStore?: ContentFactory
  /** Aborts creation and start. */
  signal?: AbortSignal
}

/**
 * Creates (and by default starts) a node: validates the configuration (a bad one throws
 * `ConfigValidationError` before anything is touched), loads or creates the identity key in the
 * data directory, opens the result stores (the engine's, and that of the tasks it submits to the
 * network) and builds the transport.
 *
 * ```ts
 * const node = await createNode({ dataDir: './data', network: { listen: ['/ip4/127.0.0.1/tcp/0'] } })
 * console.log(node.peerId, node.getMultiaddrs())
 * await node.stop()
 * ```
 */
export async function createNode(init: NodeInit = {}): Promise<P2PNode> {
  const {
    logger,
    start,
    backends,
    engineOptions,
    agentVersion,
    psk,
    watch,
    signal,
    exchange,
    tracer: givenTracing,
    resourceSampler,
    libp2pMetrics,
    contentStore,
    ...configInput
  } = init
  const config = resolveNodeConfig(configInput)
  const networkKey = psk ?? (await pskFromConfig(config.network))
  signal?.throwIfAborted()
  const root = logger ?? (init.log === undefined ? silentLogger() : createLogger(config.log))

  await ensureDir(config.dataDir)
  const { identity, created } = await loadOrCreateIdentity(config.identity.keyFile)
  const loggers = new ComponentLoggers(root.child({ peerId: identity.peerId }))
  if (logger !== undefined && init.log?.level !== undefined) loggers.setLevel(config.log.level)
  loggers
    .get('identity')
    .info(
      { keyFile: config.identity.keyFile, created },
      created ? 'created a new identity' : 'loaded identity',
    )

  const tracing: NodeTracing | undefined = await loadTracing(
    givenTracing,
    config,
    {
      peerId: identity.peerId,
      dataDir: config.dataDir,
      agentVersion: agentVersion ?? DEFAULT_AGENT_VERSION,
    },
    loggers.get('tracing'),
  )
  let store: ResultStore
  try {
    store = resultStore({
      directory: join(config.dataDir, STORE_DIR_NAME),
      ttlMs: config.engine.resultTtlMs,
    })
  } catch (err) {
    await tracing?.shutdown()
    throw err
  }
  let submittedStore: ResultStore | undefined
  let jobStore: JobStore
  try {
    // Its own store, so the engine's task list keeps showing only what ran here.
    submittedStore = config.engine.storeSubmittedTasks
      ? resultStore({
          directory: join(config.dataDir, STORE_DIR_NAME, SUBMITTED_STORE_DIR_NAME),
          ttlMs: config.engine.resultTtlMs,
        })
      : undefined
  } catch (err) {
    store.close()
    await tracing?.shutdown()
    throw err
  }
  try {
    jobStore = new JobStore({
      directory: join(config.dataDir, STORE_DIR_NAME, JOB_STORE_DIR_NAME),
      ttlMs: config.engine.resultTtlMs,
    })
  } catch (err) {
    store.close()
    submittedStore?.close()
    throw err
  }
  const closeStores = (): void => {
    submittedStore?.close()
    jobStore.close()
  }
  let engine: TaskEngine
  try {
    engine = taskEngine({
      ...engineOptions,
      concurrency: config.engine.concurrency,
      maxQueueLength: config.engine.maxQueueLength,
      timeoutMs: config.engine.taskTimeoutMs,
      backends: backends ?? [],
      store,
    })
  } catch (err) {
    // A bad engine option or backend: close the stores again rather than leave them open.
    store.close()
    closeStores()
    await tracing?.shutdown()
    throw err
  }
  // Bans live here; the connection gater reads them from the start, the node records them.
  const reputation = new ReputationBook()
  let transport: Transport
  let allowPeer: ((peer: string) => boolean) | undefined
  try {
    signal?.throwIfAborted()
    transport = await createTransport({
      identity,
      listen: config.network.listen,
      bootstrap: config.network.bootstrap,
      maxConnections: config.network.maxConnections,
      agentVersion: agentVersion ?? DEFAULT_AGENT_VERSION,
      mdns: config.network.mdns.enabled
        ? { interface: config.network.mdns.interface, serviceTag: config.network.mdns.serviceTag }
        : false,
      dht: config.network.dht ? { mode: config.network.dhtMode } : false,
      // The peer directory watches liveness with its own heartbeat (heartbeat.*).
      connectionMonitor: false,
      redial: {
        initialDelayMs: config.reconnect.initialDelayMs,
        maxDelayMs: config.reconnect.maxDelayMs,
        maxAttempts: config.reconnect.maxAttempts,
      },
      announce: config.network.announce,
      autonat: config.network.autonat,
      upnp: config.network.upnp,
      holePunch: config.network.holePunch,
      relay: config.network.relay.enabled
        ? {
            server: RELAY_SERVER_MODES[config.network.relay.server],
            // A LAN-only node (no bootstrap peers) dials everyone directly: no reservations.
            reservations: config.network.bootstrap.length > 0 ? config.network.relay.reservations : 0,
            maxReservations: config.network.relay.maxReservations,
            circuitDurationMs: config.network.relay.circuitDurationMs,
            circuitBytes: config.network.relay.circuitBytes,
            maxCircuitsPerPeer: config.network.relay.maxCircuitsPerPeer,
            maxCircuits: config.network.relay.maxCircuits,
          }
        : false,
      ...(networkKey === undefined ? {} : { psk: networkKey }),
      denyPeer: (peer) => reputation.isBanned(peer),
      // With an allowlist, relays (this node's, and those its peers use) carry members only. The
      // policy is the exchange's, live: read once the node exists.
      allowPeer: (peer) => allowPeer?.(peer) ?? true,
      ...(libp2pMetrics === undefined ? {} : { metrics: libp2pMetrics }),
      start: false,
    })
  } catch (err) {
    // Nothing half-open stays behind: the stores are closed again.
    await engine.stop({ timeoutMs: 0 })
    closeStores()
    await tracing?.shutdown()
    throw err
  }
  let node: P2PNode
  try {
    node = new P2PNode({
      config,
      loggers,
      identity,
      transport,
      engine,
      reputation,
      ...(submittedStore === undefined ? {} : { submittedStore }),
      jobStore,
      ...(agentVersion === undefined ? {} : { agentVersion }),
      ...(watch === undefined ? {} : { watch }),
      ...(engineOptions?.cancelGraceMs === undefined ? {} : { cancelGraceMs: engineOptions.cancelGraceMs }),
      ...(exchange === undefined ? {} : { exchange }),
      ...(tracing === undefined ? {} : { tracing }),
      ...(contentStore === undefined ? {} : { content: contentStore }),
      ...(resourceSampler === undefined ? {} : { resourceSampler }),
    })
  } catch (err) {
    // A bad exchange option: the stores are closed again (the transport never started).
    await engine.stop({ timeoutMs: 0 })
    closeStores()
    await tracing?.shutdown()
    throw err
  }
  allowPeer = (peer) => node.exchange.allows(peer)
  if (start !== false) await node.start(signal === undefined ? {} : { signal })
  return node
}

async function ensureDir(path: string): Promise<void> {
  try {
    // 0700: the directory holds the private key.
    await mkdir(path, { recursive: true, mode: 0o700 })
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new DataDirError(path, e.code === 'EACCES' ? 'permission denied' : e.message, { cause: err })
  }
}
