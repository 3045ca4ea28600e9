/**
 * Every model the node serves also has a CID: its files imported as a UnixFS directory (the same
 * files give the same CID on every node), announced with the model, its blocks provided to peers
 * that pull it. The leaves are read from the model's own files (no copy); the index of where each
 * leaf is, and the few DAG nodes, are kept under `<dataDir>/content/models` so a restart does not
 * hash the models again while their files are unchanged.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { MANIFEST_FILE, type ModelInfo } from '@p2p-ai/engine'
import type { Logger, ModelCid } from '@p2p-ai/node'
import { CID } from 'multiformats/cid'
import { MAX_MODEL_FILES } from '../constants.js'
import type { ContentBlockstore, FileRange } from '../store/blockstore.js'
import type { RootIndex } from '../store/roots.js'
import { type IndexedFile, importFiles } from '../unixfs/import.js'

/** A shared model as its index file records it. */
interface ModelIndexFile {
  readonly version: 1
  readonly name: string
  readonly sha256: string
  readonly cid: string
  readonly size: number
  /** Absolute directory of the files. */
  readonly dir: string
  readonly files: readonly IndexedFile[]
  /** `[leaf CID, index in files, offset, length]`. */
  readonly leaves: ReadonlyArray<readonly [string, number, number, number]>
}

interface Shared {
  readonly index: ModelIndexFile
  readonly leaves: readonly CID[]
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/

export class ModelShares {
  readonly #dir: string
  readonly #blocks: ContentBlockstore
  readonly #roots: RootIndex
  readonly #log: Logger
  readonly #shared = new Map<string, Shared>()

  constructor(dir: string, blocks: ContentBlockstore, roots: RootIndex, log: Logger) {
    this.#dir = dir
    this.#blocks = blocks
    this.#roots = roots
    this.#log = log
  }

