/**
 * Reading UnixFS content in order with bounded memory. The exporter of `ipfs-unixfs-exporter`
 * fetches a file's blocks as fast as they come, whether the reader keeps up or not; this reader
 * pulls: it asks for at most `window` blocks ahead of what its consumer has taken, so a 10 GB
 * file read into a slow disk holds `window` blocks at a time, not the file. Directories are walked
 * with the exporter (their nodes are small).
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { exporter } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { MAX_DAG_DEPTH } from '../constants.js'

/** Gets one block (from the store, or fetched from peers). */
export type GetBlock = (cid: CID, signal: AbortSignal) => Promise<Uint8Array>

/** A UnixFS file as the reader knows it from its root block. */
export interface FileRoot {
  readonly cid: CID
  /** The size its root says (a DAG that yields more or less is refused as it is read). */
  readonly size: number
}

/** Not a UnixFS file, or a broken one. */
export class NotUnixFsFileError extends Error {
  readonly code = 'ERR_NOT_UNIXFS_FILE'
  override readonly name = 'NotUnixFsFileError'
}

/** The root of a file: its size, read from its first block. */
export async function fileRoot(cid: CID, getBlock: GetBlock, signal: AbortSignal): Promise<FileRoot> {
  const block = await getBlock(cid, signal)
  if (cid.code === raw.code) return { cid, size: block.byteLength }
  const unixfs = unixfsOf(cid, block).unixfs
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') {
    throw new NotUnixFsFileError(`${cid} is a UnixFS ${unixfs.type}, not a file`)
  }
  return { cid, size: Number(unixfs.fileSize()) }
}

/**
 * The bytes of the file `root` in order, at most `window` blocks fetched ahead. Every byte counted
 * against `root.size`: a DAG that yields more, or ends short, throws `NotUnixFsFileError`.
 */
export async function* readFile(
  root: FileRoot,
  getBlock: GetBlock,
  options: { window: number; signal: AbortSignal },
): AsyncGenerator<Uint8Array> {
  const inner = new AbortController()
  const signal = AbortSignal.any([options.signal, inner.signal])
  const ahead: Array<Promise<Uint8Array>> = []
  // A leaf repeated in the file (runs of zeros in a model, say) is asked for once while in the window.
  const asked = new Map<string, Promise<Uint8Array>>()
  const pieces = leavesOf(root.cid, getBlock, signal, 0)
  let exhausted = false
  let read = 0
  try {
    for (;;) {
      while (!exhausted && ahead.length < options.window) {
        const next = await pieces.next()
        if (next.done === true) {
          exhausted = true
          break
        }
        const piece = next.value
        let pending: Promise<Uint8Array>
        if (piece instanceof Uint8Array) pending = Promise.resolve(piece)
        else {
          const key = piece.toString()
          pending = asked.get(key) ?? getBlock(piece, signal)
          asked.set(key, pending)
          // Read in order later; a failure ahead must not go unhandled meanwhile.
          pending.catch(() => {})
        }
        ahead.push(pending)
      }
      const pending = ahead.shift()
      if (pending === undefined) break
      if (!ahead.includes(pending)) {
        for (const [key, p] of asked) if (p === pending) asked.delete(key)
      }
      const bytes = await pending
      read += bytes.byteLength
      if (read > root.size)
        throw new NotUnixFsFileError(`${root.cid} holds more than the ${root.size} bytes it says`)
      if (bytes.byteLength > 0) yield bytes
    }
    if (read !== root.size) {
      throw new NotUnixFsFileError(`${root.cid} holds ${read} bytes, not the ${root.size} it says`)
    }
  } finally {
    // The consumer stopped early, or something failed: whatever was asked ahead is not wanted.
    inner.abort()
    await pieces.return(undefined)
  }
}

/**
 * The file's leaves in order: raw leaves as CIDs (fetched by the reader, in its window), and the
 * data held in `dag-pb` nodes as bytes (those nodes are fetched here, one at a time: the DAGs this
 * plug-in makes hold data only in raw leaves).
 */
async function* leavesOf(
  cid: CID,
  getBlock: GetBlock,
  signal: AbortSignal,
  depth: number,
): AsyncGenerator<CID | Uint8Array> {
  if (cid.code === raw.code) {
    yield cid
    return
  }
  if (depth > MAX_DAG_DEPTH) throw new NotUnixFsFileError(`${cid}: the DAG is deeper than ${MAX_DAG_DEPTH}`)
  const { node, unixfs } = unixfsOf(cid, await getBlock(cid, signal))
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') {
    throw new NotUnixFsFileError(`${cid} is a UnixFS ${unixfs.type} inside a file`)
  }
  if (unixfs.data !== undefined && unixfs.data.byteLength > 0) yield unixfs.data
  if (node.Links.length !== unixfs.blockSizes.length) {
    throw new NotUnixFsFileError(`${cid}: its links and block sizes disagree`)
  }
  for (const link of node.Links) yield* leavesOf(link.Hash, getBlock, signal, depth + 1)
}

function unixfsOf(cid: CID, block: Uint8Array): { node: dagPb.PBNode; unixfs: UnixFS } {
  if (cid.code !== dagPb.code) throw new NotUnixFsFileError(`${cid} is neither dag-pb nor raw`)
  try {
    const node = dagPb.decode(block)
    if (node.Data === undefined) throw new Error('no data')
    return { node, unixfs: UnixFS.unmarshal(node.Data) }
  } catch (err) {
    throw new NotUnixFsFileError(`${cid} is not a UnixFS node: ${(err as Error).message}`)
  }
}

/** One file of a directory, with its path inside it (`/`-separated). */
export interface DirectoryFile {
  readonly path: string
  readonly cid: CID
}

/**
 * The files of the UnixFS directory `cid`, depth first, by path. At most `maxFiles` (a directory
 * with more is refused), and no path that could leave the directory it is written into.
 */
export async function listFiles(
  cid: CID,
  blockstore: Parameters<typeof exporter>[1],
  options: { signal: AbortSignal; maxFiles: number },
): Promise<DirectoryFile[]> {
  const files: DirectoryFile[] = []
  const walk = async (dir: CID, prefix: string, depth: number): Promise<void> => {
    if (depth > MAX_DAG_DEPTH) throw new NotUnixFsFileError(`${cid}: directories nested too deep`)
    // By its string: the exporter may hold another copy of multiformats, whose CID class ours is not.
    const entry = await exporter(dir.toString(), blockstore, { signal: options.signal })
    if (entry.type !== 'directory') throw new NotUnixFsFileError(`${dir} is not a UnixFS directory`)
    for await (const child of entry.entries({ signal: options.signal })) {
      if (child.name === '' || child.name === '.' || child.name === '..' || /[\\/\0]/.test(child.name)) {
        throw new NotUnixFsFileError(`${cid} holds an entry named ${JSON.stringify(child.name)}`)
      }
      const path = prefix === '' ? child.name : `${prefix}/${child.name}`
      const resolved = await exporter(child.cid.toString(), blockstore, { signal: options.signal })
      if (resolved.type === 'directory') await walk(child.cid, path, depth + 1)
      else if (resolved.type === 'file' || resolved.type === 'raw') files.push({ path, cid: child.cid })
      else throw new NotUnixFsFileError(`${path} in ${cid} is neither a file nor a directory`)
      if (files.length > options.maxFiles) {
        throw new NotUnixFsFileError(`${cid} holds more than ${options.maxFiles} files`)
      }
    }
  }
  await walk(cid, '', 0)
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}
