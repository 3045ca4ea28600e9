/**
 * The ONNX plug-in the CLI uses, in one module: the backend `node start` serves, the model
 * registry and pulls of `models ...`, the demo's synthetic model. Commands load it only when they
 * need it, and it is the one place that names the package these come from.
 */
export { MODEL_NAME_RE, type ModelEntry } from '@p2p-ai/engine'
export {
  builtinModels,
  type EmbedOutput,
  MODEL_FILE_CANDIDATES,
  type OcrOutput,
  type OnnxBackend,
  type OnnxModelEntry,
  onnxBackend,
  onnxModelRegistry,
  pullOnnxModel,
  writeSyntheticBertModel,
} from '@p2p-ai/onnx'
