import { ENV_PREFIX } from '../constants.js'
import { type ConfigIssue, type ConfigSource, ConfigValidationError } from '../errors.js'
import { closest } from './closest.js'
import {
  type DefaultContext,
  describeType,
  FIELDS,
  FIELDS_BY_ENV,
  FIELDS_BY_PATH,
  type FieldSpec,
  GROUP_PATHS,
} from './fields.js'
import { type Env, resolvePath } from './paths.js'
import { parseSize } from './size.js'
import type { NodeConfig } from './types.js'

/** One source of settings; later layers override earlier ones. */
export interface ConfigLayer {
  readonly source: ConfigSource
  /** Nested settings, as parsed (YAML document, environment, `createNode` init). */
  readonly values: unknown
  /** Directory that relative paths are resolved against. */
  readonly baseDir: string
  /** The config file, for `source: 'file'`. */
  readonly file?: string
  /** Line and column (1-based) of a field in the file, for messages. */
  readonly locate?: (path: readonly (string | number)[]) => { line: number; column: number } | undefined
  /** Field path → environment variable that set it, for `source: 'env'`. */
  readonly envVars?: ReadonlyMap<string, string>
  /** `P2P_AI_*` variables that name no setting, for `source: 'env'`. */
  readonly unknownEnv?: readonly string[]
}

export interface ResolveContext {
  readonly env: Env
  readonly platform: NodeJS.Platform
}

interface Found {
  readonly value: unknown
  readonly layer: ConfigLayer
}

/**
 * Merges defaults and layers, validates every field and returns the complete configuration, or
 * throws one `ConfigValidationError` listing every problem (unknown keys, wrong types, out of
 * range values, inconsistent pairs) with its path, the value found and what was expected.
 */
export function resolveConfig(layers: readonly ConfigLayer[], ctx: ResolveContext): NodeConfig {
  const issues: ConfigIssue[] = []
  const found = new Map<string, Found>()
  for (const layer of layers) {
    collect(layer, layer.values, [], found, issues)
    for (const name of layer.unknownEnv ?? []) issues.push(unknownEnvIssue(name))
  }

  const out: Record<string, unknown> = {}
  const valid = new Map<string, unknown>()
  let defaults: DefaultContext = { env: ctx.env, platform: ctx.platform, dataDir: '' }
  for (const field of FIELDS) {
    const f = found.get(field.path)
    let value: unknown
    if (f === undefined) {
      value = field.default(defaults)
    } else {
      const checked = check(field, f, issues, ctx.env)
      if (checked === INVALID) value = field.default(defaults)
      else {
        value = checked
        valid.set(field.path, value)
      }
    }
    if (field.path === 'dataDir') defaults = { ...defaults, dataDir: value as string }
    setIn(out, field.path, value)
  }

  crossCheck(
    valid,
    found,
    issues,
    'heartbeat.timeoutMs',
    'heartbeat.intervalMs',
    (t, i) => t < i,
    'less than',
  )
  crossCheck(valid, found, issues, 'health.checkTimeoutMs', 'health.intervalMs', (t, i) => t < i, 'less than')
  crossCheck(
    valid,
    found,
    issues,
    'reconnect.maxDelayMs',
    'reconnect.initialDelayMs',
    (max, initial) => max >= initial,
    'at least',
  )
  crossCheck(
    valid,
    found,
    issues,
    'supervisor.maxRestartDelayMs',
    'supervisor.restartDelayMs',
    (max, initial) => max >= initial,
    'at least',
  )
  crossCheck(
    valid,
    found,
    issues,
    'protection.maxBanMs',
    'protection.banMs',
    (max, first) => max >= first,
    'at least',
  )

  // One private network key, not two that might differ.
  const pskFile = found.get('network.pskFile')
  if (valid.get('network.psk') && valid.get('network.pskFile') && pskFile) {
    issues.push(
      issue(
        pskFile.layer,
        ['network', 'pskFile'],
        'nothing while network.psk is set (one or the other)',
        pskFile.value,
      ),
    )
  }

  if (issues.length > 0) {
    throw new ConfigValidationError(sortIssues(issues), layers.find((l) => l.file !== undefined)?.file)
  }
  return out as unknown as NodeConfig
}

