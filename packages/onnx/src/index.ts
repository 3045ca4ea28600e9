/**
 * `@p2p-ai/onnx`: the ONNX plug-in of p2p-ai. A backend for `@p2p-ai/engine` (and so for
 * `@p2p-ai/node`) that runs models on ONNX Runtime (CPU) in the engine's worker threads and serves
 * five task types: `embed` (sentence-transformers text embeddings), `ner` (named entities with a
 * token-classification model), `ocr` (PaddleOCR v4 line and page recognition), `tokenize` and
 * `onnx` (any model, named tensors in and out). ONNX Runtime, sharp and the tokenizers load on the
 * first task that needs them.
 *
 * ```ts
 * import { createNode } from '@p2p-ai/node'
 * import { onnxBackend } from '@p2p-ai/onnx'
 *
 * const node = await createNode({ dataDir: './data', backends: [onnxBackend({ modelsDir: './data/models' })] })
 * const { text } = await node.engine.run({ type: 'ocr', input: { image: pngBase64 } })
 * ```
 *
 * Models are entries of the engine's model registry with the ONNX format (`onnxModelFormat`):
 * `model.onnx` lookup, tokenizers, OCR dictionaries.
 *
 * @packageDocumentation
 */

export { type OnnxBackend, type OnnxBackendInit, onnxBackend } from './backend/backend.js'
export * from './constants.js'
export { type EmbedInput, type EmbedOutput, embedInputSchema, embedTaskType } from './embed/embed.js'
export * from './errors.js'
export {
  encodeOnnxModel,
  type OnnxAttribute,
  type OnnxElementType,
  type OnnxGraph,
  type OnnxInitializer,
  type OnnxNode,
  type OnnxValueInfo,
} from './graph/proto.js'
export {
  BERT_BASE_SHAPE,
  MINILM_SHAPE,
  type SyntheticBertModel,
  type SyntheticBertOptions,
  syntheticBertModel,
  writeSyntheticBertModel,
} from './graph/synthetic.js'
export {
  type OnnxModel,
  type OnnxModelEntry,
  type OnnxModelRegistry,
  type OnnxModelRegistryInit,
  onnxModelFormat,
  onnxModelRegistry,
  type PoolingMode,
} from './models/format.js'
export { type PullOnnxModelOptions, pullOnnxModel } from './models/pull.js'
export type { Aggregation, Entity } from './ner/aggregate.js'
export { type NerInput, type NerOutput, nerInputSchema, nerTaskType } from './ner/ner.js'
export type { TextBox } from './ocr/detect.js'
export { builtinModels } from './ocr/models.js'
export { type OcrInput, type OcrLine, type OcrOutput, ocrInputSchema, ocrTaskType } from './ocr/ocr.js'
export type { LoadedModel, OnnxSessionInit, SessionCacheInit } from './runtime/session-cache.js'
export { type OnnxRunInput, type OnnxRunOutput, onnxRunInputSchema, onnxTaskType } from './tensor/task.js'
export { type JsonTensor, TENSOR_DTYPES, type TensorDtype, type TensorEncoding } from './tensor/tensor.js'
export {
  countWordsAndSentences,
  type TokenizeInput,
  type TokenizeOutput,
  tokenizeInputSchema,
  tokenizeTaskType,
} from './text/tokenize.js'
