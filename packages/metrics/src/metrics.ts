/**
 * A node's Prometheus registry: the p2p-ai metrics of the catalog, libp2p's own metrics and
 * Node's process metrics, in one place that one scrape reads.
 */
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import type { NodeInit, P2PNode } from '@p2p-ai/node'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { collectAlerts } from './collect/alerts.js'
import { collectModels } from './collect/models.js'
import { collectNode } from './collect/node.js'
import { collectPeers } from './collect/peers.js'
import { collectStore } from './collect/store.js'
import { collectTasks } from './collect/tasks.js'
import { collectTraffic } from './collect/traffic.js'
import { MetricsAttachedError } from './errors.js'

export interface NodeMetricsInit {
  /**
   * The registry to fill; give prom-client's global `register` to share it with metrics of your
   * own. One node per registry.
   *
   * @default a new `Registry`
   */
  registry?: Registry
  /**
   * prom-client's default metrics of the process: CPU (`process_cpu_seconds_total`), memory
   * (`process_resident_memory_bytes`, `nodejs_heap_size_used_bytes`), event loop lag
   * (`nodejs_eventloop_lag_seconds`, `nodejs_eventloop_lag_p99_seconds`), garbage collection,
   * handles.
   *
   * @default true
   */
  processMetrics?: boolean
  /**
   * Where libp2p's file system metric (`nodejs_fs_usage_bytes`) looks: the node's data directory.
   *
   * @default the working directory
   */
  dataDir?: string
}

/** A node's metrics. */
export interface NodeMetrics {
  readonly registry: Registry
  /**
   * libp2p's metrics recorded into this registry: pass it to `createNode({ libp2pMetrics })`
   * (connections, streams and bytes by protocol, dials, the connection manager...).
   */
  readonly libp2p: NonNullable<NodeInit['libp2pMetrics']>
  /**
   * Starts collecting from `node` (created with `libp2pMetrics: metrics.libp2p` for libp2p's own
   * metrics, or without it for the p2p-ai ones only). Returns a function that stops listening to
   * its events. Throws `MetricsAttachedError` the second time.
   */
  attach(node: P2PNode): () => void
  /** The exposition, as a scrape gets it (Prometheus text format 0.0.4). */
  exposition(): Promise<string>
  /** The exposition's `Content-Type`. */
  readonly contentType: string
}

/**
 * Creates a node's metrics registry.
 *
 * ```ts
 * const metrics = nodeMetrics()
 * const node = await createNode({ dataDir, libp2pMetrics: metrics.libp2p })
 * metrics.attach(node)
 * const server = await serveMetrics(metrics, { port: 9100 })
 * ```
 */
export function nodeMetrics(init: NodeMetricsInit = {}): NodeMetrics {
  const registry = init.registry ?? new Registry()
  if (init.processMetrics !== false) collectDefaultMetrics({ register: registry })
  const libp2p = prometheusMetrics({
    registry,
    // Registered above, once per registry.
    collectDefaultMetrics: false,
    // Otherwise libp2p clears prom-client's global registry, which may hold an application's metrics.
    preserveExistingMetrics: true,
    ...(init.dataDir === undefined ? {} : { statfsLocation: init.dataDir }),
  }) as NonNullable<NodeInit['libp2pMetrics']>
  let attached = false
  return {
    registry,
    libp2p,
    contentType: registry.contentType,
    attach(node) {
      if (attached) throw new MetricsAttachedError()
      attached = true
      collectNode(registry, node)
      const detachPeers = collectPeers(registry, node)
      collectTraffic(registry, node)
      const detachTasks = collectTasks(registry, node)
      collectModels(registry, node)
      collectStore(registry, node)
      collectAlerts(registry, node)
      return () => {
        detachPeers()
        detachTasks()
      }
    },
    exposition: () => registry.metrics(),
  }
}