const INVALID = Symbol('invalid')

const SOURCE_ORDER: Readonly<Record<ConfigSource, number>> = { file: 0, env: 1, init: 2 }

/** File problems in file order, then environment and init problems in field order. */
function sortIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((issue, index) => ({ issue, index }))
    .sort(
      (a, b) =>
        SOURCE_ORDER[a.issue.source] - SOURCE_ORDER[b.issue.source] ||
        (a.issue.line ?? 0) - (b.issue.line ?? 0) ||
        (a.issue.column ?? 0) - (b.issue.column ?? 0) ||
        a.index - b.index,
    )
    .map((x) => x.issue)
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Walks one layer, recording leaf values and reporting unknown keys and non-mapping groups. */
function collect(
  layer: ConfigLayer,
  value: unknown,
  path: readonly string[],
  found: Map<string, Found>,
  issues: ConfigIssue[],
): void {
  const dotted = path.join('.')
  if (value === undefined || value === null) return
  if (!isMapping(value)) {
    const expected = path.length === 0 ? 'a mapping of settings' : `a mapping (the ${dotted} group)`
    issues.push(issue(layer, path, expected, value))
    return
  }
  for (const [key, child] of Object.entries(value)) {
    const childPath = [...path, key]
    const p = childPath.join('.')
    if (GROUP_PATHS.has(p)) collect(layer, child, childPath, found, issues)
    else if (FIELDS_BY_PATH.has(p)) {
      // YAML `key:` with nothing after it is null: treat it as unset, like a missing key.
      if (child !== undefined && child !== null) found.set(p, { value: child, layer })
    } else {
      const siblings = knownChildren(dotted)
      const guess = closest(key, siblings)
      const hint = guess === undefined ? `known keys here: ${siblings.join(', ')}` : `did you mean ${guess}?`
      issues.push(issue(layer, childPath, `a known setting (${hint})`, child))
    }
  }
}

function knownChildren(group: string): string[] {
  const prefix = group === '' ? '' : `${group}.`
  const names = new Set<string>()
  for (const f of FIELDS) {
    if (f.path.startsWith(prefix)) names.add(f.path.slice(prefix.length).split('.')[0]!)
  }
  return [...names]
}

/** Validates and normalises one value; pushes an issue and returns `INVALID` when it is wrong. */
function check(field: FieldSpec, f: Found, issues: ConfigIssue[], env: Env): unknown {
  const { value, layer } = f
  const path = field.path.split('.')
  const type = field.type
  const fail = (expected = describeType(type), at: (string | number)[] = path, v: unknown = value) => {
    issues.push(issue(layer, at, expected, v))
    return INVALID
  }
  switch (type.kind) {
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < type.min || value > type.max)
        return fail()
      return value
    case 'boolean':
      return typeof value === 'boolean' ? value : fail()
    case 'string':
      if (type.optional === true && value === '') return value
      if (typeof value !== 'string' || value.trim() === '') return fail()
      return type.pattern === undefined || type.pattern.test(value) ? value : fail()
    case 'path':
      if (type.optional === true && value === '') return value
      if (typeof value !== 'string' || value.trim() === '' || value.includes('\0')) return fail()
      return resolvePath(value, layer.baseDir, env)
    case 'enum':
      return typeof value === 'string' && type.values.includes(value) ? value : fail()
    case 'size':
      if (value === '') return value
      if ((typeof value !== 'string' && typeof value !== 'number') || parseSize(value) === undefined)
        return fail()
      return String(value).trim()
    case 'list': {
      if (!Array.isArray(value)) return fail()
      let ok = true
      value.forEach((item: unknown, index) => {
        const problem = typeof item === 'string' ? type.check(item) : 'not a string'
        if (problem !== undefined) {
          ok = false
          fail(`a ${type.item} (${problem})`, [...path, index], item)
        }
      })
      return ok ? [...(value as string[])] : INVALID
    }
  }
}

