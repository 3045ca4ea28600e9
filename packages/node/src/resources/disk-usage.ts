/**
 * What a directory takes on disk: the allocated blocks of every file under it (like `du`), walked
 * without following symbolic links, at most `maxFiles` files.
 */
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { DISK_SCAN_MAX_FILES } from './constants.js'

/** The size found, and whether the walk stopped early (the size is then a lower bound). */
export interface DirectorySize {
  readonly bytes: number
  readonly files: number
  readonly complete: boolean
}

export async function directorySize(
  dir: string,
  options: { maxFiles?: number; signal?: AbortSignal } = {},
): Promise<DirectorySize> {
  const maxFiles = options.maxFiles ?? DISK_SCAN_MAX_FILES
  let bytes = 0
  let files = 0
  const pending = [dir]
  while (pending.length > 0) {
    options.signal?.throwIfAborted()
    const current = pending.pop() as string
    let entries: import('node:fs').Dirent[]
    try {
      entries = await readdir(current, { withFileTypes: true })
    } catch {
      continue
    }
    for (const entry of entries) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) {
        pending.push(path)
        continue
      }
      if (files >= maxFiles) return { bytes, files, complete: false }
      try {
        const s = await lstat(path)
        // Allocated blocks where the OS reports them (sparse files count what they use).
        bytes += s.blocks > 0 ? s.blocks * 512 : s.size
        files++
      } catch {
        // Gone meanwhile.
      }
    }
  }
  return { bytes, files, complete: true }
}
