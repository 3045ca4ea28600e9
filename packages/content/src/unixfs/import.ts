/**
 * Bytes and files into UnixFS DAGs, always cut the same way ({@link IMPORT_PROFILE}), so equal
 * bytes give equal CIDs on every node.
 */
import { createHash } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { importer, type WritableStorage } from 'ipfs-unixfs-importer'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as digestOf } from 'multiformats/hashes/digest'
import { sha256 } from 'multiformats/hashes/sha2'
import { CHUNK_SIZE, IMPORT_PROFILE } from '../constants.js'
import type { FileRange } from '../store/blockstore.js'

/** What an import made: the root and the size of the content under it. */
export interface Imported {
  readonly cid: CID
  readonly size: number
}

/**
 * Imports one stream of bytes as a UnixFS file. `limit` is called with the bytes read so far and
 * throws to stop the import (too large, aborted); blocks written before it are left for the sweep.
 */
export async function importContent(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  blockstore: WritableStorage,
  limit: (bytes: number) => void,
): Promise<Imported> {
  let bytes = 0
  async function* counted(): AsyncGenerator<Uint8Array> {
    if (source instanceof Uint8Array) {
      limit(source.byteLength)
      bytes = source.byteLength
      yield source
      return
    }
    for await (const chunk of source) {
      bytes += chunk.byteLength
      limit(bytes)
      yield chunk
    }
  }
  let root: Imported | undefined
  for await (const entry of importer([{ content: counted() }], blockstore, { profile: IMPORT_PROFILE })) {
    root = { cid: entry.cid, size: bytes }
  }
  if (root === undefined) throw new Error('the importer produced nothing')
  return root
}

/** A file of a model directory, as indexed. */
export interface IndexedFile {
  /** Relative path, `/`-separated. */
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

/** A model's files imported without copying them: the root, and where each leaf is read from. */
export interface ImportedFiles extends Imported {
  readonly files: readonly IndexedFile[]
  /** Every leaf with its place in a file; the DAG's other nodes went to `blockstore`. */
  readonly leaves: ReadonlyArray<readonly [CID, FileRange]>
}

/**
 * Imports the files `paths` of `dir` as a UnixFS directory (paths sorted, so the order files are
 * listed in does not change the CID). Leaves are not written: the profile cuts every file into
 * 1 MiB pieces from its start, so each leaf is a known range of a known file, hashed here as the
 * file is read, and served from the file later. Only the (few, small) directory and file nodes go
 * to `blockstore`.
 */
export async function importFiles(
  dir: string,
  paths: readonly string[],
  blockstore: WritableStorage,
  signal?: AbortSignal,
): Promise<ImportedFiles> {
  const sorted = [...paths].sort()
  const files: IndexedFile[] = []
  const leaves = new Map<string, readonly [CID, FileRange]>()
  for (const path of sorted) {
    const s = await stat(join(dir, ...path.split('/')))
    files.push({ path, size: s.size, mtimeMs: s.mtimeMs })
  }
  async function* pieces(file: IndexedFile): AsyncGenerator<Uint8Array> {
    const absolute = join(dir, ...file.path.split('/'))
    const handle = await open(absolute, 'r')
    try {
      for (let offset = 0; offset < file.size; offset += CHUNK_SIZE) {
        signal?.throwIfAborted()
        const length = Math.min(CHUNK_SIZE, file.size - offset)
        const buffer = Buffer.allocUnsafe(length)
        let read = 0
        while (read < length) {
          const { bytesRead } = await handle.read(buffer, read, length - read, offset + read)
          if (bytesRead === 0) throw new Error(`${absolute} changed while it was read`)
          read += bytesRead
        }
        const cid = CID.createV1(
          raw.code,
          digestOf(sha256.code, createHash('sha256').update(buffer).digest()),
        )
        leaves.set(cid.toString(), [
          cid,
          { path: absolute, offset, length, size: file.size, mtimeMs: file.mtimeMs },
        ])
        yield buffer
      }
    } finally {
      await handle.close()
    }
  }
  // Leaves are what `pieces` read: only the other nodes are stored (and an empty file's leaf,
  // which no piece holds).
  const sink: WritableStorage = {
    put: async (cid, bytes, options) => {
      if (cid.code === raw.code && leaves.has(cid.toString())) return cid
      return blockstore.put(cid, bytes, options)
    },
  }
  let root: CID | undefined
  const candidates = files.map((file) => ({ path: file.path, content: pieces(file) }))
  for await (const entry of importer(candidates, sink, {
    profile: IMPORT_PROFILE,
    wrapWithDirectory: true,
  })) {
    root = entry.cid
  }
  if (root === undefined) throw new Error('the importer produced nothing')
  const size = files.reduce((n, f) => n + f.size, 0)
  return { cid: root, size, files, leaves: [...leaves.values()] }
}
