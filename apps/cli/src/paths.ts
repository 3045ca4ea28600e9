import { readFileSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
// The node's own rules, from its light entry point: client commands never load the node itself.
import { defaultConfigFile, defaultDataDir, resolvePath } from '@p2p-ai/node/control'
import { ENV } from './constants.js'
import { ConfigError } from './errors.js'

type Env = Readonly<Record<string, string | undefined>>

export { defaultConfigFile, defaultDataDir }

/** Expands a leading `~` and resolves against `base`. */
export const expandPath = resolvePath

/** A data directory and where it came from (for messages). */
export interface DataDirChoice {
  readonly dataDir: string
  readonly source: '--data-dir' | 'P2P_AI_DATA_DIR' | 'config file' | 'default'
  /** The config file in force, if any (given, from `P2P_AI_CONFIG`, or the default one if it exists). */
  readonly configFile: string | undefined
}

/**
 * The data directory a command works on, chosen as the node chooses it: `--data-dir`, then
 * `P2P_AI_DATA_DIR`, then `dataDir` in the config file (`--config`, `P2P_AI_CONFIG`, or the default
 * config file when it exists), then the platform default. The config file is read only when it
 * exists, and parsed only for `dataDir`.
 */
export async function resolveDataDir(
  flags: { dataDir?: string | undefined; config?: string | undefined },
  env: Env,
  cwd: string,
): Promise<DataDirChoice> {
  const configFile = findConfigFile(flags.config, env, cwd)
  if (flags.dataDir !== undefined && flags.dataDir !== '') {
    return { dataDir: expandPath(flags.dataDir, cwd, env), source: '--data-dir', configFile }
  }
  const fromEnv = env[ENV.DATA_DIR]
  if (fromEnv !== undefined && fromEnv !== '') {
    return { dataDir: expandPath(fromEnv, cwd, env), source: 'P2P_AI_DATA_DIR', configFile }
  }
  if (configFile !== undefined) {
    const fromFile = await dataDirFromConfig(configFile, env)
    if (fromFile !== undefined) return { dataDir: fromFile, source: 'config file', configFile }
  }
  return { dataDir: defaultDataDir(env), source: 'default', configFile }
}

function findConfigFile(flag: string | undefined, env: Env, cwd: string): string | undefined {
  const named = flag ?? env[ENV.CONFIG]
  if (named !== undefined && named !== '') {
    const file = expandPath(named, cwd, env)
    const kind = kindOf(file)
    if (kind !== 'file') {
      const fix = flag === undefined ? `fix or unset ${ENV.CONFIG}` : 'check the path given to --config'
      throw kind === 'directory'
        ? new ConfigError(
            `config file ${file} is a directory`,
            `give the YAML file itself, such as ${join(file, 'config.yaml')}`,
          )
        : new ConfigError(
            kind === 'missing'
              ? `config file ${file} does not exist`
              : `config file ${file} is not a regular file`,
            fix,
          )
    }
    return file
  }
  const fallback = defaultConfigFile(env)
  return kindOf(fallback) === 'file' ? fallback : undefined
}

function kindOf(path: string): 'file' | 'directory' | 'other' | 'missing' {
  try {
    const stat = statSync(path)
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : 'other'
  } catch {
    return 'missing'
  }
}

async function dataDirFromConfig(file: string, env: Env): Promise<string | undefined> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`, undefined, {
      cause: err,
    })
  }
  // Cheap pre-check: most config files name no dataDir, and then YAML need not be loaded at all.
  if (!/^\s*["']?dataDir["']?\s*:/m.test(text)) return undefined
  const { parse } = await import('yaml')
  let doc: unknown
  try {
    doc = parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`)
  }
  const value = (doc as { dataDir?: unknown } | null)?.dataDir
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError(`config file ${file}: dataDir must be a path`)
  }
  return expandPath(value, dirname(file), env)
}
