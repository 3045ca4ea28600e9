/**
 * `node.log` of a node run in the background: written by its watchdog (the node itself writes to
 * the pipe the watchdog reads), rolled by pino-roll when it reaches `log.rotate.maxBytes` and at
 * midnight, keeping `log.rotate.maxAgeDays` files and deleting any older than `log.rotate.maxAgeDays`
 * days (files of earlier runs too, checked at start and every hour). The files live in `<dataDir>/logs`
 * (`node.<date>.<n>.log`, with pino-roll's `current.log` link to the one being written), and
 * `<dataDir>/node.log` links to `logs/current.log`, so the name users and hints know keeps
 * working.
 */
import { lstat, mkdir, readdir, readlink, rename, stat, symlink, unlink } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { LOG_AGE_SWEEP_MS, LOG_FILE, LOGS_DIR } from '../constants.js'

/** The `log.rotate.*` settings. */
export interface LogRotation {
  readonly maxBytes: number
  readonly maxAgeDays: number
}

/** The part of pino-roll's SonicBoom stream the watchdog uses. */
export interface LogStream {
  write(text: string): boolean
  flushSync(): void
  end(): void
  on(event: 'error', listener: (err: Error) => void): unknown
  on(event: 'close', listener: () => void): unknown
}

interface PinoRollOptions {
  file: string
  size: string
  frequency: 'daily' | number
  dateFormat: string
  extension: string
  mkdir: boolean
  symlink: boolean
  limit: { count: number; removeOtherLogFiles: boolean }
  sync: boolean
  mode: number
}

const require = createRequire(import.meta.url)

/**
 * Opens the rolling log of `dataDir`. `frequency` is for tests (a number of milliseconds); the
 * watchdog rolls daily.
 */
export async function openRollingLog(
  dataDir: string,
  rotation: LogRotation,
  frequency: 'daily' | number = 'daily',
): Promise<LogStream> {
  const dir = join(dataDir, LOGS_DIR)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await linkNodeLog(dataDir)
  await removeOldLogs(dir, rotation.maxAgeDays)
  const build = require('pino-roll') as (options: PinoRollOptions) => Promise<LogStream>
  const stream = await build({
    file: join(dir, 'node'),
    size: `${rotation.maxBytes}b`,
    frequency,
    dateFormat: 'yyyy-MM-dd',
    extension: '.log',
    mkdir: true,
    symlink: true,
    // Files of earlier runs count too: what is on the disk is bounded, not only this run's part.
    limit: { count: rotation.maxAgeDays, removeOtherLogFiles: true },
    // Written as it comes: a crash loses nothing the watchdog was given.
    sync: true,
    // Peers' ids and addresses are in it: the owner's to read.
    mode: 0o600,
  })
  // pino-roll bounds the count; age is ours: a node that was off for a week must not keep its
  // old files until enough new ones push them out.
  const sweep = setInterval(() => {
    removeOldLogs(dir, rotation.maxAgeDays).catch(() => {})
  }, LOG_AGE_SWEEP_MS)
  sweep.unref()
  stream.on('close', () => clearInterval(sweep))
  return stream
}

const ROLLED_LOG = /^node\..+\.log$/
const DAY_MS = 86_400_000

/**
 * Deletes the rolled files in `dir` last written more than `maxAgeDays` days before `now`, never
 * the one being written. Resolves to the names it deleted.
 */
export async function removeOldLogs(
  dir: string,
  maxAgeDays: number,
  now: number = Date.now(),
): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[])
  const current = await readlink(join(dir, 'current.log')).catch(() => undefined)
  const removed: string[] = []
  for (const name of names) {
    if (!ROLLED_LOG.test(name) || name === current) continue
    const path = join(dir, name)
    const info = await stat(path).catch(() => undefined)
    if (info === undefined || now - info.mtimeMs <= maxAgeDays * DAY_MS) continue
    await unlink(path).then(
      () => removed.push(name),
      () => {},
    )
  }
  return removed
}

/**
 * Makes `<dataDir>/node.log` a link to `logs/current.log`. A `node.log` that is a file (from a
 * version before rotation, or a node run by the demo) is moved into `logs` rather than lost.
 */
async function linkNodeLog(dataDir: string): Promise<void> {
  const path = join(dataDir, LOG_FILE)
  const stat = await lstat(path).catch(() => undefined)
  if (stat?.isSymbolicLink()) return
  if (stat !== undefined) await rename(path, join(dataDir, LOGS_DIR, `node.before-${Date.now()}.log`))
  try {
    await symlink(join(LOGS_DIR, 'current.log'), path)
  } catch {
    // No symbolic links here (some Windows setups): the files in logs/ are the log.
  }
}
