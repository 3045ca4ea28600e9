import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { chmod, mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CONTROL_FILE, PID_FILE, TOKEN_BYTES, TOKEN_FILE } from './constants.js'
import { NodeAlreadyRunningError } from './errors.js'

/** What a running node writes to `control.json` in its data directory. */
export interface ControlInfo {
  /** The node's process id. */
  readonly pid: number
  /** Base URL of the control API, `http://127.0.0.1:<port>`. */
  readonly url: string
  /** `Date.now()` when the control API started. */
  readonly startedAt: number
  /** Version of the CLI that runs the node. */
  readonly version: string
  readonly peerId: string
}

export const pidFile = (dataDir: string): string => join(dataDir, PID_FILE)
export const controlFile = (dataDir: string): string => join(dataDir, CONTROL_FILE)
export const tokenFile = (dataDir: string): string => join(dataDir, TOKEN_FILE)

/** Whether a process with this id exists (EPERM: it exists but belongs to someone else). */
export function processExists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  return !isZombie(pid)
}

/** An exited process not yet reaped by its parent still answers signals; /proc tells (Linux). */
function isZombie(pid: number): boolean {
  if (process.platform !== 'linux') return false
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
  } catch {
    return false
  }
}

/**
 * Whether `pid` is a running p2p-ai node. Where /proc shows the command line (Linux), a live pid
 * whose command is not `... node start ...` counts as not running: the node died and the pid was
 * reused.
 */
export function isNodeProcess(pid: number): boolean {
  if (!processExists(pid)) return false
  if (process.platform !== 'linux') return true
  let cmdline: string
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
  } catch {
    return true
  }
  const args = cmdline.split('\0')
  return args.some((a, i) => a === 'node' && args[i + 1] === 'start')
}

/** The pid in the data directory's pid file, if there is a readable one. */
export async function readPid(dataDir: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(pidFile(dataDir), 'utf8')).trim(), 10)
    return Number.isSafeInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/**
 * Writes this process's pid file, refusing when a node already runs from the data directory.
 * A pid file left by a node that died is replaced; its pid is returned as `stale`.
 */
export async function claimPidFile(dataDir: string, pid = process.pid): Promise<{ stale?: number }> {
  const file = pidFile(dataDir)
  // 0700: the directory holds the private key and the control token.
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600)
      await handle.writeFile(`${pid}\n`)
      await handle.close()
      return {}
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const other = await readPid(dataDir)
    if (other !== undefined && other !== pid && isNodeProcess(other)) {
      throw new NodeAlreadyRunningError(dataDir, other)
    }
    await removeStaleFiles(dataDir)
    if (other !== undefined && other !== pid) {
      const result = await claimPidFile(dataDir, pid)
      return { ...result, stale: other }
    }
  }
  throw new NodeAlreadyRunningError(dataDir, (await readPid(dataDir)) ?? -1)
}

/** Removes the pid, control and token files (of a node that is gone). */
export async function removeStaleFiles(dataDir: string): Promise<void> {
  await Promise.all([pidFile(dataDir), controlFile(dataDir), tokenFile(dataDir)].map(unlinkQuiet))
}

/** Removes the runtime files this process wrote; a pid file of another process stays. */
export async function releaseRuntimeFiles(dataDir: string, pid = process.pid): Promise<void> {
  await Promise.all([controlFile(dataDir), tokenFile(dataDir)].map(unlinkQuiet))
  if ((await readPid(dataDir)) === pid) await unlinkQuiet(pidFile(dataDir))
}

async function unlinkQuiet(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/** A new control token: 32 random bytes as hex. */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString('hex')
}

/** Writes the token (mode 0600, readable by this user only), then `control.json` atomically. */
export async function writeControlFiles(dataDir: string, info: ControlInfo, token: string): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await writePrivate(tokenFile(dataDir), `${token}\n`)
  await writePrivate(controlFile(dataDir), `${JSON.stringify(info, null, 2)}\n`)
}

async function writePrivate(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode: 0o600 })
  // The mode of `writeFile` is filtered by the umask and ignored for an existing file.
  await chmod(tmp, 0o600)
  await rename(tmp, path)
}

/** `control.json` of the data directory, if present and well-formed. */
export async function readControlInfo(dataDir: string): Promise<ControlInfo | undefined> {
  let text: string
  try {
    text = await readFile(controlFile(dataDir), 'utf8')
  } catch {
    return undefined
  }
  try {
    const info = JSON.parse(text) as Partial<ControlInfo>
    if (typeof info.pid !== 'number' || typeof info.url !== 'string') return undefined
    return info as ControlInfo
  } catch {
    return undefined
  }
}

/** The control token, or the reason it cannot be read. */
export async function readToken(dataDir: string): Promise<string> {
  return (await readFile(tokenFile(dataDir), 'utf8')).trim()
}
