/**
 * `@p2p-ai/engine`: the task engine of a p2p-ai node. A priority queue with a concurrency limit,
 * per-task timeouts and cancellation in front of pluggable backends (built in: `text` with the
 * `chunk` task, and `mock`); CPU-heavy backends run in a pool of worker threads so the node keeps
 * answering its peers; finished tasks go to a durable SQLite result store with expiry.
 *
 * ```ts
 * import { taskEngine, mockBackend, resultStore } from '@p2p-ai/engine'
 *
 * const engine = taskEngine({
 *   backends: [mockBackend({ latencyMs: 10 })],
 *   store: resultStore({ directory: './data' }),
 * })
 * const handle = await engine.submit({ type: 'chunk', input: { text, size: 500 } })
 * const record = await handle.result() // { status: 'COMPLETED', output: { chunks: [...] }, ... }
 * await engine.stop()
 * ```
 *
 * @packageDocumentation
 */

export type {
  Backend,
  BackendRunOptions,
  BackendTask,
  ModelInfo,
  TaskProgress,
  TaskType,
  WorkerHosting,
} from './backend.js'
export {
  type MockBackendInit,
  type MockInput,
  type MockOutput,
  mockBackend,
  mockOutput,
} from './backends/mock.js'
export { type TextBackendInit, textBackend } from './backends/text.js'
export * from './constants.js'
export { raceSignal } from './engine/async.js'
export type { TaskEngineInit } from './engine/config.js'
export {
  type GetOptions,
  type RunOptions,
  type StopOptions,
  type SubmitOptions,
  TaskEngine,
  type TaskEngineEvents,
  taskEngine,
} from './engine/engine.js'
export type { EngineCapabilities, EngineHealth, EngineLoad, ListOptions } from './engine/queries.js'
export type { BackendInfo, BackendPlacement, BackendRegistry, RegisterOptions } from './engine/registry.js'
export type { TaskHandle, TaskHandleEvents } from './engine/task.js'
export * from './errors.js'
export { TypedEventTarget } from './events.js'
export { cachedSha256, sha256File } from './models/hash.js'
export type { ListQuery, ResultStore, ResultStoreInit } from './store/store.js'
export { resultStore } from './store/store.js'
export {
  type Chunk,
  type ChunkBoundary,
  type ChunkInput,
  type ChunkOutput,
  chunkInputSchema,
  chunkTaskType,
  chunkText,
} from './tasks/chunk.js'
export {
  isTerminal,
  TASK_STATUSES,
  type TaskErrorInfo,
  type TaskMeta,
  type TaskPersistence,
  type TaskRecord,
  type TaskRequest,
  type TaskStatus,
  type TerminalTaskStatus,
} from './types.js'
export { runnableModuleUrl } from './worker/module-url.js'

// ONNX backend and AI tasks

export { type ManifestFile, type ModelManifest, readManifest } from './models/manifest.js'
export { type PulledModel, type PullModelOptions, type PullProgress, pullModel } from './models/pull.js'
export {
  builtinModels,
  type ModelEntry,
  type ModelRegistry,
  type ModelRegistryInit,
  modelRegistry,
  type PoolingMode,
  type ResolvedModel,
  type ScanResult,
} from './models/registry.js'
export {
  MINILM_SHAPE,
  type SyntheticBertModel,
  type SyntheticBertOptions,
  syntheticBertModel,
  writeSyntheticBertModel,
} from './models/synthetic.js'
export { type OnnxBackend, type OnnxBackendInit, onnxBackend } from './onnx/backend.js'
export * from './onnx/constants.js'
export * from './onnx/errors.js'
export {
  encodeOnnxModel,
  type OnnxAttribute,
  type OnnxElementType,
  type OnnxGraph,
  type OnnxInitializer,
  type OnnxNode,
  type OnnxValueInfo,
} from './onnx/proto.js'
export type { LoadedModel, OnnxSessionInit, SessionCacheInit } from './onnx/session-cache.js'
export { type OnnxRunInput, type OnnxRunOutput, onnxRunInputSchema, onnxTaskType } from './onnx/task.js'
export { type JsonTensor, TENSOR_DTYPES, type TensorDtype, type TensorEncoding } from './onnx/tensor.js'
export { type EmbedInput, type EmbedOutput, embedInputSchema, embedTaskType } from './tasks/embed.js'
export { type OcrInput, type OcrLine, type OcrOutput, ocrInputSchema, ocrTaskType } from './tasks/ocr.js'
export type { TextBox } from './tasks/ocr-page.js'
export {
  countWordsAndSentences,
  type TokenizeInput,
  type TokenizeOutput,
  tokenizeInputSchema,
  tokenizeTaskType,
} from './tasks/tokenize.js'
