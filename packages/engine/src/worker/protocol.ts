import type { BackendSettings, ModelInfo, TaskCheckpoint, TaskProgress, WorkerHosting } from '../backend.js'

/** `workerData` of a pool worker: which backend to build. */
export interface WorkerBoot {
  readonly module: string
  readonly export: string
  readonly init: unknown
  readonly progressIntervalMs: number
  /** The backend's settings under the engine's limits at the time the worker starts. */
  readonly settings: BackendSettings
}

/** An error as it crosses the thread boundary: only what crosses the wire survives. */
export interface SerializedError {
  readonly code?: string
  readonly name: string
  readonly message: string
}

export type ToWorker =
  | {
      readonly kind: 'run'
      readonly id: string
      readonly type: string
      readonly input: unknown
      readonly resume?: TaskCheckpoint
    }
  | { readonly kind: 'cancel'; readonly id: string; readonly reason: SerializedError }
  | { readonly kind: 'unload' }
  | { readonly kind: 'configure'; readonly settings: BackendSettings }
  // The memory budget lives on the main thread; a worker's backend reserves through it.
  | { readonly kind: 'memory-granted'; readonly req: number }
  | { readonly kind: 'memory-refused'; readonly req: number; readonly error: SerializedError }
  | { readonly kind: 'memory-pressure'; readonly req: number; readonly bytes: number }

export type FromWorker =
  | { readonly kind: 'ready'; readonly models: readonly ModelInfo[] }
  | { readonly kind: 'load-error'; readonly error: SerializedError }
  | { readonly kind: 'progress'; readonly id: string; readonly progress: TaskProgress }
  | {
      readonly kind: 'result'
      readonly id: string
      readonly output: unknown
      readonly models: readonly ModelInfo[]
    }
  | { readonly kind: 'error'; readonly id: string; readonly error: SerializedError }
  | { readonly kind: 'unloaded' }
  | { readonly kind: 'memory-reserve'; readonly req: number; readonly bytes: number; readonly what?: string }
  | { readonly kind: 'memory-cancel'; readonly req: number }
  | { readonly kind: 'memory-release'; readonly req: number }
  | { readonly kind: 'memory-relieved'; readonly req: number; readonly bytes: number }

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return { ...(typeof code === 'string' ? { code } : {}), name: err.name, message: err.message }
  }
  return { name: 'Error', message: String(err) }
}

export type { WorkerHosting }