function crossCheck(
  valid: ReadonlyMap<string, unknown>,
  found: ReadonlyMap<string, Found>,
  issues: ConfigIssue[],
  path: string,
  otherPath: string,
  ok: (value: number, other: number) => boolean,
  relation: string,
): void {
  const value = valid.get(path) ?? FIELDS_BY_PATH.get(path)?.default(EMPTY_CONTEXT)
  const other = valid.get(otherPath) ?? FIELDS_BY_PATH.get(otherPath)?.default(EMPTY_CONTEXT)
  if (typeof value !== 'number' || typeof other !== 'number' || ok(value, other)) return
  // Blame the field the user set; if both were set, blame the first one named.
  const blamed = found.get(path) !== undefined || found.get(otherPath) === undefined ? path : otherPath
  const f = found.get(blamed)
  const layer: ConfigLayer = f?.layer ?? { source: 'init', values: undefined, baseDir: '' }
  const expected =
    blamed === path
      ? `a value ${relation} ${otherPath} (${other})`
      : `a value that keeps ${path} (${value}) ${relation} it`
  issues.push(issue(layer, blamed.split('.'), expected, blamed === path ? value : other))
}

function unknownEnvIssue(name: string): ConfigIssue {
  const guess = closest(
    name.slice(ENV_PREFIX.length),
    [...FIELDS_BY_ENV.keys()].map((n) => n.slice(ENV_PREFIX.length)),
  )
  const expected = `a known ${ENV_PREFIX}* setting${guess === undefined ? '' : ` (did you mean ${ENV_PREFIX}${guess}?)`}`
  return {
    path: '',
    expected,
    value: name,
    source: 'env',
    envVar: name,
    message: `${name}: expected ${expected}, found an unknown variable`,
  }
}

const EMPTY_CONTEXT: DefaultContext = { env: {}, platform: 'linux', dataDir: '' }

function issue(
  layer: ConfigLayer,
  path: readonly (string | number)[],
  expected: string,
  value: unknown,
): ConfigIssue {
  const dotted = formatPath(path)
  const envVar = layer.envVars?.get(path.filter((p) => typeof p === 'string').join('.'))
  let where = ''
  const pos = layer.source === 'file' ? layer.locate?.(path) : undefined
  if (layer.source === 'env' && envVar !== undefined) where = ` (from ${envVar})`
  else if (layer.source === 'file') {
    where = pos === undefined ? ' (config file)' : ` (line ${pos.line}, column ${pos.column})`
  } else if (layer.source === 'init') where = ' (createNode init)'
  const message = `${dotted === '' ? '(document)' : dotted}: expected ${expected}, found ${formatValue(value)}${where}`
  return {
    path: dotted,
    expected,
    value,
    source: layer.source,
    message,
    ...(envVar === undefined ? {} : { envVar }),
    ...(pos === undefined ? {} : { line: pos.line, column: pos.column }),
  }
}

function formatPath(path: readonly (string | number)[]): string {
  let out = ''
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`
  return out
}

/** A short, unambiguous rendering of a found value: strings quoted, long values cut. */
export function formatValue(value: unknown): string {
  if (value === undefined) return 'nothing'
  let text: string
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value)
  }
  if (isMapping(value)) text = `a mapping ${text}`
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function setIn(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.')
  let node = target
  for (const part of parts.slice(0, -1)) {
    let next = node[part]
    if (!isMapping(next)) {
      next = {}
      node[part] = next
    }
    node = next as Record<string, unknown>
  }
  node[parts.at(-1)!] = value
}