  /** Reads the indexes of models shared before; those whose files changed are dropped. */
  async load(): Promise<void> {
    let names: string[]
    try {
      names = (await readdir(this.#dir)).filter((f) => f.endsWith('.json'))
    } catch {
      return
    }
    for (const file of names) {
      try {
        const index = JSON.parse(await readFile(join(this.#dir, file), 'utf8')) as ModelIndexFile
        if (index.version !== 1 || !NAME.test(index.name) || !(await unchanged(index))) {
          await rm(join(this.#dir, file), { force: true })
          continue
        }
        this.#share(index)
      } catch {
        await rm(join(this.#dir, file), { force: true })
      }
    }
  }

  /** The CIDs of the models shared now. */
  list(): ModelCid[] {
    return [...this.#shared.values()].map(({ index }) => ({
      name: index.name,
      sha256: index.sha256,
      cid: index.cid,
    }))
  }

  /** The shared model `name`, if its index is current. */
  get(name: string): ModelCid | undefined {
    const shared = this.#shared.get(name)
    return shared === undefined
      ? undefined
      : { name: shared.index.name, sha256: shared.index.sha256, cid: shared.index.cid }
  }

  /** The leaves of the shared model `name`, served from its files. */
  leavesOf(name: string): readonly CID[] {
    return this.#shared.get(name)?.leaves ?? []
  }

  /**
   * Brings the shares in line with the models the engine serves: new or changed ones are
   * imported (hashing their files once), gone ones are dropped. True if anything changed.
   */
  async sync(models: readonly ModelInfo[], signal: AbortSignal): Promise<boolean> {
    let changed = false
    const served = new Map(models.filter((m) => m.files !== undefined).map((m) => [m.name, m]))
    for (const [name, shared] of this.#shared) {
      const model = served.get(name)
      if (model === undefined || model.sha256 !== shared.index.sha256 || !(await unchanged(shared.index))) {
        await this.#drop(name)
        changed = true
      }
    }
    for (const model of served.values()) {
      if (this.#shared.has(model.name) || !NAME.test(model.name)) continue
      signal.throwIfAborted()
      try {
        await this.#import(model, signal)
        changed = true
      } catch (err) {
        if (signal.aborted) throw err
        this.#log.warn({ err, model: model.name }, 'could not give the model a CID; it is not shared')
      }
    }
    return changed
  }

  async #import(model: ModelInfo, signal: AbortSignal): Promise<void> {
    const files = model.files as NonNullable<ModelInfo['files']>
    const paths = files.paths ?? (await filesIn(files.dir))
    const started = performance.now()
    const imported = await importFiles(files.dir, paths, this.#blocks, signal)
    const byPath = new Map(imported.files.map((f, i) => [join(files.dir, ...f.path.split('/')), i]))
    const index: ModelIndexFile = {
      version: 1,
      name: model.name,
      sha256: model.sha256,
      cid: imported.cid.toString(),
      size: imported.size,
      dir: files.dir,
      files: imported.files,
      leaves: imported.leaves.map(([cid, range]) => [
        cid.toString(),
        byPath.get(range.path) ?? -1,
        range.offset,
        range.length,
      ]),
    }
    await mkdir(this.#dir, { recursive: true })
    const file = join(this.#dir, `${model.name}.json`)
    await writeFile(`${file}.tmp`, JSON.stringify(index))
    await rename(`${file}.tmp`, file)
    this.#share(index)
    this.#log.info(
      {
        model: model.name,
        cid: index.cid,
        files: index.files.length,
        bytes: index.size,
        ms: Math.round(performance.now() - started),
      },
      'model shared by CID',
    )
  }

  #share(index: ModelIndexFile): void {
    const ranges: Array<readonly [CID, FileRange]> = []
    for (const [cid, fileIndex, offset, length] of index.leaves) {
      const file = index.files[fileIndex]
      if (file === undefined) continue
      ranges.push([
        CID.parse(cid),
        {
          path: join(index.dir, ...file.path.split('/')),
          offset,
          length,
          size: file.size,
          mtimeMs: file.mtimeMs,
        },
      ])
    }
    this.#blocks.addRanges(ranges)
    this.#roots.keepModel(index.cid, index.size)
    this.#shared.set(index.name, { index, leaves: ranges.map(([cid]) => cid) })
  }

  async #drop(name: string): Promise<void> {
    const shared = this.#shared.get(name)
    if (shared === undefined) return
    this.#shared.delete(name)
    this.#blocks.removeRanges(shared.leaves)
    // Another model may have the very same files.
    const stillShared = [...this.#shared.values()].some((s) => s.index.cid === shared.index.cid)
    if (!stillShared) this.#roots.forget(shared.index.cid)
    await rm(join(this.#dir, `${name}.json`), { force: true })
  }
}

/** Whether every file of an index still has the size and modification time it was indexed with. */
async function unchanged(index: ModelIndexFile): Promise<boolean> {
  for (const file of index.files) {
    const s = await stat(join(index.dir, ...file.path.split('/'))).catch(() => undefined)
    if (s === undefined || s.size !== file.size || s.mtimeMs !== file.mtimeMs) return false
  }
  return true
}

/**
 * The files of a model directory that lists none: every regular file in it but the pull manifest,
 * hidden files and pulls in progress.
 */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  const paths: string[] = []
  for (const entry of entries) {
    if (!entry.isFile()) continue
    const path = relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/')
    const name = entry.name
    if (
      path === MANIFEST_FILE ||
      name.startsWith('.') ||
      name.endsWith('.partial') ||
      name.includes('.tmp-')
    ) {
      continue
    }
    if (path.split('/').some((part) => part.startsWith('.'))) continue
    paths.push(path)
    if (paths.length > MAX_MODEL_FILES) {
      throw new Error(`${dir} holds more than ${MAX_MODEL_FILES} files: name the model's files`)
    }
  }
  return paths.sort()
}
