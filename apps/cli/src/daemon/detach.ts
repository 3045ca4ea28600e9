import { spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bool } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { BIN_NAME, DETACH_READY_TIMEOUT_MS, ENV, EXIT, LOG_FILE } from '../constants.js'
import { NodeAlreadyRunningError, NodeStartError, RelayedError } from '../errors.js'
import { type Io, printJson, println } from '../io.js'
import { isNodeProcess, readPid } from '../runtime.js'
import { shortId } from '../term/format.js'
import { spinner } from '../term/spinner.js'
import { snapshotDir } from './leftovers.js'
import type { DaemonMessage } from './start.js'

/** Where the binary is, to start it again as the background node. */
const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

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
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const logFile = join(dataDir, LOG_FILE)
  const log = openSync(logFile, 'a', 0o600)
  const args = ['node', 'start', ...argsOf(parsed), '--data-dir', dataDir]
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: io.cwd,
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
    env: { ...io.env, [ENV.DAEMON]: '1' },
  })
  closeSync(log)
  const spin = spinner(io.stderr, 'starting the node…')
  let message: DaemonMessage
  try {
    message = await new Promise<DaemonMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new NodeStartError(
            `the node (pid ${child.pid}) did not become ready within ${DETACH_READY_TIMEOUT_MS / 1000} s`,
            `see its log: ${logFile}; stop it with \`${BIN_NAME} node stop\``,
          ),
        )
      }, DETACH_READY_TIMEOUT_MS)
      child.once('message', (m) => {
        clearTimeout(timer)
        resolve(m as DaemonMessage)
      })
      child.once('exit', (code, signal) => {
        clearTimeout(timer)
        reject(
          new NodeStartError(
            `the node exited before it was ready (${signal ?? `exit code ${code}`})`,
            `see its log: ${logFile}`,
          ),
        )
      })
      child.once('error', (err) => {
        clearTimeout(timer)
        reject(new NodeStartError(`could not start the node: ${err.message}`, undefined, { cause: err }))
      })
      io.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          child.kill('SIGTERM')
          reject(io.signal.reason)
        },
        { once: true },
      )
    })
  } finally {
    spin.stop()
    child.removeAllListeners()
    if (child.connected) child.disconnect()
    child.unref()
  }
  if (message.type === 'error') {
    // The node said why it did not start (shown here), so its log is not needed: leave the data
    // directory as it was. A node that died without a word keeps its log, for the hint to point at.
    await before.restore()
    throw new RelayedError(message.error)
  }
  const s = message.status
  if (bool(parsed.options, 'json')) {
    printJson(io, {
      pid: s.pid,
      peerId: s.peerId,
      addresses: s.addresses,
      control: message.url,
      dataDir,
      logFile,
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
