import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MANIFEST_FILE, MODEL_NAME_RE } from '../constants.js'

/** One downloaded file: its checksum and size, recorded when it was written. */
export interface ManifestFile {
  readonly sha256: string
  readonly sizeBytes: number
}

/**
 * `p2p-ai-model.json`: written last into a pulled model's directory, so a directory that has one
 * is complete. The registry registers such directories and checks the hashes it records.
 */
export interface ModelManifest {
  readonly version: 1
  /** Registry name. */
  readonly name: string
  /** Path of the model file relative to the directory, e.g. `onnx/model.onnx`. */
  readonly model: string
  /**
   * The plug-in format of the model (`onnx`, `gguf`), so each plug-in registers only its own.
   * Older manifests have none: the model file's extension decides.
   */
  readonly format?: string
  /** Every file written, by path relative to the directory (forward slashes). */
  readonly files: Readonly<Record<string, ManifestFile>>
  /** Where it came from, when pulled. */
  readonly source?: { readonly endpoint: string; readonly repo: string; readonly revision: string }
  /** ISO 8601 time of the pull. */
  readonly createdAt: string
}

const SHA256_RE = /^[0-9a-f]{64}$/

/** Reads and checks a manifest; `undefined` when the directory has none. Throws on a malformed one. */
export async function readManifest(dir: string): Promise<ModelManifest | undefined> {
  let text: string
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const m = JSON.parse(text) as Partial<ModelManifest>
  const files = m.files
  const ok =
    m.version === 1 &&
    typeof m.name === 'string' &&
    MODEL_NAME_RE.test(m.name) &&
    typeof m.model === 'string' &&
    typeof files === 'object' &&
    files !== null &&
    Object.values(files).every(
      (f) => typeof f?.sha256 === 'string' && SHA256_RE.test(f.sha256) && Number.isSafeInteger(f.sizeBytes),
    ) &&
    files[m.model] !== undefined &&
    (m.format === undefined || (typeof m.format === 'string' && m.format !== ''))
  if (!ok) throw new SyntaxError(`${join(dir, MANIFEST_FILE)} is not a valid model manifest`)
  return m as ModelManifest
}

/** Writes a manifest atomically (temporary file, then rename). */
export async function writeManifest(dir: string, manifest: ModelManifest): Promise<void> {
  const path = join(dir, MANIFEST_FILE)
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`
  await writeFile(tmp, `${JSON.stringify(manifest, null, 2)}\n`)
  await rename(tmp, path)
}
