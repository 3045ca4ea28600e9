/**
 * The llama plug-in the CLI uses, in one module: the backend `node start` serves GGUF models
 * with, GGUF references and pulls of `models pull`. Commands load it only when they need it; its
 * module is light (llama.cpp loads with the first `generate` task), and this is the one place that
 * names the package these come from.
 */
export {
  GGUF_FORMAT,
  type GgufModelEntry,
  ggufModelName,
  type LlamaBackend,
  llamaBackend,
  parseGgufReference,
  pullGgufModel,
} from '@p2p-ai/llama'
