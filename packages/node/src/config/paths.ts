import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { APP_DIR_NAME } from '../constants.js'

/** Environment as `process.env` has it. */
export type Env = Readonly<Record<string, string | undefined>>

function home(env: Env): string {
  const h = env.HOME
  return h !== undefined && isAbsolute(h) ? h : homedir()
}

/** An XDG base directory variable, used only when it is an absolute path (as the spec says). */
function xdg(env: Env, name: string, fallback: string): string {
  const value = env[name]
  return value !== undefined && isAbsolute(value) ? value : join(home(env), fallback)
}

/**
 * The default data directory: `$XDG_DATA_HOME/p2p-ai` (default `~/.local/share/p2p-ai`) on
 * Linux, `~/.p2p-ai` elsewhere. It holds the identity key and the result store.
 */
export function defaultDataDir(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'linux') return join(xdg(env, 'XDG_DATA_HOME', '.local/share'), APP_DIR_NAME)
  return join(home(env), `.${APP_DIR_NAME}`)
}

/**
 * Where the CLI looks for its config file when none is given: `$XDG_CONFIG_HOME/p2p-ai/config.yaml`
 * (default `~/.config/p2p-ai/config.yaml`) on Linux, `~/.p2p-ai/config.yaml` elsewhere.
 * `loadConfig` itself never reads it implicitly.
 */
export function defaultConfigFile(
  env: Env = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (platform === 'linux') return join(xdg(env, 'XDG_CONFIG_HOME', '.config'), APP_DIR_NAME, 'config.yaml')
  return join(home(env), `.${APP_DIR_NAME}`, 'config.yaml')
}

/** Expands a leading `~` and resolves a relative path against `base`. */
export function resolvePath(path: string, base: string, env: Env): string {
  if (path === '~') return home(env)
  if (path.startsWith('~/')) return join(home(env), path.slice(2))
  return resolve(base, path)
}
