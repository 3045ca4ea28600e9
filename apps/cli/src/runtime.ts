import { randomBytes } from 'node:crypto'
import { readFileSync, unlinkSync } from 'node:fs'
import { chmod, link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
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
  return pidIn(pidFile(dataDir))
}

async function pidIn(file: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await readFile(file, 'utf8')).trim(), 10)
    return Number.isSafeInteger(n) && n > 0 ? n : undefined
  } catch {
    return undefined
  }
}

/** The data directory's lock, held by this process (see `lockDataDir`). */
export interface DataDirLock {
  /** The pid of a node that had died holding the lock, when this one took it over. */
  readonly stale: number | undefined
  /** Gives the lock up now (a start that failed); otherwise it goes when the process exits. */
  release(): void
}

/**
 * Locks the data directory for this process: `node.pid` holds the pid of the node that runs from
 * it, and no second node starts there while that process lives (`NodeAlreadyRunningError`). The
 * lock is released when the process exits, whatever keeps it alive until then; a lock left by a
 * process that died is taken over. Creates the directory (0700) if needed.
 *
 * The pid file appears whole or not at all (written aside, then hard-linked into place, which
 * fails if one exists), and a stale one is removed only under `node.pid.takeover`, which one
 * process at a time can create: two starts racing for a stale lock cannot both win.
 */
export async function lockDataDir(dataDir: string, pid = process.pid): Promise<DataDirLock> {
  // 0700: the directory holds the private key and the control token.
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const file = pidFile(dataDir)
  let stale: number | undefined
  for (let attempt = 0; attempt < 20; attempt++) {
    if (await createWhole(file, `${pid}\n`)) {
      let held = true
      const release = (): void => {
        if (!held) return
        held = false
        process.off('exit', release)
        try {
          if (Number.parseInt(readFileSync(file, 'utf8'), 10) === pid) unlinkSync(file)
        } catch {
          // Already gone.
        }
      }
      process.once('exit', release)
      return { stale, release }
    }
    const other = await readPid(dataDir)
    if (other === pid) throw new NodeAlreadyRunningError(dataDir, pid)
    if (other !== undefined && isNodeProcess(other)) throw new NodeAlreadyRunningError(dataDir, other)
    if ((await removeStaleFiles(dataDir, other)) && other !== undefined) stale = other
    else await sleep(25 + Math.random() * 50)
  }
  throw new NodeAlreadyRunningError(dataDir, (await readPid(dataDir)) ?? -1)
}

/** Creates `path` with `text`, whole, unless it exists; false if it does. */
async function createWhole(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, text, { mode: 0o600 })
  try {
    await link(tmp, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    await unlinkQuiet(tmp)
  }
}

/**
 * Removes the control, token and pid files of a node that is gone: only while `node.pid` still
 * names `deadPid` (or is absent when `deadPid` is undefined), and only by one process at a time,
 * so a node that has just taken the directory keeps its files. Returns whether it removed them.
 */
export async function removeStaleFiles(dataDir: string, deadPid: number | undefined): Promise<boolean> {
  const guard = `${pidFile(dataDir)}.takeover`
  if (!(await createWhole(guard, `${process.pid}\n`))) {
    // Someone else is removing them; a guard left by a process that died goes.
    const holder = await pidIn(guard)
    if (holder === undefined || !processExists(holder)) await unlinkQuiet(guard)
    return false
  }
  try {
    if ((await readPid(dataDir)) !== deadPid) return false
    if (deadPid !== undefined && isNodeProcess(deadPid)) return false
    // The pid file last: while it exists, no new node can be writing the other two.
    await Promise.all([controlFile(dataDir), tokenFile(dataDir)].map(unlinkQuiet))
    await unlinkQuiet(pidFile(dataDir))
    return true
  } finally {
    await unlinkQuiet(guard)
  }
}

/** Removes the control and token files this node wrote (the lock goes when the process exits). */
export async function removeControlFiles(dataDir: string): Promise<void> {
  await Promise.all([controlFile(dataDir), tokenFile(dataDir)].map(unlinkQuiet))
}

async function unlinkQuiet(path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
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
