/**
 * What a node builds from its parts: the peer table, the task exchange and the health monitor
 * with the built-in checks, and the announce protocol, which feeds the exchange and the table.
 */
import type { TaskEngine, TaskRecord } from '@p2p-ai/engine'
import { ANNOUNCE_PROTOCOL, replayCache } from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import { announceHandler } from './announce.js'
import type { NodeConfig } from './config/types.js'
import { type TaskExchange, taskExchange } from './exchange/index.js'
import { HealthMonitor, type HealthReport } from './health.js'
import type { Logger } from './logger.js'
import { engineCheck, identityCheck, networkCheck, storeCheck } from './node-checks.js'
import type { NodeParts } from './node-types.js'
import type { PeerTableEvents, PeerTableSettings } from './peer-types.js'
import { PeerTable } from './peers.js'
import { peerNetwork } from './wiring.js'

export interface NodeComponents {
  readonly peers: PeerTable
  readonly exchange: TaskExchange
  readonly health: HealthMonitor
}

/** How the components report to the node. */
export interface NodeComponentHooks {
  readonly peerEvents: PeerTableEvents
  readonly onHealthReport: (report: HealthReport, previous: HealthReport | undefined) => void
}

/** The peer table's settings in `c` (at construction, and again on every reconfiguration). */
export function peerTableSettings(c: NodeConfig): PeerTableSettings {
  return {
    heartbeatIntervalMs: c.heartbeat.intervalMs,
    heartbeatTimeoutMs: c.heartbeat.timeoutMs,
    reconnectInitialDelayMs: c.reconnect.initialDelayMs,
    reconnectMaxDelayMs: c.reconnect.maxDelayMs,
    reconnectMaxAttempts: c.reconnect.maxAttempts,
  }
}

export function nodeComponents(
  parts: NodeParts,
  agentVersion: string,
  hooks: NodeComponentHooks,
): NodeComponents {
  const c = parts.config
  const peers = new PeerTable(
    peerNetwork(parts.transport),
    hooks.peerEvents,
    parts.loggers.get('network'),
    peerTableSettings(c),
  )
  const exchange = taskExchange(
    {
      peerId: parts.identity.peerId,
      signer: parts.identity,
      transport: parts.transport,
      engine: parts.engine,
      log: parts.loggers.get('exchange'),
      peerRtt: (peer) => peers.get(peer)?.rttMs,
      ...(parts.submittedStore === undefined ? {} : { submittedStore: parts.submittedStore }),
    },
    {
      access: c.access,
      relay: c.forwarding.enabled,
      maxHops: c.forwarding.maxHops,
      livenessIdleMs: c.liveness.idleMs,
      livenessTimeoutMs: c.liveness.timeoutMs,
      storeServedTasks: c.engine.storeServedTasks,
      ...parts.exchange,
      agentVersion,
    },
  )
  const health = new HealthMonitor({
    intervalMs: c.health.intervalMs,
    checkTimeoutMs: c.health.checkTimeoutMs,
    onReport: hooks.onHealthReport,
  })
  health.register('identity', identityCheck(parts.identity, c.identity.keyFile))
  health.register('engine', engineCheck(parts.engine))
  health.register('store', storeCheck(parts.engine, c.dataDir))
  health.register('network', networkCheck(parts.transport, c.network.bootstrap), { local: false })
  return { peers, exchange, health }
}

/** One log line for every task the engine finishes. */
export function logFinishedTasks(engine: TaskEngine, log: Logger): void {
  engine.addEventListener('task:finished', (evt: CustomEvent<TaskRecord>) => {
    const r = evt.detail
    const durationMs =
      r.finishedAt !== undefined && r.startedAt !== undefined ? r.finishedAt - r.startedAt : undefined
    log.info(
      { taskId: r.id, type: r.type, status: r.status, durationMs, error: r.error?.code },
      'task finished',
    )
  })
}

/** Serves the announce protocol: goodbyes and capabilities reach the exchange and the peer table. */
export function serveAnnounce(
  transport: Transport,
  exchange: TaskExchange,
  peers: PeerTable,
  log: Logger,
): Promise<void> {
  return transport.handle(
    ANNOUNCE_PROTOCOL,
    announceHandler({
      replayCache: replayCache(),
      log,
      onGoodbye: (connection, reason) => {
        exchange.onGoodbye(connection.remotePeer.toString())
        peers.onGoodbye(connection.remotePeer, reason)
      },
      onCapabilities: (connection, capabilities) => {
        exchange.onCapabilities(connection.remotePeer.toString(), capabilities)
        if (peers.get(connection.remotePeer.toString()) !== undefined) {
          peers.setCapabilities(connection.remotePeer.toString(), capabilities)
        }
      },
    }),
  )
}
