import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TaskEngine, type TaskHandle, type TaskRecord, taskEngine } from '@p2p-ai/engine'
import { type LlamaBackend, type LlamaBackendInit, llamaBackend } from '../src/backend.js'
import { type SyntheticLlamaOptions, writeSyntheticLlamaModel } from '../src/gguf/synthetic.js'
import type { GenerateInput, GenerateOutput } from '../src/task.js'

/** A temporary directory of synthetic models, removed by `cleanup()`. */
export async function modelDir() {
  const dir = await mkdtemp(join(tmpdir(), 'p2p-ai-llama-'))
  return {
    dir,
    /** Writes a synthetic model as `<name>.gguf` and returns its path. */
    async write(name: string, options: SyntheticLlamaOptions = {}): Promise<string> {
      const path = join(dir, `${name}.gguf`)
      await writeSyntheticLlamaModel(path, options)
      return path
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
}

/**
 * An engine with a llama backend only. One thread: the test models are tiny, and more threads than
 * the two cores of a busy CI machine only make llama.cpp's workers wait for each other.
 */
export function llamaEngine(
  init: LlamaBackendInit,
  engineInit: { memoryLimitBytes?: number } = {},
): { engine: TaskEngine; backend: LlamaBackend } {
  const backend = llamaBackend({ threads: 1, ...init })
  const engine = taskEngine({ builtins: false, backends: [backend], ...engineInit })
  return { engine, backend }
}

/** Submits a `generate` task and collects the text deltas its handle streams. */
export async function generateStreamed(
  engine: TaskEngine,
  input: GenerateInput,
  request: { timeoutMs?: number } = {},
): Promise<{ record: TaskRecord<GenerateOutput>; deltas: string[]; handle: TaskHandle }> {
  const handle = await engine.submit({ type: 'generate', input, ...request })
  const deltas: string[] = []
  handle.addEventListener('progress', (event) => {
    if (event.detail.delta !== undefined) deltas.push(event.detail.delta)
  })
  const record = (await handle.result()) as TaskRecord<GenerateOutput>
  return { record, deltas, handle }
}

/** Resolves once the handle has streamed at least one delta. */
export function firstDelta(handle: TaskHandle): Promise<void> {
  return new Promise((resolve) => {
    handle.addEventListener('progress', (event) => {
      if (event.detail.delta !== undefined) resolve()
    })
  })
}

/** Polls `check` until it returns true; fails after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
