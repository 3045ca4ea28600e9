/**
 * A model from the swarm into a directory: its files fetched by CID (every block checked against
 * it), written next to the target and moved into place only when complete, the model file checked
 * against the SHA-256 peers announced, and a pull manifest written, so the node's model backends
 * register it as they register a model pulled from a hub.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, extname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import {
  type ManifestFile,
  ModelCorruptError,
  type ModelManifest,
  readManifest,
  writeManifest,
} from '@p2p-ai/engine'
import type { CID } from 'multiformats/cid'
import { MAX_MODEL_FILES } from '../constants.js'
import { type DirectoryFile, fileRoot, type GetBlock, listFiles, readFile } from '../unixfs/read.js'

/** Progress of a pull from the swarm, as bytes arrive. */
export interface SwarmPullProgress {
  /** The file being fetched, relative to the model directory. */
  readonly file: string
  readonly receivedBytes: number
  readonly totalBytes: number
}

/** A model pulled from the swarm, written and checked. */
export interface SwarmPulledModel {
  readonly name: string
  readonly cid: string
  /** The model's directory. */
  readonly dir: string
  readonly manifest: ModelManifest
}

export interface WriteModelOptions {
  readonly name: string
  readonly cid: CID
  /** The SHA-256 peers announced for the model file: one of the files must have it. */
  readonly sha256: string
  readonly dir: string
  readonly getBlock: GetBlock
  readonly blockstore: Parameters<typeof listFiles>[1]
  readonly window: number
  readonly signal: AbortSignal
  readonly onProgress?: (progress: SwarmPullProgress) => void
}

/** The formats a pulled manifest names, by the model file's extension (the others: unnamed). */
const FORMATS: Readonly<Record<string, string>> = { '.onnx': 'onnx', '.gguf': 'gguf' }

/**
 * Fetches the model directory `cid` into `dir`. An existing `dir` is replaced only when it holds
 * a pulled model (a manifest); anything else there is refused rather than overwritten.
 */
export async function writeModel(options: WriteModelOptions): Promise<SwarmPulledModel> {
  const { dir, signal } = options
  const existing = await stat(dir).catch(() => undefined)
  if (existing !== undefined && (await readManifest(dir).catch(() => undefined)) === undefined) {
    throw new ModelCorruptError(
      `${dir} exists and is not a pulled model: move it away, or pull the model under another name`,
    )
  }
  const files: DirectoryFile[] = await listFiles(options.cid, options.blockstore, {
    signal,
    maxFiles: MAX_MODEL_FILES,
  })
  const partial = `${dir}.partial-${process.pid}`
  await rm(partial, { recursive: true, force: true })
  const written: Record<string, ManifestFile> = {}
  try {
    for (const file of files) {
      const root = await fileRoot(file.cid, options.getBlock, signal)
      const target = join(partial, ...file.path.split('/'))
      await mkdir(dirname(target), { recursive: true })
      const hash = createHash('sha256')
      let received = 0
      const report = options.onProgress
      async function* counted(): AsyncGenerator<Uint8Array> {
        for await (const bytes of readFile(root, options.getBlock, { window: options.window, signal })) {
          hash.update(bytes)
          received += bytes.byteLength
          report?.({ file: file.path, receivedBytes: received, totalBytes: root.size })
          yield bytes
        }
      }
      report?.({ file: file.path, receivedBytes: 0, totalBytes: root.size })
      await pipeline(counted(), createWriteStream(target), { signal })
      written[file.path] = { sha256: hash.digest('hex'), sizeBytes: received }
    }
    const model = Object.entries(written).find(([, f]) => f.sha256 === options.sha256)?.[0]
    if (model === undefined) {
      throw new ModelCorruptError(
        `model ${options.name}: no file of ${options.cid} has the announced sha256 ${options.sha256}`,
      )
    }
    const format = FORMATS[extname(model).toLowerCase()]
    const manifest: ModelManifest = {
      version: 1,
      name: options.name,
      model,
      ...(format === undefined ? {} : { format }),
      files: written,
      source: { endpoint: 'p2p-ai:swarm', repo: options.name, revision: options.cid.toString() },
      createdAt: new Date().toISOString(),
    }
    // The manifest goes last: a directory with one is complete.
    await writeManifest(partial, manifest)
    await rm(dir, { recursive: true, force: true })
    await mkdir(dirname(dir), { recursive: true })
    await rename(partial, dir)
    return { name: options.name, cid: options.cid.toString(), dir, manifest }
  } catch (err) {
    await rm(partial, { recursive: true, force: true })
    throw err
  }
}
