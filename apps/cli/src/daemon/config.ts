import { bool, list, num, str } from '../args/parse.js'
import type { OptionValues, Parsed } from '../args/spec.js'
import { ENV } from '../constants.js'
import type { Io } from '../io.js'
import type { SupervisorSettings } from './supervisor.js'

/** CLI variables with the node's `P2P_AI_` prefix that are not node settings. */
export const CLI_ENV_VARS: readonly string[] = [ENV.DAEMON, ENV.SUPERVISOR, ENV.DEMO_DIR, 'P2P_AI_CLI_DEBUG']

/** The parts of a NodeConfig the command line changes (the rest is taken as loaded). */
interface ConfigShape {
  dataDir: string
  network: {
    listen: string[]
    bootstrap: string[]
    announce: string[]
    mdns: { enabled: boolean; interface: string }
  }
  log: { level: string; format: string }
  limits: { cpu: number; idleOnly: boolean }
  metrics: { enabled: boolean; port: number }
  dashboard: { enabled: boolean; port: number }
}

/**
 * Applies `node start`'s options over the loaded configuration. `--port` sets the port of the
 * plain TCP listen addresses and of the QUIC ones (UDP, a separate port space: one number to open
 * in a firewall, as IPFS does with 4001); WebSockets keeps its own. `--listen` replaces them all.
 */
export function applyFlags<C extends ConfigShape>(config: C, o: OptionValues, daemon: boolean): C {
  const next = structuredClone(config)
  const listen = list(o, 'listen')
  if (listen.length > 0) next.network.listen = [...listen]
  const port = num(o, 'port')
  if (port !== undefined) {
    const tcp = next.network.listen.filter((a) => isPlainTcp(a))
    if (tcp.length === 0) next.network.listen = [`/ip4/0.0.0.0/tcp/${port}`, ...next.network.listen]
    else
      next.network.listen = next.network.listen.map((a) =>
        isPlainTcp(a) ? a.replace(/\/tcp\/\d+$/, `/tcp/${port}`) : a,
      )
    next.network.listen = next.network.listen.map((a) =>
      isQuic(a) ? a.replace(/\/udp\/\d+\/quic-v1$/, `/udp/${port}/quic-v1`) : a,
    )
  }
  const bootstrap = list(o, 'bootstrap')
  if (bootstrap.length > 0) next.network.bootstrap = [...next.network.bootstrap, ...bootstrap]
  const announce = list(o, 'announce')
  if (announce.length > 0) next.network.announce = [...next.network.announce, ...announce]
  if (bool(o, 'no-mdns')) next.network.mdns.enabled = false
  const mdnsInterface = str(o, 'mdns-interface')
  if (mdnsInterface !== undefined) {
    next.network.mdns.enabled = true
    next.network.mdns.interface = mdnsInterface
  }
  const cpu = num(o, 'cpu-limit')
  if (cpu !== undefined) next.limits.cpu = cpu
  if (bool(o, 'idle-only')) next.limits.idleOnly = true
  if (bool(o, 'metrics')) next.metrics.enabled = true
  const metricsPort = num(o, 'metrics-port')
  if (metricsPort !== undefined) {
    next.metrics.enabled = true
    next.metrics.port = metricsPort
  }
  if (bool(o, 'dashboard')) next.dashboard.enabled = true
  const dashboardPort = num(o, 'dashboard-port')
  if (dashboardPort !== undefined) {
    next.dashboard.enabled = true
    next.dashboard.port = dashboardPort
  }
  const level = str(o, 'log-level')
  if (level !== undefined) next.log.level = level
  // A detached node writes to a log file: JSON lines, whatever the terminal was.
  if (daemon) next.log.format = 'json'
  return next
}

function isPlainTcp(address: string): boolean {
  return /\/tcp\/\d+$/.test(address)
}

function isQuic(address: string): boolean {
  return /\/udp\/\d+\/quic-v1$/.test(address)
}

/**
 * The configuration `node start` runs with: the file, the environment, then the flags, checked
 * together before anything is written.
 */
export async function loadStartConfig(
  parsed: Parsed,
  io: Io,
  dataDir: string,
  configFile: string | undefined,
  daemon: boolean,
) {
  const { loadConfig, resolveNodeConfig } = await import('@p2p-ai/node')
  const loaded = await loadConfig({
    ...(configFile === undefined ? {} : { file: configFile }),
    env: { ...io.env, [ENV.DATA_DIR]: dataDir },
    ignoreEnv: CLI_ENV_VARS,
    cwd: io.cwd,
  })
  const config = applyFlags(loaded, parsed.options, daemon)
  const resolved = resolveNodeConfig(config)
  return { config, resolved }
}

/** The watchdog's settings out of a node configuration. */
export function supervisorSettings({
  resolved,
}: Awaited<ReturnType<typeof loadStartConfig>>): SupervisorSettings {
  return { restart: resolved.supervisor, log: resolved.log.rotate }
}
