/**
 * `@p2p-ai/metrics`: Prometheus metrics for a p2p-ai node. One registry holds the node's own
 * metrics (`p2p_ai_…`: state, peers, traffic, tasks, signature checks, refusals, models, store,
 * alerts), libp2p's (`libp2p_…`) and the process's (`process_…`, `nodejs_…`), served at
 * `/metrics`. A plug-in: nodes that do not export metrics do not install prom-client, and a node
 * with metrics pays for them only while attached (the node counts in plain numbers and dispatches
 * events only while someone listens).
 *
 * ```ts
 * import { createNode } from '@p2p-ai/node'
 * import { nodeMetrics, serveMetrics } from '@p2p-ai/metrics'
 *
 * const metrics = nodeMetrics()
 * const node = await createNode({ dataDir: './data', libp2pMetrics: metrics.libp2p })
 * metrics.attach(node)
 * const server = await serveMetrics(metrics) // http://127.0.0.1:9100/metrics
 * ```
 *
 * @packageDocumentation
 */

export { METRIC_LIST, METRICS, type MetricSpec, type MetricType, SECONDS_BUCKETS } from './catalog.js'
export { MetricsAttachedError, MetricsListenError, MetricsTokenError } from './errors.js'
export { CappedLabel, MAX_LABEL_VALUES, OTHER, transportOf } from './labels.js'
export { type NodeMetrics, type NodeMetricsInit, nodeMetrics } from './metrics.js'
export {
  METRICS_PATH,
  type MetricsServer,
  type MetricsServerOptions,
  type MetricsSource,
  readTokenFile,
  serveMetrics,
} from './server.js'
