/**
 * The node's block store: blocks in files under `<dataDir>/content/blocks` (blockstore-fs), and
 * the leaves of shared models read straight from the model files, so sharing a model costs no
 * second copy of it on disk (only its few DAG nodes are stored). A model file that changed since
 * it was indexed (size or modification time) no longer serves its leaves.
 */
import { open, stat } from 'node:fs/promises'
import { FsBlockstore } from 'blockstore-fs'
import type { Blockstore, Pair } from 'interface-blockstore'
import { type AbortOptions, type AwaitIterable, NotFoundError } from 'interface-store'
import type { CID } from 'multiformats/cid'

/** Where a leaf of a model file is. */
export interface FileRange {
  readonly path: string
  readonly offset: number
  readonly length: number
  /** The file's size and modification time when it was indexed. */
  readonly size: number
  readonly mtimeMs: number
}

/** Blocks are stored by multihash: a raw leaf and a dag-pb node of the same bytes are one block. */
export function blockKey(cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64url')
}

export class ContentBlockstore implements Blockstore {
  /** The blocks stored in files. */
  readonly files: FsBlockstore
  readonly #ranges = new Map<string, FileRange>()

  constructor(directory: string) {
    this.files = new FsBlockstore(directory)
  }

  open(): Promise<void> {
    return this.files.open()
  }

  /** Serves these leaves from their files from now on. */
  addRanges(ranges: Iterable<readonly [CID, FileRange]>): void {
    for (const [cid, range] of ranges) this.#ranges.set(blockKey(cid), range)
  }

  removeRanges(cids: Iterable<CID>): void {
    for (const cid of cids) this.#ranges.delete(blockKey(cid))
  }

  /** Whether `cid` is served from a model file. */
  fromFile(cid: CID): boolean {
    return this.#ranges.has(blockKey(cid))
  }

  async has(cid: CID, options?: AbortOptions): Promise<boolean> {
    return this.#ranges.has(blockKey(cid)) || this.files.has(cid, options)
  }

  async *get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    const range = this.#ranges.get(blockKey(cid))
    if (range === undefined) {
      yield* this.files.get(cid, options)
      return
    }
    yield await readRange(range)
  }

  async *getMany(source: AwaitIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) yield { cid, bytes: this.get(cid, options) }
  }

  put(cid: CID, bytes: Uint8Array | AwaitIterable<Uint8Array>, options?: AbortOptions): Promise<CID> {
    return this.files.put(cid, bytes, options)
  }

  putMany(
    source: AwaitIterable<{ cid: CID; bytes: Uint8Array | AwaitIterable<Uint8Array> }>,
    options?: AbortOptions,
  ) {
    return this.files.putMany(source as AwaitIterable<Pair>, options)
  }

  delete(cid: CID, options?: AbortOptions): Promise<void> {
    return this.files.delete(cid, options)
  }

  deleteMany(source: AwaitIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> {
    return this.files.deleteMany(source, options)
  }

  getAll(options?: AbortOptions) {
    return this.files.getAll(options)
  }
}

async function readRange(range: FileRange): Promise<Uint8Array> {
  const s = await stat(range.path).catch(() => undefined)
  if (s === undefined || s.size !== range.size || s.mtimeMs !== range.mtimeMs) {
    throw new NotFoundError(`${range.path} changed since it was shared`)
  }
  const handle = await open(range.path, 'r')
  try {
    const buffer = Buffer.allocUnsafe(range.length)
    let read = 0
    while (read < range.length) {
      const { bytesRead } = await handle.read(buffer, read, range.length - read, range.offset + read)
      if (bytesRead === 0) throw new NotFoundError(`${range.path} is shorter than it was`)
      read += bytesRead
    }
    return buffer
  } finally {
    await handle.close()
  }
}
