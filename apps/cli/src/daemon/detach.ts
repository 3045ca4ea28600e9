import { bool } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { BIN_NAME, EXIT } from '../constants.js'
import { NodeAlreadyRunningError, RelayedError } from '../errors.js'
import { type Io, printJson, println } from '../io.js'
import { isNodeProcess, readPid } from '../runtime.js'
import { shortId } from '../term/format.js'
import { spinner } from '../term/spinner.js'
import { snapshotDir } from './leftovers.js'
import { spawnNode } from './spawn.js'

/** Options of `node start` that only the parent uses. */
const PARENT_ONLY = new Set(['--detach', '-d', '--json'])

/**
 * `node start --detach`: starts the node as a background process (its own session, output to
 * node.log in the data directory) and returns once it reports ready, or with its error.
 */
export async function detach(parsed: Parsed, io: Io, dataDir: string): Promise<number> {
  const running = await readPid(dataDir)
  if (running !== undefined && isNodeProcess(running)) throw new NodeAlreadyRunningError(dataDir, running)
  const before = await snapshotDir(dataDir)
  const node = spawnNode({
    dataDir,
    args: argsOf(parsed),
    mode: 'detached',
    env: io.env,
    cwd: io.cwd,
    signal: io.signal,
  })
  const spin = spinner(io.stderr, 'starting the node…')
  let message: Awaited<typeof node.ready>
  try {
    message = await node.ready
  } catch (err) {
    // The node said why it did not start (shown here), so its log is not needed: leave the data
    // directory as it was. A node that died without a word keeps its log, for the hint to point at.
    if (err instanceof RelayedError) await before.restore()
    throw err
  } finally {
    spin.stop()
    if (node.child.connected) node.child.disconnect()
    node.child.unref()
  }
  const logFile = node.logFile
  const s = message.status
  if (bool(parsed.options, 'json')) {
    printJson(io, {
      pid: s.pid,
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
    `${c.green('✔')} node ${c.bold(shortId(s.peerId))} is running in the background ${c.dim(`(pid ${s.pid})`)}`,
  )
  for (const a of s.addresses) println(io, `  ${c.dim('listening')} ${a}`)
  println(io, `  ${c.dim('log')}       ${logFile}`)
  if (message.dashboard !== undefined) {
    println(io, `  ${c.dim('dashboard')} ${message.dashboard.loginUrl} ${c.dim('(signs in once)')}`)
  }
  println(io, c.dim(`Check it with \`${BIN_NAME} node status\`; stop it with \`${BIN_NAME} node stop\`.`))
  return EXIT.OK
}

/** The command line of this `node start`, less what only the parent uses and --data-dir (re-added). */
function argsOf(parsed: Parsed): string[] {
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
