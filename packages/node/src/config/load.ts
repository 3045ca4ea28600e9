import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ENV_CONFIG_FILE } from '../constants.js'
import { ConfigReadError } from '../errors.js'
import { envLayer } from './env.js'
import type { Env } from './paths.js'
import type { NodeConfig, NodeConfigInput } from './types.js'
import { type ConfigLayer, resolveConfig } from './validate.js'

/** Largest config file accepted; anything bigger is surely not a config file. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024

/** Where `loadConfig` reads settings from. */
export interface LoadConfigOptions {
  /**
   * The YAML file. Relative paths inside it resolve against its directory.
   *
   * @default the `P2P_AI_CONFIG` variable of `env`; with neither, defaults and environment only
   */
  file?: string
  /**
   * Environment overrides (`P2P_AI_*`), applied over the file.
   *
   * @default process.env
   */
  env?: Env
  /**
   * `P2P_AI_*` variables that are not settings and must not be reported as unknown (say, the
   * CLI's own). `P2P_AI_CONFIG` is always allowed.
   *
   * @default []
   */
  ignoreEnv?: readonly string[]
  /**
   * Directory that relative paths from the environment resolve against.
   *
   * @default process.cwd()
   */
  cwd?: string
  /** Used for the default data directory. @default process.platform */
  platform?: NodeJS.Platform
  signal?: AbortSignal
}

/**
 * Loads the node configuration: defaults, then the YAML file (if any), then `P2P_AI_*`
 * environment overrides. Everything is validated at once; a bad configuration throws one
 * `ConfigValidationError` that lists every problem, and YAML syntax errors throw
 * `ConfigSyntaxError` with line and column. The result is complete and can be passed to
 * `createNode` as it is.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<NodeConfig> {
  const env = options.env ?? process.env
  const cwd = options.cwd ?? process.cwd()
  const layers: ConfigLayer[] = []
  const fileOption = options.file ?? env[ENV_CONFIG_FILE]
  if (fileOption !== undefined && fileOption !== '') {
    const file = resolve(cwd, fileOption)
    const text = await readConfigFile(file, options.signal)
    // The YAML parser loads with the first config file: a node configured by defaults and the
    // environment alone never pays for it.
    const { parseConfigText } = await import('./yaml.js')
    layers.push(parseConfigText(text, file))
  }
  layers.push(envLayer(env, cwd, options.ignoreEnv))
  return resolveConfig(layers, { env, platform: options.platform ?? process.platform })
}

/**
 * Completes and validates a configuration given in code (what `createNode(init)` does with its
 * init): missing fields get their defaults; the environment is not read.
 */
export function resolveNodeConfig(
  input: NodeConfigInput,
  options: { cwd?: string; env?: Env; platform?: NodeJS.Platform } = {},
): NodeConfig {
  const layer: ConfigLayer = { source: 'init', values: input, baseDir: options.cwd ?? process.cwd() }
  return resolveConfig([layer], {
    env: options.env ?? process.env,
    platform: options.platform ?? process.platform,
  })
}

async function readConfigFile(file: string, signal?: AbortSignal): Promise<string> {
  try {
    const info = await stat(file)
    if (info.isDirectory()) throw new ConfigReadError(file, 'it is a directory')
    if (info.size > MAX_CONFIG_FILE_BYTES) {
      throw new ConfigReadError(
        file,
        `${info.size} bytes is larger than the ${MAX_CONFIG_FILE_BYTES} byte limit`,
      )
    }
    return await readFile(file, signal === undefined ? { encoding: 'utf8' } : { encoding: 'utf8', signal })
  } catch (err) {
    if (err instanceof ConfigReadError) throw err
    const e = err as NodeJS.ErrnoException
    if (e.name === 'AbortError') throw err
    const reason =
      e.code === 'ENOENT'
        ? 'no such file'
        : e.code === 'EACCES'
          ? 'permission denied'
          : (e.message ?? String(err))
    throw new ConfigReadError(file, reason, { cause: err })
  }
}
