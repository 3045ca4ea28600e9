import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { MAX_HASH_CACHE_ENTRIES } from '../constants.js'

/** A file's sha256 and size. */
export interface FileHash {
  /** Lower-case hex. */
  readonly sha256: string
  readonly sizeBytes: number
}

/**
 * Remembers the sha256 of model files by file identity, so a file is hashed once and not again until
 * it changes. Create with {@link hashCache}.
 */
export interface HashCache {
  /**
   * The file's sha256: from the cache while the file's identity (device, inode, size, mtime and
   * ctime) is the one it was hashed with, else hashed now (streamed, constant memory) and
   * remembered.
   */
  hash(path: string, options?: { signal?: AbortSignal }): Promise<FileHash>
}

export interface HashCacheInit {
  /**
   * A JSON file to keep the hashes in, so that a restart does not hash again (the node keeps one
   * in its data directory). Several threads and processes may share it: each write merges with
   * what is on disk. A missing, unreadable or malformed file is treated as empty.
   * @default memory only
   */
  readonly file?: string
}

/**
 * What identifies a file's contents as far as the file system tells. Any rewrite changes the ctime
 * (which, unlike the mtime, no one can set back), so a file edited in place is hashed again even if
 * its size and mtime were restored.
 */
function identity(s: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`
}

interface Remembered {
  readonly identity: string
  readonly sha256: string
  readonly hashedAt: number
}

interface CacheFile {
  readonly version: 1
  readonly files: Record<string, Remembered>
}

const SHA256_RE = /^[0-9a-f]{64}$/

/** Lower-case hex sha256 of a file, streamed (constant memory whatever the file size). */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  const stream = createReadStream(path, signal === undefined ? {} : { signal })
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

async function readCacheFile(file: string): Promise<Map<string, Remembered>> {
  const entries = new Map<string, Remembered>()
  let parsed: Partial<CacheFile>
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<CacheFile>
  } catch {
    // Missing or damaged: it only saves work, so start empty and write a good one next time.
    return entries
  }
  if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null) return entries
  for (const [path, r] of Object.entries(parsed.files)) {
    if (
      typeof r?.identity === 'string' &&
      typeof r.sha256 === 'string' &&
      SHA256_RE.test(r.sha256) &&
      Number.isFinite(r.hashedAt)
    ) {
      entries.set(path, { identity: r.identity, sha256: r.sha256, hashedAt: r.hashedAt })
    }
  }
  return entries
}

/** Creates a hash cache, in memory or backed by a file. */
export function hashCache(init: HashCacheInit = {}): HashCache {
  const { file } = init
  let entries: Promise<Map<string, Remembered>> | undefined
  const load = (): Promise<Map<string, Remembered>> => {
    entries ??= file === undefined ? Promise.resolve(new Map()) : readCacheFile(file)
    return entries
  }
  // Writes go one after another; each merges the file's current content with ours, newest wins.
  let writing: Promise<void> = Promise.resolve()
  const persist = (path: string, remembered: Remembered): Promise<void> => {
    if (file === undefined) return Promise.resolve()
    writing = writing.then(async () => {
      const merged = await readCacheFile(file)
      for (const [p, r] of await load()) {
        const theirs = merged.get(p)
        if (theirs === undefined || theirs.hashedAt < r.hashedAt) merged.set(p, r)
      }
      merged.set(path, remembered)
      // Bounded: the least recently hashed files (often ones deleted long ago) go first.
      const kept = [...merged].sort((a, b) => b[1].hashedAt - a[1].hashedAt).slice(0, MAX_HASH_CACHE_ENTRIES)
      const content: CacheFile = { version: 1, files: Object.fromEntries(kept) }
      const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`
      try {
        await writeFile(tmp, `${JSON.stringify(content, null, 1)}\n`, { mode: 0o600 })
        await rename(tmp, file)
      } catch {
        // An unwritable cache costs a hash at the next start, nothing more.
        await rm(tmp, { force: true }).catch(() => {})
      }
    })
    return writing
  }

  return {
    async hash(path, options = {}) {
      const before = await stat(path, { bigint: true })
      const id = identity(before)
      const sizeBytes = Number(before.size)
      const known = await load()
      const hit = known.get(path)
      if (hit?.identity === id) return { sha256: hit.sha256, sizeBytes }
      const sha256 = await sha256File(path, options.signal)
      // A file rewritten while it was read gets hashed again next time rather than cached wrongly.
      if (identity(await stat(path, { bigint: true })) === id) {
        const remembered = { identity: id, sha256, hashedAt: Date.now() }
        known.set(path, remembered)
        await persist(path, remembered)
      }
      return { sha256, sizeBytes }
    },
  }
}

/** The cache registries use when given none: in memory, shared by the whole thread. */
export const memoryHashCache: HashCache = hashCache()
