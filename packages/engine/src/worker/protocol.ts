import type { ModelInfo, TaskCheckpoint, TaskProgress, WorkerHosting } from '../backend.js'

/** `workerData` of a pool worker: which backend to build. */
export interface WorkerBoot {
  readonly module: string
  readonly export: string
  readonly init: unknown
  readonly progressIntervalMs: number
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

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return { ...(typeof code === 'string' ? { code } : {}), name: err.name, message: err.message }
  }
  return { name: 'Error', message: String(err) }
}

export type { WorkerHosting }
