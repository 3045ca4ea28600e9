import { ENV_CONFIG_FILE, ENV_PREFIX } from '../constants.js'
import { FIELDS_BY_ENV, type FieldType } from './fields.js'
import type { Env } from './paths.js'
import type { ConfigLayer } from './validate.js'

/** Environment variables with the `P2P_AI_` prefix that are not settings and are always allowed. */
export const RESERVED_ENV: readonly string[] = Object.freeze([ENV_CONFIG_FILE])

/**
 * Turns `P2P_AI_*` variables into a config layer. Each setting has one variable: the path's
 * segments in upper snake case joined by `__` (`network.maxConnections` →
 * `P2P_AI_NETWORK__MAX_CONNECTIONS`). Values are parsed by the setting's type: integers as
 * numbers, `true/false/1/0/yes/no/on/off` as booleans, lists as comma-separated items or a JSON
 * array. A value that does not parse is passed on as the string it is, so validation reports it
 * with the variable's name. An empty variable counts as unset (except for lists: the empty list).
 * Unknown `P2P_AI_*` variables (not in `ignore`) are reported as errors: a typo must not be
 * silently ignored.
 */
export function envLayer(env: Env, cwd: string, ignore: readonly string[] = []): ConfigLayer {
  const values: Record<string, unknown> = {}
  const envVars = new Map<string, string>()
  const unknownEnv: string[] = []
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue
    if (RESERVED_ENV.includes(name) || ignore.includes(name)) continue
    const field = FIELDS_BY_ENV.get(name)
    if (field === undefined) {
      unknownEnv.push(name)
      continue
    }
    if (raw === '' && field.type.kind !== 'list') continue
    setPath(values, field.path, parseEnvValue(raw, field.type))
    envVars.set(field.path, name)
  }
  return { source: 'env', values, baseDir: cwd, envVars, unknownEnv }
}

/** Parses one variable's text by the type of its setting; text that does not parse stays text. */
export function parseEnvValue(raw: string, type: FieldType): unknown {
  const text = raw.trim()
  switch (type.kind) {
    case 'integer':
      return /^[+-]?\d+$/.test(text) ? Number(text) : raw
    case 'boolean': {
      const lower = text.toLowerCase()
      if (['true', '1', 'yes', 'on'].includes(lower)) return true
      if (['false', '0', 'no', 'off'].includes(lower)) return false
      return raw
    }
    case 'list':
      if (text.startsWith('[')) {
        try {
          return JSON.parse(text) as unknown
        } catch {
          return raw
        }
      }
      return text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '')
    default:
      return raw
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = target
  for (const part of parts.slice(0, -1)) {
    node[part] ??= {}
    node = node[part] as Record<string, unknown>
  }
  node[parts.at(-1)!] = value
}
