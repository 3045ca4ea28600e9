/**
 * A configuration fit to show: the values of secret settings (`secret` in FIELDS: keys, tokens,
 * credentials) replaced, so a debug snapshot or a log line can carry the rest.
 */
import { FIELDS } from './fields.js'
import type { NodeConfig } from './types.js'

/** What a redacted value reads as. */
export const REDACTED = '[redacted]'

/** A copy of `config` with every secret setting that is set replaced by {@link REDACTED}. */
export function redactConfig(config: Readonly<NodeConfig>): NodeConfig {
  const copy = structuredClone(config) as unknown as Record<string, unknown>
  for (const field of FIELDS) {
    if (field.secret !== true) continue
    const parts = field.path.split('.')
    let node = copy
    for (const part of parts.slice(0, -1)) node = node[part] as Record<string, unknown>
    const key = parts.at(-1) as string
    const value = node[key]
    if (Array.isArray(value)) node[key] = value.map(() => REDACTED)
    else if (value !== '' && value !== undefined) node[key] = REDACTED
  }
  return copy as unknown as NodeConfig
}
