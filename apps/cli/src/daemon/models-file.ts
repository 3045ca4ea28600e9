import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MODELS_FILE } from '../constants.js'
import { FileError } from '../errors.js'
import type { ModelFormatId } from '../models/local.js'
import type { ModelEntry } from '../onnx.js'

/** A model added with `models add`: a registry entry, and the plug-in format that serves it. */
export interface AddedModel extends ModelEntry {
  /** @default 'onnx' (files written before GGUF models existed have none) */
  readonly format?: ModelFormatId
}

/** `models.json` in the data directory: models registered with `models add`. */
export interface ModelsFile {
  readonly models: AddedModel[]
}

export const modelsFile = (dataDir: string): string => join(dataDir, MODELS_FILE)

/** The format of an added model. */
export const formatOf = (m: AddedModel): ModelFormatId => m.format ?? 'onnx'

/** The models added with `models add` (none when the file does not exist). */
export async function readAddedModels(dataDir: string): Promise<AddedModel[]> {
  const file = modelsFile(dataDir)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new FileError(`cannot read ${file}: ${(err as Error).message}`, undefined, { cause: err })
  }
  try {
    const parsed = JSON.parse(text) as Partial<ModelsFile>
    if (!Array.isArray(parsed.models)) throw new Error('"models" must be an array')
    return parsed.models
  } catch (err) {
    throw new FileError(
      `${file} is damaged: ${(err as Error).message}`,
      'fix it, or delete it and add the models again',
    )
  }
}

/**
 * Records a model in `models.json`, replacing the one of the same name (written atomically: a
 * temporary file, then a rename). Resolves with whether one was replaced.
 */
export async function saveAddedModel(dataDir: string, model: AddedModel): Promise<boolean> {
  const added = await readAddedModels(dataDir)
  const replaced = added.some((m) => m.name === model.name)
  const next = [...added.filter((m) => m.name !== model.name), model]
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const file = modelsFile(dataDir)
  await writeFile(`${file}.tmp`, `${JSON.stringify({ models: next }, null, 2)}\n`, { mode: 0o600 })
  await rename(`${file}.tmp`, file)
  return replaced
}
