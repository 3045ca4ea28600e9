/**
 * A node as a service of the user's session, started at login and restarted when it fails:
 * `node install-service` writes the file, `node uninstall-service` removes it. Neither enables,
 * starts or stops anything: the commands to do so are printed, for the user to run.
 *
 * - **Linux**: a systemd user unit, `~/.config/systemd/user/<name>.service`. systemd is the
 *   watchdog (`Restart=on-failure`, at most 5 starts in 60 s) and journald keeps the log, rotated
 *   (`journalctl --user -u <name>`). The node runs at a low CPU and I/O priority, so the owner's
 *   own work comes first.
 * - **macOS**: a launchd agent, `~/Library/LaunchAgents/<label>.plist`, that runs the node under
 *   the CLI's own watchdog (`node start --supervise`), which rotates node.log; launchd starts the
 *   watchdog at login and again if it exits with a failure (it gave up), at most every 10 s.
 *
 * A node stopped with `node stop` exits cleanly and stays stopped under both.
 */
import { join } from 'node:path'

/** Where the service runs. */
export type ServicePlatform = 'systemd' | 'launchd'

export interface ServiceInit {
  readonly platform: ServicePlatform
  /** The unit's name (systemd) or the agent's label suffix (launchd). */
  readonly name: string
  /** The Node.js binary and the CLI's entry point, as absolute paths. */
  readonly node: string
  readonly bin: string
  readonly dataDir: string
  readonly configFile: string | undefined
  /** The user's home and `XDG_CONFIG_HOME`, for where the file goes. */
  readonly home: string
  readonly xdgConfigHome: string | undefined
}

/** A service definition: where it goes and what it says, and how to turn it on and off. */
export interface ServiceFile {
  readonly path: string
  readonly content: string
  /** Commands that enable and start it (printed, never run). */
  readonly enable: readonly string[]
  /** Commands that stop and disable it before it is removed (printed, never run). */
  readonly disable: readonly string[]
}

/** Names of units and labels: letters, digits, `-`, `_`, `.`. */
export const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export const DEFAULT_SERVICE_NAME = 'p2p-ai'

/** Restart policy of the systemd unit: at most `START_LIMIT_BURST` starts in the interval. */
const RESTART_SEC = 5
const START_LIMIT_INTERVAL_SEC = 60
const START_LIMIT_BURST = 5
/** Time systemd gives the node to stop: the shutdown deadline (8 s by default) and a margin. */
const TIMEOUT_STOP_SEC = 30
/** launchd starts a failed agent again at most this often. */
const THROTTLE_INTERVAL_SEC = 10
const NICE = 10

/** The service file for `init`. */
export function serviceFile(init: ServiceInit): ServiceFile {
  return init.platform === 'systemd' ? systemdUnit(init) : launchdAgent(init)
}

/** The platform's service manager, if it has one this supports. */
export function servicePlatformOf(platform: NodeJS.Platform): ServicePlatform | undefined {
  return platform === 'linux' ? 'systemd' : platform === 'darwin' ? 'launchd' : undefined
}

function startArgs(init: ServiceInit, extra: readonly string[]): string[] {
  return [
    init.node,
    init.bin,
    'node',
    'start',
    ...extra,
    '--data-dir',
    init.dataDir,
    ...(init.configFile === undefined ? [] : ['--config', init.configFile]),
  ]
}

function systemdUnit(init: ServiceInit): ServiceFile {
  const unit = `${init.name}.service`
  const dir = join(init.xdgConfigHome ?? join(init.home, '.config'), 'systemd', 'user')
  const content = `# Written by \`p2p-ai-agents node install-service\`; remove it with \`node uninstall-service\`.
[Unit]
Description=p2p-ai node (data directory ${init.dataDir})
Documentation=https://github.com/p2p-ai/p2p-ai/blob/main/docs/operations.md
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=${START_LIMIT_INTERVAL_SEC}
StartLimitBurst=${START_LIMIT_BURST}

[Service]
Type=simple
ExecStart=${startArgs(init, []).map(systemdQuote).join(' ')}
# A crash or a kill restarts it; \`node stop\` (a clean exit) does not.
Restart=on-failure
RestartSec=${RESTART_SEC}
KillSignal=SIGTERM
TimeoutStopSec=${TIMEOUT_STOP_SEC}
# The owner's own work comes first.
Nice=${NICE}
IOSchedulingClass=idle
NoNewPrivileges=yes

[Install]
WantedBy=default.target
`
  return {
    path: join(dir, unit),
    content,
    enable: ['systemctl --user daemon-reload', `systemctl --user enable --now ${unit}`],
    disable: [`systemctl --user disable --now ${unit}`],
  }
}

function launchdAgent(init: ServiceInit): ServiceFile {
  const label = `ai.p2p.${init.name}`
  const path = join(init.home, 'Library', 'LaunchAgents', `${label}.plist`)
  const out = join(init.dataDir, 'logs', 'launchd.log')
  const args = startArgs(init, ['--supervise'])
    .map((a) => `      <string>${xml(a)}</string>`)
    .join('\n')
  const content = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by \`p2p-ai-agents node install-service\`; remove it with \`node uninstall-service\`. -->
<plist version="1.0">
  <dict>
    <key>Label</key>
    <string>${xml(label)}</string>
    <key>ProgramArguments</key>
    <array>
${args}
    </array>
    <key>WorkingDirectory</key>
    <string>${xml(init.dataDir)}</string>
    <key>RunAtLoad</key>
    <true/>
    <key>KeepAlive</key>
    <dict>
      <key>SuccessfulExit</key>
      <false/>
    </dict>
    <key>ThrottleInterval</key>
    <integer>${THROTTLE_INTERVAL_SEC}</integer>
    <key>ProcessType</key>
    <string>Background</string>
    <key>Nice</key>
    <integer>${NICE}</integer>
    <key>LowPriorityIO</key>
    <true/>
    <key>StandardOutPath</key>
    <string>${xml(out)}</string>
    <key>StandardErrorPath</key>
    <string>${xml(out)}</string>
  </dict>
</plist>
`
  const target = `gui/$(id -u)`
  return {
    path,
    content,
    enable: [`launchctl bootstrap ${target} ${shellQuote(path)}`],
    disable: [`launchctl bootout ${target}/${label}`],
  }
}

/** One word of an `ExecStart=` line: quoted when it holds spaces, quotes, backslashes or `%`. */
function systemdQuote(word: string): string {
  const escaped = word.replace(/%/g, '%%')
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}
