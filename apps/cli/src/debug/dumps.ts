/**
 * `debug profile` and `debug heap-dump` on the node's side: a CPU profile of the node's main
 * thread (the V8 profiler through `node:inspector`, the `.cpuprofile` Chrome DevTools and VS Code
 * open) and a V8 heap snapshot (`.heapsnapshot`), written into the data directory or to a path
 * given. Files are created owner-only (0600) and never overwrite anything: a heap snapshot holds
 * everything in the node's memory, its private key included.
 */
import { mkdir, open, stat, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { dirname, isAbsolute, join } from 'node:path'
import { writeHeapSnapshot } from 'node:v8'
import type { DumpJson } from '../control/debug-types.js'
import { DEBUG_DIR, PROFILE_SAMPLING_INTERVAL_US } from './constants.js'

/** A coded error for the control API. */
function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code })
}

/** One profile and one heap snapshot at a time: a second would distort the first. */
const busy = new Set<'profile' | 'heap'>()

/** Samples the main thread's stacks for `durationMs` (or until `signal` aborts), then writes the profile. */
export async function cpuProfile(
  dataDir: string,
  options: { path?: string; durationMs: number; signal?: AbortSignal },
): Promise<DumpJson> {
  return exclusive('profile', async () => {
    const path = await claim(dataDir, options.path, 'profile', 'cpuprofile')
    const started = performance.now()
    const session = new Session()
    session.connect()
    try {
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: PROFILE_SAMPLING_INTERVAL_US })
      await session.post('Profiler.start')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.durationMs)
        options.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer)
            resolve()
          },
          { once: true },
        )
      })
      const { profile } = await session.post('Profiler.stop')
      const text = JSON.stringify(profile)
      await writeFile(path, text, { mode: 0o600 })
      return { path, bytes: Buffer.byteLength(text), durationMs: Math.round(performance.now() - started) }
    } finally {
      session.disconnect()
    }
  })
}

/** Writes a V8 heap snapshot; the node pauses while V8 walks its heap. */
export async function heapDump(dataDir: string, options: { path?: string }): Promise<DumpJson> {
  return exclusive('heap', async () => {
    const path = await claim(dataDir, options.path, 'heap', 'heapsnapshot')
    const started = performance.now()
    writeHeapSnapshot(path)
    return { path, bytes: (await stat(path)).size, durationMs: Math.round(performance.now() - started) }
  })
}

async function exclusive<T>(kind: 'profile' | 'heap', run: () => Promise<T>): Promise<T> {
  if (busy.has(kind)) {
    throw coded(
      'ERR_DEBUG_BUSY',
      `a ${kind === 'profile' ? 'CPU profile' : 'heap snapshot'} is being taken already`,
    )
  }
  busy.add(kind)
  try {
    return await run()
  } finally {
    busy.delete(kind)
  }
}

/**
 * The file to write: the path given (absolute, not existing, in an existing directory), or a new
 * one in `<dataDir>/debug/`. It is created empty and owner-only here, so nothing else can be
 * written in its place, and nobody else can read what goes into it.
 */
async function claim(
  dataDir: string,
  given: string | undefined,
  prefix: string,
  extension: string,
): Promise<string> {
  let path: string
  if (given === undefined) {
    const dir = join(dataDir, DEBUG_DIR)
    await mkdir(dir, { recursive: true, mode: 0o700 })
    path = join(dir, `${prefix}-${new Date().toISOString().replaceAll(':', '-')}-${process.pid}.${extension}`)
  } else {
    if (!isAbsolute(given)) throw coded('ERR_BAD_REQUEST', `"path" must be absolute, got ${given}`)
    path = given
    try {
      if (!(await stat(dirname(path))).isDirectory()) throw new Error('not a directory')
    } catch {
      throw coded('ERR_BAD_REQUEST', `the directory of ${path} does not exist`)
    }
  }
  try {
    await (await open(path, 'wx', 0o600)).close()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw coded(
      'ERR_BAD_REQUEST',
      code === 'EEXIST' ? `${path} exists already; give a new file name` : `cannot create ${path}: ${code}`,
    )
  }
  return path
}
