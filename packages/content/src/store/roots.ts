/**
 * What the store keeps, by root CID: content put or fetched (a task's input or output, data of a
 * caller's own) until it expires, and the DAG nodes of shared models while the model is
 * registered. Everything else in the block store is garbage for the sweep. Kept in one small JSON
 * file, written atomically after every change (debounced), so it survives a restart.
 *
 * A `data` root is kept for two kinds of caller: those that only ask for a time (`keptUntil`), and
 * holders, counted (`holds`), that say when they are done (`release`). It goes when its time is
 * up, or as soon as the last holder lets go and no caller of the first kind still wants it; its
 * expiry bounds the holds too, so a holder that never comes back (a crash) leaks nothing for good.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'

/** `data`: expires; `model`: kept while the model is shared. */
export type RootKind = 'data' | 'model'

export interface RootEntry {
  readonly cid: string
  readonly kind: RootKind
  /** Bytes of content under it, when known. */
  readonly size?: number
  /** `Date.now()` after which a `data` root is deleted. */
  readonly expiresAt?: number
  /** Holders of a `data` root that have not released it yet. */
  readonly holds?: number
  /** Until when callers that do not release it asked for a `data` root to be kept. */
  readonly keptUntil?: number
}

interface RootsFile {
  readonly version: 1
  readonly roots: readonly RootEntry[]
}

/** How long changes are gathered before the file is written. */
const SAVE_DELAY_MS = 200

export class RootIndex {
  readonly #file: string
  readonly #roots = new Map<string, RootEntry>()
  #timer: NodeJS.Timeout | undefined
  #saving: Promise<void> = Promise.resolve()

  private constructor(file: string) {
    this.#file = file
  }

  /** Reads the index (an unreadable one is started afresh: the sweep then frees what it held). */
  static async open(file: string): Promise<RootIndex> {
    const index = new RootIndex(file)
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<RootsFile>
      for (const entry of parsed.roots ?? []) {
        if (typeof entry?.cid === 'string' && (entry.kind === 'data' || entry.kind === 'model')) {
          // Written before holds were counted: every keep of it was a kept time.
          const legacy = entry.kind === 'data' && entry.holds === undefined && entry.keptUntil === undefined
          index.#roots.set(entry.cid, legacy ? { ...entry, keptUntil: entry.expiresAt ?? 0 } : entry)
        }
      }
    } catch {
      // None yet, or not JSON (writes are atomic, so only a hand edit does that): start afresh.
    }
    return index
  }

  /**
   * Keeps a `data` root until at least `expiresAt` (never shortens what is kept); `hold`: for a
   * holder that will `release` it, which may drop it before then.
   */
  keepData(cid: string, expiresAt: number, size?: number, hold = false): void {
    const known = this.#roots.get(cid)
    if (known?.kind === 'model') return
    const holds = (known?.holds ?? 0) + (hold ? 1 : 0)
    const keptUntil = hold ? known?.keptUntil : Math.max(expiresAt, known?.keptUntil ?? 0)
    const entry: RootEntry = {
      cid,
      kind: 'data',
      expiresAt: Math.max(expiresAt, known?.expiresAt ?? 0),
      ...((size ?? known?.size) === undefined ? {} : { size: (size ?? known?.size) as number }),
      ...(holds === 0 ? {} : { holds }),
      ...(keptUntil === undefined ? {} : { keptUntil }),
    }
    this.#roots.set(cid, entry)
    this.#changed()
  }

  /**
   * One holder of a `data` root lets go of it. True when that dropped the root: no holder is left
   * and no caller without a hold still wants it at `now` (otherwise it stays until that time only).
   */
  release(cid: string, now: number): boolean {
    const known = this.#roots.get(cid)
    if (known === undefined || known.kind !== 'data') return false
    const holds = Math.max(0, (known.holds ?? 0) - 1)
    const keptUntil = known.keptUntil ?? 0
    if (holds === 0 && keptUntil <= now) {
      this.#roots.delete(cid)
      this.#changed()
      return true
    }
    const { holds: _, ...rest } = known
    this.#roots.set(cid, {
      ...rest,
      ...(holds === 0 ? { expiresAt: keptUntil } : { holds }),
    })
    this.#changed()
    return false
  }

  /** Keeps a model's root while the model is shared. */
  keepModel(cid: string, size: number): void {
    this.#roots.set(cid, { cid, kind: 'model', size })
    this.#changed()
  }

  /** Stops keeping `cid` (a model no longer shared). */
  forget(cid: string): void {
    if (this.#roots.delete(cid)) this.#changed()
  }

  get(cid: string): RootEntry | undefined {
    return this.#roots.get(cid)
  }

  /** Drops the `data` roots expired at `now`; returns how many. */
  expire(now: number): number {
    let n = 0
    for (const [cid, entry] of this.#roots) {
      if (entry.kind === 'data' && (entry.expiresAt ?? 0) <= now) {
        this.#roots.delete(cid)
        n++
      }
    }
    if (n > 0) this.#changed()
    return n
  }

  /** Every root kept. */
  list(): RootEntry[] {
    return [...this.#roots.values()]
  }

  /** Writes what is pending now. */
  async flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
      this.#save()
    }
    await this.#saving
  }

  #changed(): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#save()
    }, SAVE_DELAY_MS)
    this.#timer.unref()
  }

  #save(): void {
    const body: RootsFile = { version: 1, roots: this.list() }
    const text = `${JSON.stringify(body)}\n`
    this.#saving = this.#saving.then(async () => {
      await mkdir(dirname(this.#file), { recursive: true })
      const tmp = `${this.#file}.tmp-${process.pid}`
      await writeFile(tmp, text)
      await rename(tmp, this.#file)
    })
    // A failed write is retried with the next change; the sweep keeps only what is listed.
    this.#saving = this.#saving.catch(() => {})
  }
}
