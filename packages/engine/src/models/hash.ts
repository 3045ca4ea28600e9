import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'

/** Identity of a file's contents as far as the file system tells: changes on any rewrite. */
function fingerprint(s: { size: number; mtimeMs: number; ino: number; dev: number }): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`
}

const cache = new Map<string, { fingerprint: string; sha256: string }>()

/** Lower-case hex sha256 of a file, streamed (constant memory whatever the file size). */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  const stream = createReadStream(path, signal === undefined ? {} : { signal })
  for await (const chunk of stream) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/**
 * sha256 of a file, remembered per path until the file's size, mtime or inode change, so a model
 * evicted and loaded again is not hashed twice. Returns the size too (from the same `stat`).
 */
export async function cachedSha256(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; sizeBytes: number }> {
  const before = await stat(path)
  const fp = fingerprint(before)
  const hit = cache.get(path)
  if (hit?.fingerprint === fp) return { sha256: hit.sha256, sizeBytes: before.size }
  const sha256 = await sha256File(path, signal)
  // A file rewritten while we read it gets hashed again next time rather than cached wrongly.
  if (fingerprint(await stat(path)) === fp) cache.set(path, { fingerprint: fp, sha256 })
  return { sha256, sizeBytes: before.size }
}
