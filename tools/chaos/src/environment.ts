/** The environment of a run's processes: nodes and drivers. */
import { join } from 'node:path'
import { PROVIDER_CONCURRENCY, PROVIDER_MAX_QUEUE } from './constants.js'
import type { NodeRole } from './node-process.js'

/** The environment of the run's processes: no settings or colours of the caller's, a HOME of its own. */
export function cleanEnv(env: NodeJS.ProcessEnv, home: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && !k.startsWith('P2P_AI_') && k !== 'FORCE_COLOR' && k !== 'NO_COLOR') out[k] = v
  }
  return {
    ...out,
    HOME: home,
    XDG_DATA_HOME: join(home, '.data'),
    XDG_CONFIG_HOME: join(home, '.config'),
    NO_COLOR: '1',
  }
}

/** Node settings by role, as `P2P_AI_*` variables (docs/configuration.md). */
export function roleEnv(role: NodeRole, shutdownDeadlineMs: number): NodeJS.ProcessEnv {
  return {
    P2P_AI_SHUTDOWN__DEADLINE_MS: String(shutdownDeadlineMs),
    ...(role === 'provider'
      ? {
          P2P_AI_ENGINE__CONCURRENCY: String(PROVIDER_CONCURRENCY),
          P2P_AI_ENGINE__MAX_QUEUE_LENGTH: String(PROVIDER_MAX_QUEUE),
        }
      : {}),
  }
}
