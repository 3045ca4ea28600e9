/**
 * The demo's embedding model: a small BERT-style encoder built here (no download; random weights,
 * real inference), served by every demo node under `DEMO_MODEL`.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MODELS_FILE } from '../constants.js'
import { DEMO_MODEL, DEMO_MODEL_SHAPE } from './constants.js'
import { vocabularyWords } from './workload.js'

export interface DemoModel {
  readonly name: string
  readonly path: string
  readonly sha256: string
  readonly parameters: number
  /** How long building it took. */
  readonly ms: number
}

/** Builds the model in `<dir>/models/demo-embed`, with the words of the demo's texts as its vocabulary. */
export async function buildModel(dir: string): Promise<DemoModel> {
  const t0 = Date.now()
  const { onnxModelRegistry, writeSyntheticBertModel } = await import('../onnx.js')
  const path = join(dir, 'models', DEMO_MODEL)
  const built = await writeSyntheticBertModel(path, { ...DEMO_MODEL_SHAPE, words: vocabularyWords() })
  const { sha256 } = await onnxModelRegistry({ models: [{ name: DEMO_MODEL, path }] }).resolve(DEMO_MODEL)
  return { name: DEMO_MODEL, path, sha256, parameters: built.parameters, ms: Date.now() - t0 }
}

/** Registers the model in a node's data directory (its `models.json`), pinned to its sha256. */
export async function registerModel(dataDir: string, model: DemoModel): Promise<void> {
  const entry = {
    name: model.name,
    path: model.path,
    sha256: model.sha256,
    description:
      'synthetic BERT for the demo: real inference, random weights (pull a real model with `models pull`)',
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  await writeFile(join(dataDir, MODELS_FILE), `${JSON.stringify({ models: [entry] }, null, 2)}\n`, {
    mode: 0o600,
  })
}
