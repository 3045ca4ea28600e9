/**
 * `@p2p-ai/node/control`: what a program that drives a node from outside (the `p2p-ai-agents`
 * CLI, a script, a dashboard) needs at run time without loading the node itself: where a node
 * keeps its data, and the bounds a task must respect. Nothing here loads libp2p, the engine or a
 * schema library, so a command that only talks to a running node starts in milliseconds. Types
 * cost nothing at run time: take them from `@p2p-ai/node` with `import type`.
 *
 * ```ts
 * import { DEFAULT_PRIORITY, defaultDataDir } from '@p2p-ai/node/control'
 *
 * console.log(defaultDataDir(process.env), DEFAULT_PRIORITY)
 * ```
 *
 * @packageDocumentation
 */

export {
  DEFAULT_PRIORITY,
  DEFAULT_TIMEOUT_MS,
  MAX_PRIORITY,
  MAX_TIMEOUT_MS,
  MIN_PRIORITY,
  MIN_TIMEOUT_MS,
} from '@p2p-ai/protocol/constants'
export { defaultConfigFile, defaultDataDir, type Env, resolvePath } from './config/paths.js'
export { LOG_LEVELS, type LogLevel } from './config/types.js'
export {
  DEFAULT_DASHBOARD_HISTORY_DAYS,
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  ENGINE_DEFAULT_TASK_TIMEOUT_MS,
} from './constants.js'
export { describePause, PAUSE_REASON_TEXT } from './resources/pause-reasons.js'
