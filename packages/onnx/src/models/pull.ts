import { InvalidModelEntryError, type PulledModel, type PullModelOptions, pullModel } from '@p2p-ai/engine'
import { DEFAULT_PULL_FILES, MODEL_FILE_CANDIDATES } from '../constants.js'

export interface PullOnnxModelOptions
  extends Omit<PullModelOptions, 'model' | 'files' | 'optionalFiles' | 'format'> {
  /**
   * Files to download, all required; the first `.onnx` one is the model. @default the first of
   * `MODEL_FILE_CANDIDATES` that exists (`model.onnx`, `onnx/model.onnx`, then the quantized
   * variants), `tokenizer.json`, and the optional tokenizer, model (`config.json`, with a token
   * classifier's labels) and sentence-transformers configuration files
   */
  readonly files?: readonly string[]
}

/**
 * Pulls an ONNX model, by default a sentence-transformers export (the graph, `tokenizer.json` and
 * the configuration that says how to pool and truncate), with the engine's `pullModel`: each file
 * checked against the sha256 the server announces, the manifest written last.
 *
 * ```ts
 * await pullOnnxModel({ repo: 'sentence-transformers/all-MiniLM-L6-v2', dir: './models/all-minilm-l6-v2' })
 * ```
 */
export function pullOnnxModel(options: PullOnnxModelOptions): Promise<PulledModel> {
  if (options.files !== undefined) {
    const model = options.files.find((f) => f.endsWith('.onnx'))
    if (model === undefined) {
      return Promise.reject(new InvalidModelEntryError('files must include an .onnx model'))
    }
    return pullModel({ ...options, model, files: options.files.filter((f) => f !== model), format: 'onnx' })
  }
  const [tokenizer, ...optionalFiles] = DEFAULT_PULL_FILES
  return pullModel({
    ...options,
    model: MODEL_FILE_CANDIDATES,
    files: [tokenizer],
    optionalFiles,
    format: 'onnx',
  })
}
