import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** What a data directory held before a start: a start that fails leaves it as it found it. */
export interface DirSnapshot {
  /** Removes what appeared since the snapshot: the directory itself if it was not there. */
  restore(): Promise<void>
}

/**
 * Notes what `dir` holds now. A failed `node start` must not leave a new identity, an empty store
 * or a data directory nobody asked to keep: only what this start created is removed, never what
 * was there before.
 */
export async function snapshotDir(dir: string): Promise<DirSnapshot> {
  let before: ReadonlySet<string> | undefined
  try {
    before = new Set(await readdir(dir))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  return {
    async restore() {
      if (before === undefined) {
        await rm(dir, { recursive: true, force: true })
        return
      }
      let now: string[]
      try {
        now = await readdir(dir)
      } catch {
        return
      }
      await Promise.all(
        now
          .filter((name) => !before.has(name))
          .map((name) => rm(join(dir, name), { recursive: true, force: true })),
      )
    },
  }
}
