import { FIELDS } from './fields.js'
import { resolveNodeConfig } from './load.js'
import type { NodeConfig, NodeConfigInput } from './types.js'

/** What a reconfiguration did. */
export interface ConfigChange {
  /** Fields whose new value is now in force. */
  readonly applied: readonly string[]
  /** Fields that changed but only take effect after a restart (the old value stays in force). */
  readonly restartRequired: readonly string[]
  /** The configuration now in force. */
  readonly config: Readonly<NodeConfig>
}

function get(config: unknown, path: string): unknown {
  let value = config
  for (const part of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[part]
  return value
}

function set(config: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = config
  for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>
  node[parts.at(-1)!] = value
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isMapping(base) || !isMapping(patch)) return patch === undefined ? base : patch
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(patch)) out[key] = deepMerge(base[key], value)
  return out
}

/**
 * Computes the configuration after `input` is merged over `current`: live fields take their new
 * values, restart-only fields keep the current ones and are listed. Validates first, so a bad
 * input changes nothing (throws `ConfigValidationError`).
 */
export function planReconfigure(current: NodeConfig, input: NodeConfigInput): ConfigChange {
  const next = resolveNodeConfig(deepMerge(current, input) as NodeConfigInput)
  const applied: string[] = []
  const restartRequired: string[] = []
  const inForce = structuredClone(current) as unknown as Record<string, unknown>
  for (const field of FIELDS) {
    const value = get(next, field.path)
    if (same(get(current, field.path), value)) continue
    if (field.reload === 'live') {
      applied.push(field.path)
      set(inForce, field.path, value)
    } else restartRequired.push(field.path)
  }
  return { applied, restartRequired, config: inForce as unknown as NodeConfig }
}
