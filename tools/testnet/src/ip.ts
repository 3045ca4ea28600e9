import { execFile, execFileSync } from 'node:child_process'
import { IP_BIN, IP_TIMEOUT_MS } from './constants.js'
import { TestnetCommandError, TestnetUnavailableError } from './errors.js'

/** Runs `ip args…`; `input` is fed on stdin (for `-batch -`). */
export async function ip(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      IP_BIN,
      args,
      { timeout: IP_TIMEOUT_MS, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err != null) {
          reject(new TestnetCommandError(args, stderr || err.message))
          return
        }
        resolve(stdout)
      },
    )
    if (input !== undefined) {
      child.stdin?.end(input)
    }
  })
}

/** Runs several `ip` commands in one process (`ip [-n ns] -batch -`). */
export async function ipBatch(commands: string[], namespace?: string): Promise<void> {
  if (commands.length === 0) {
    return
  }
  const args = namespace === undefined ? ['-batch', '-'] : ['-n', namespace, '-batch', '-']
  await ip(args, `${commands.join('\n')}\n`)
}

/** Synchronous variant for exit handlers, where no promise will ever settle. Never throws. */
export function ipSync(args: string[]): void {
  try {
    execFileSync(IP_BIN, args, { timeout: IP_TIMEOUT_MS, stdio: 'ignore' })
  } catch {
    // Best effort: the namespace may be gone already.
  }
}

/** Names of all network namespaces. */
export async function listNamespaces(): Promise<string[]> {
  const out = await ip(['netns', 'list'])
  return out
    .split('\n')
    .map((line) => line.trim().split(' ')[0] ?? '')
    .filter((name) => name !== '')
}

/** PIDs of processes running in a namespace. */
export async function namespacePids(namespace: string): Promise<number[]> {
  const out = await ip(['netns', 'pids', namespace])
  return out
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => Number.isInteger(pid) && pid > 0)
}

/**
 * Throws a clear error when network namespaces cannot be created here: the caller is not root or
 * iproute2 is missing. Tests call it up front so they fail with this message instead of passing.
 *
 * @throws {TestnetUnavailableError}
 */
export async function assertTestnetAvailable(): Promise<void> {
  if (process.platform !== 'linux') {
    throw new TestnetUnavailableError(`network namespaces need Linux, this is ${process.platform}`)
  }
  if (process.getuid?.() !== 0) {
    throw new TestnetUnavailableError(
      `creating network namespaces needs root (this process runs as uid ${process.getuid?.()}); run as root, as CI does`,
    )
  }
  try {
    await ip(['netns', 'list'])
  } catch (err) {
    throw new TestnetUnavailableError(`'${IP_BIN} netns' is not usable: ${(err as Error).message}`)
  }
}
