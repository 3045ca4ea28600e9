/**
 * The ONNX side of the engine the CLI uses, in one module: the backend `node start` serves, the
 * model registry of `models ...`, the demo's synthetic model. Commands load it only when they
 * need it, and it is the one place that names the package these come from.
 */
export {
  builtinModels,
  MODEL_NAME_RE,
  type ModelEntry,
  modelRegistry,
  onnxBackend,
  pullModel,
  writeSyntheticBertModel,
} from '@p2p-ai/engine'
