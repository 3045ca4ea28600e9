import { availableParallelism } from 'node:os'
import type { Backend, BackendRunOptions, BackendTask } from '../backend.js'
import { UnsupportedTaskTypeError } from '../errors.js'
import { type ChunkInput, chunkTaskType, chunkText } from '../tasks/chunk.js'

export interface TextBackendInit {
  /**
   * Run in the engine's worker pool (the text may be megabytes; splitting it on the main thread
   * would stall the node's networking). `false` runs in-process.
   *
   * @default true
   */
  readonly worker?: boolean
  /**
   * Most `chunk` tasks at once. Splitting is pure CPU, so more threads than cores only slows the
   * main thread down; the default leaves one core to the node's networking.
   *
   * @default max(1, os.availableParallelism() - 1), and at most the engine's concurrency
   */
  readonly concurrency?: number
}

/** The built-in `text` backend: pure-JavaScript text tasks (`chunk`). Needs no model. */
export function textBackend(init: TextBackendInit = {}): Backend {
  return {
    name: 'text',
    taskTypes: [chunkTaskType],
    concurrency: init.concurrency ?? Math.max(1, availableParallelism() - 1),
    ...(init.worker === false
      ? {}
      : { worker: { module: import.meta.url, export: 'textBackend', init: { ...init, worker: false } } }),
    async load() {},
    async run(task: BackendTask, options: BackendRunOptions): Promise<unknown> {
      if (task.type !== 'chunk') {
        throw new UnsupportedTaskTypeError(`the text backend does not run task type "${task.type}"`)
      }
      return chunkText(task.input as ChunkInput, {
        signal: options.signal,
        ...(options.onProgress === undefined
          ? {}
          : { onProgress: (fraction: number) => options.onProgress?.({ fraction }) }),
      })
    },
    async unload() {},
  }
}
