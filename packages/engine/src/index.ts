/**
 * `@p2p-ai/engine`: the task engine of a p2p-ai node. A priority queue with a concurrency limit,
 * per-task timeouts and cancellation in front of pluggable backends (built in: `text` with the
 * `chunk` task, and `mock`); CPU-heavy backends run in a pool of worker threads so the node keeps
 * answering its peers; finished tasks go to a durable SQLite result store with expiry. Model
 * files are a registry of names, paths and sha256 pins that plug-ins (`@p2p-ai/onnx`) build on.
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
  BackendLoadOptions,
  BackendRunOptions,
  BackendSettings,
  BackendTask,
  ModelFiles,
  ModelInfo,
  TaskCheckpoint,
  TaskProgress,
  TaskType,
  WorkerHosting,
} from './backend.js'
export {
  type MockBackendInit,
  type MockInput,
  type MockOutput,
  type MockSteps,
  mockBackend,
  mockOutput,
} from './backends/mock.js'
export { type TextBackendInit, textBackend } from './backends/text.js'
export * from './constants.js'
export { raceSignal } from './engine/async.js'
export type { TaskEngineInit } from './engine/config.js'
export {
  type CancelOptions,
  type GetOptions,
  type RunOptions,
  type StopOptions,
  type SubmitOptions,
  TaskEngine,
  type TaskEngineEvents,
  taskEngine,
} from './engine/engine.js'
export type { EngineLimits, EngineLimitsUpdate } from './engine/limits.js'
export type { EngineCapabilities, EngineHealth, EngineLoad, ListOptions } from './engine/queries.js'
export type { BackendInfo, BackendPlacement, BackendRegistry, RegisterOptions } from './engine/registry.js'
export { MAX_WEIGHT, weightOf } from './engine/scheduler.js'
export type { TaskHandle, TaskHandleEvents } from './engine/task.js'
export * from './errors.js'
export { TypedEventTarget } from './events.js'
export {
  type MemoryAccount,
  MemoryBudget,
  type MemoryHolderUsage,
  type MemoryReservation,
  type MemoryUsage,
  memoryBudget,
  type PressureHandler,
  type ReserveOptions,
} from './memory/budget.js'
export type { ListQuery, ResultStore, ResultStoreInit, StoreUsage } from './store/store.js'
export { resultStore } from './store/store.js'
export {
  type Chunk,
  type ChunkBoundary,
  type ChunkInput,
  type ChunkOutput,
  ChunkSplitter,
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
export { nativeCall } from './worker/native.js'

// Models: a format-independent registry of model files with sha256 pins, and pulling from a hub.
// Plug-ins (`@p2p-ai/onnx`) describe their file format with a `ModelFormat`.

export type { ModelFormat } from './models/format.js'
export { type FileHash, type HashCache, type HashCacheInit, hashCache, sha256File } from './models/hash.js'
export { listRepoFiles, type RepoFile } from './models/hub.js'
export { type ManifestFile, type ModelManifest, readManifest, writeManifest } from './models/manifest.js'
export { type PulledModel, type PullModelOptions, type PullProgress, pullModel } from './models/pull.js'
export {
  type ModelEntry,
  type ModelRegistry,
  type ModelRegistryInit,
  modelFilesOf,
  modelRegistry,
  type ResolvedModel,
  type ScanResult,
  validateModelEntry,
} from './models/registry.js'
