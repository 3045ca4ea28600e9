/**
 * @p2p-ai/dashboard: a live web view of a p2p-ai swarm, served by a running node on 127.0.0.1.
 *
 * ```ts
 * const dashboard = await startDashboard({ source: nodeSource({ node, tasks }), dataDir })
 * console.log(dashboard.loginUrl()) // http://127.0.0.1:8080/?token=... (good once)
 * ```
 *
 * The page (built with Vite into `dist/ui`) shows the topology, tasks flowing along its edges,
 * the tasks table and a task's detail, a form to submit tasks, metrics history and alerts.
 * See docs/dashboard.md.
 *
 * @packageDocumentation
 */

export {
  DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_HISTORY_DAYS,
  DEFAULT_SAMPLE_MS,
  HISTORY_FILE,
  MAX_HISTORY_DAYS,
} from './constants.js'
export { DashboardNotBuiltError, DashboardPortInUseError } from './errors.js'
export { type Dashboard, type DashboardInit, startDashboard } from './server/server.js'
export { type NodeSourceInit, networkTaskDetail, nodeSource } from './source/node.js'
export { type SyntheticSwarm, type SyntheticSwarmInit, syntheticSwarm } from './source/synthetic.js'
export type {
  DashboardSource,
  DashboardTasks,
  PeerView,
  SelfInfo,
  SourceEvent,
  TaskFilter,
} from './source/types.js'
export { buildTopology, REACH_NOTE } from './topology/build.js'
export { applyDiff, diffTopology } from './topology/diff.js'
export type * from './wire.js'
