import { join } from 'node:path'
import { bool } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { BIN_NAME, ENV, EXIT, LOGS_DIR } from '../constants.js'
import { NodeAlreadyRunningError, RelayedError } from '../errors.js'
import { type Io, printJson, println } from '../io.js'
import { isNodeProcess, readPid } from '../runtime.js'
import { shortId } from '../term/format.js'
import { spinner } from '../term/spinner.js'
import { loadStartConfig, supervisorSettings } from './config.js'
import { snapshotDir } from './leftovers.js'
import { spawnNode } from './spawn.js'
import { readSupervisorState } from './supervisor-state.js'

/** Options of `node start` that only the process started from the command line uses. */
const PARENT_ONLY = new Set(['--detach', '-d', '--json', '--supervise'])

/** Throws `NodeAlreadyRunningError` if a node, or a watchdog waiting to restart one, runs from `dataDir`. */
export async function assertNotRunning(dataDir: string): Promise<void> {
  const running = await readPid(dataDir)
  if (running !== undefined && isNodeProcess(running)) throw new NodeAlreadyRunningError(dataDir, running)
  const watchdog = await readSupervisorState(dataDir)
  if (watchdog !== undefined && watchdog.state !== 'gave-up' && isNodeProcess(watchdog.pid)) {
    throw new NodeAlreadyRunningError(dataDir, watchdog.pid)
  }
}

/**
 * `node start --detach`: starts the node in the background under its watchdog (supervisor.ts: its
 * own session, the node's output to the rolling node.log in the data directory, restarts after a
 * crash) and returns once the node reports ready, or with its error.
 */
export async function detach(
  parsed: Parsed,
  io: Io,
  dataDir: string,
  configFile: string | undefined,
): Promise<number> {
  await assertNotRunning(dataDir)
  // Checked here, so a bad setting is reported before anything starts; the watchdog takes its own.
  const settings = supervisorSettings(await loadStartConfig(parsed, io, dataDir, configFile, true))
  const before = await snapshotDir(dataDir)
  const watchdog = spawnNode({
    dataDir,
    args: nodeArgsOf(parsed),
    mode: 'supervisor',
    // The watchdog writes node.log itself; its own output is only ever a bug's.
    output: join(dataDir, LOGS_DIR, 'supervisor.log'),
    env: { ...io.env, [ENV.SUPERVISOR]: JSON.stringify(settings) },
    cwd: io.cwd,
    signal: io.signal,
  })
  const spin = spinner(io.stderr, 'starting the node…')
  let message: Awaited<typeof watchdog.ready>
  try {
    message = await watchdog.ready
  } catch (err) {
    // The node said why it did not start (shown here), so its log is not needed: leave the data
    // directory as it was. A node that died without a word keeps its log, for the hint to point at.
    if (err instanceof RelayedError) await before.restore()
    throw err
  } finally {
    spin.stop()
    if (watchdog.child.connected) watchdog.child.disconnect()
    watchdog.child.unref()
  }
  const logFile = watchdog.logFile
  const s = message.status
  if (bool(parsed.options, 'json')) {
    printJson(io, {
      pid: s.pid,
      supervisorPid: watchdog.child.pid,
      peerId: s.peerId,
      addresses: s.addresses,
      control: message.url,
      dataDir,
      logFile,
      ...(message.dashboard === undefined ? {} : { dashboard: message.dashboard }),
    })
    return EXIT.OK
  }
  const c = io.out
  println(
    io,
    `${c.green('✔')} node ${c.bold(shortId(s.peerId))} is running in the background ${c.dim(`(pid ${s.pid}, watched by pid ${watchdog.child.pid}, which restarts it if it crashes)`)}`,
  )
  for (const a of s.addresses) println(io, `  ${c.dim('listening')} ${a}`)
  println(io, `  ${c.dim('log')}       ${logFile}`)
  if (message.dashboard !== undefined) {
    println(io, `  ${c.dim('dashboard')} ${message.dashboard.loginUrl} ${c.dim('(signs in once)')}`)
  }
  println(io, c.dim(`Check it with \`${BIN_NAME} node status\`; stop it with \`${BIN_NAME} node stop\`.`))
  return EXIT.OK
}

/** The command line of this `node start` for the node itself: less what only the parent uses, and --data-dir (re-added). */
export function nodeArgsOf(parsed: Parsed): string[] {
  const out: string[] = []
  for (const [name, value] of Object.entries(parsed.options)) {
    if (value === undefined || value === false || PARENT_ONLY.has(`--${name}`) || name === 'data-dir')
      continue
    if (name === 'help') continue
    if (value === true) out.push(`--${name}`)
    else if (Array.isArray(value)) for (const v of value) out.push(`--${name}=${v}`)
    else out.push(`--${name}=${String(value)}`)
  }
  return out
}
