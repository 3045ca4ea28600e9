/**
 * Text generation for p2p-ai: the `generate` task on GGUF language models, run by llama.cpp
 * through node-llama-cpp's prebuilt CPU binaries (nothing is downloaded or compiled), streamed to
 * the engine token by token.
 *
 * ```ts
 * import { taskEngine } from '@p2p-ai/engine'
 * import { llamaBackend } from '@p2p-ai/llama'
 *
 * const engine = taskEngine({
 *   backends: [llamaBackend({ models: [{ name: 'tinyllama', path: './tinyllama-1.1b-chat.Q4_K_M.gguf' }] })],
 * })
 * const handle = await engine.submit({
 *   type: 'generate',
 *   input: { messages: [{ role: 'user', content: 'Name three colours.' }], maxTokens: 64 },
 * })
 * handle.addEventListener('progress', (event) => process.stdout.write(event.detail.delta ?? ''))
 * const { text, finishReason, usage } = await handle.output()
 * ```
 *
 * A plug-in: `@p2p-ai/engine` does not depend on it, so a node without language models does not
 * install llama.cpp.
 *
 * @packageDocumentation
 */

export { type LlamaBackend, type LlamaBackendInit, llamaBackend } from './backend.js'
export * from './constants.js'
export * from './errors.js'
export {
  encodeGguf,
  float16Bits,
  type GgufFile,
  type GgufMetadataValue,
  type GgufScalar,
  type GgufScalarType,
  type GgufTensor,
  type GgufTensorType,
  gguf,
} from './gguf/encode.js'
export {
  CHATML_TEMPLATE,
  SYNTHETIC_COMPLETION,
  SYNTHETIC_REPLY,
  type SyntheticLlamaModel,
  type SyntheticLlamaOptions,
  syntheticLlamaModel,
  writeSyntheticLlamaModel,
} from './gguf/synthetic.js'
export {
  type GgufModelDescription,
  type GgufModelEntry,
  ggufModelName,
  type LlamaModelInfo,
} from './models.js'
export type { LoadedModelStatus } from './pool.js'
export {
  chooseGgufFile,
  type GgufReference,
  type PullGgufModelOptions,
  parseGgufReference,
  pullGgufModel,
} from './pull.js'
export { StopSequences } from './stop.js'
export {
  type ChatMessage,
  type ChatRole,
  chatMessageSchema,
  type FinishReason,
  type GenerateInput,
  type GenerateOutput,
  generateInputSchema,
  generateTaskType,
} from './task.js'
