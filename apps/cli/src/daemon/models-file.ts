import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MODELS_FILE } from '../constants.js'
import { FileError } from '../errors.js'
import type { ModelEntry } from '../onnx.js'

/** `models.json` in the data directory: models registered with `models add`. */
export interface ModelsFile {
  readonly models: ModelEntry[]
}

export const modelsFile = (dataDir: string): string => join(dataDir, MODELS_FILE)

/** The models added with `models add` (none when the file does not exist). */
export async function readAddedModels(dataDir: string): Promise<ModelEntry[]> {
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
