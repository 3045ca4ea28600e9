import { join } from 'node:path'
import type { Backend, TaskEngine } from '@p2p-ai/engine'
import { MODEL_HASHES_FILE, MODELS_DIR } from '../constants.js'
import type { AddedModelJson, AddModelRequest } from '../control/types.js'
import { formatOf, readAddedModels } from '../daemon/models-file.js'
import type { LlamaBackend } from '../llama.js'
import type { OnnxBackend } from '../onnx.js'
import { registerModel } from './register.js'

/**
 * A node's models: the ONNX backend (embeddings, NER, OCR...) and the llama backend (GGUF
 * language models), each with the models of the data directory, pulled (`models/`) and added
 * (`models.json`). They change at run time: `models add` and `models pull` reach a running node
 * through its control API, which registers the model and re-announces the node's capabilities
 * without a restart.
 */
export interface NodeModels {
  readonly onnx: OnnxBackend
  readonly llama: LlamaBackend
  /** The backends to create the node with; llama joins once it has a model (see `scan`). */
  readonly backends: readonly Backend[]
  /**
   * Registers the pulled models and checks every model's files on this thread (hashes from
   * `model-hashes.json` unless a file changed; no ONNX Runtime, no llama.cpp), so the node
   * announces them. Run again after a pull: the ONNX backend's workers are renewed if its models
   * changed, and the llama backend is registered with the engine once it has a model (so a node
   * without language models does not announce `generate`).
   */
  scan(engine: TaskEngine, signal?: AbortSignal): Promise<void>
  /** `POST /v1/models`: registers a model of this machine, records it in `models.json`, serves it now. */
  add(engine: TaskEngine, request: AddModelRequest, signal?: AbortSignal): Promise<AddedModelJson>
}

/** The fingerprint of what a backend announces, to tell whether a scan changed it. */
const announced = (backend: { models(): ReadonlyArray<{ name: string; sha256: string }> }): string =>
  backend
    .models()
    .map((m) => `${m.name}:${m.sha256}`)
    .sort()
    .join()

export async function nodeModels(dataDir: string): Promise<NodeModels> {
  const [{ onnxBackend }, { llamaBackend }] = await Promise.all([import('../onnx.js'), import('../llama.js')])
  const added = await readAddedModels(dataDir)
  const modelsDir = join(dataDir, MODELS_DIR)
  const hashCacheFile = join(dataDir, MODEL_HASHES_FILE)
  const onnx = onnxBackend({
    modelsDir,
    models: added.filter((m) => formatOf(m) === 'onnx'),
    hashCacheFile,
  })
  const llama = llamaBackend({
    modelsDir,
    models: added
      .filter((m) => formatOf(m) === 'gguf')
      .map((m) => ({ name: m.name, path: m.path, ...(m.sha256 === undefined ? {} : { sha256: m.sha256 }) })),
    hashCacheFile,
  })
  let llamaServed = false
  const serveLlama = (engine: TaskEngine): void => {
    if (llamaServed || llama.models().length === 0) return
    engine.backends.register(llama)
    llamaServed = true
  }
  return {
    onnx,
    llama,
    backends: [onnx],
    async scan(engine, signal) {
      const options = signal === undefined ? {} : { signal }
      const before = announced(onnx)
      await onnx.scanModels(options)
      if (announced(onnx) !== before) engine.backends.reload(onnx.name)
      await llama.scanModels(options)
      serveLlama(engine)
    },
    async add(engine, request, signal) {
      const { model, onnxChanged } = await registerModel({ onnx, llama }, dataDir, request, {
        served: true,
        ...(signal === undefined ? {} : { signal }),
      })
      if (onnxChanged) engine.backends.reload(onnx.name)
      serveLlama(engine)
      return model
    },
  }
}
