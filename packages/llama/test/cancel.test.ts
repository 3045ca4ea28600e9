// A generation stops when the engine aborts it (caller cancel, timeout, shutdown), and gives its
// context sequence back: the next task on the same model, which needs that sequence, then runs.
// The engine's grace period is set far out, so the slot can only come back because the backend
// stopped, not because the engine gave up waiting.
import { type TaskEngine, type TaskHandle, taskEngine } from '@p2p-ai/engine'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { llamaBackend } from '../src/backend.js'
import { SYNTHETIC_COMPLETION } from '../src/gguf/synthetic.js'
import type { GenerateOutput } from '../src/task.js'
import { firstDelta, generateStreamed, llamaEngine, modelDir } from './helpers.js'

let models: Awaited<ReturnType<typeof modelDir>>
let path: string
let engine: TaskEngine | undefined

/** Seconds of generation for this machine: the endless model never ends on its own. */
const LONG = { prompt: 'Once upon a time', maxTokens: 4000 }
/** A bound for the test, generous for a loaded CI machine; the measured figure is in the bench. */
const STOPPED_WITHIN_MS = 1000

beforeAll(async () => {
  models = await modelDir()
  path = await models.write('endless', { endless: true, contextLength: 4096 })
})

afterEach(async () => {
  await engine?.stop({ timeoutMs: 0 })
  engine = undefined
})

afterAll(async () => {
  await models?.cleanup()
})

function make() {
  const backend = llamaBackend({ models: [{ name: 'endless', path }], threads: 1, concurrency: 1 })
  engine = taskEngine({ builtins: false, backends: [backend], cancelGraceMs: 60_000 })
  return { engine, backend }
}

/** When `handle` (a queued task) starts running, by `performance.now()`. */
function startOf(handle: TaskHandle): Promise<number> {
  return new Promise((resolve) => {
    handle.addEventListener('status', (event) => {
      if (event.detail.status === 'RUNNING') resolve(performance.now())
    })
  })
}

describe('cancelling a generation', () => {
  it('stops the model at once and frees its sequence for the next task', async () => {
    const { engine, backend } = make()
    const long = await engine.submit({ type: 'generate', input: LONG })
    const streamed: string[] = []
    long.addEventListener('progress', (event) => streamed.push(event.detail.delta ?? ''))
    await firstDelta(long)
    const next = await engine.submit({ type: 'generate', input: { prompt: 'Once', maxTokens: 9 } })
    expect(next.status).toBe('QUEUED')
    const nextStarted = startOf(next)

    const cancelledAt = performance.now()
    expect(long.cancel()).toBe(true)
    const record = await long.result()
    expect(record.status).toBe('CANCELLED')
    expect(record.error?.code).toBe('ERR_TASK_CANCELLED')
    expect((await nextStarted) - cancelledAt).toBeLessThan(STOPPED_WITHIN_MS)
    expect(await next.output()).toMatchObject({ text: SYNTHETIC_COMPLETION, finishReason: 'length' })
    // What streamed before the cancel is the start of the endless text, cut nowhere odd.
    expect(`${SYNTHETIC_COMPLETION} ${SYNTHETIC_COMPLETION} `.repeat(100).startsWith(streamed.join(''))).toBe(
      true,
    )
    expect(backend.loadedModels()).toMatchObject([{ name: 'endless', activeTasks: 0 }])
    expect(engine.health().status).toBe('healthy')
  })

  it('stops the model when the task times out, and frees its sequence', async () => {
    const { engine } = make()
    const { record } = await generateStreamed(engine, LONG, { timeoutMs: 200 })
    expect(record.status).toBe('TIMEOUT')
    const timedOutAt = performance.now()
    // With one sequence and the engine waiting 60 s for the backend, this runs only once the
    // timed-out generation has stopped.
    const { record: next } = await generateStreamed(engine, { prompt: 'Once', maxTokens: 9 })
    expect(next.status).toBe('COMPLETED')
    expect(performance.now() - timedOutAt).toBeLessThan(STOPPED_WITHIN_MS)
  })

  it('stops generations on engine shutdown and unloads the model', async () => {
    const { engine: e, backend } = make()
    const long = await e.submit({ type: 'generate', input: LONG })
    await firstDelta(long)
    const stopping = performance.now()
    await e.stop({ timeoutMs: 0 })
    engine = undefined
    expect((await long.result()).error?.code).toBe('ERR_ENGINE_STOPPED')
    expect(performance.now() - stopping).toBeLessThan(STOPPED_WITHIN_MS)
    expect(backend.loadedModels()).toEqual([])
  })
})

describe('cancelling while the model reads a long prompt', () => {
  it('stops after the slice of the prompt llama.cpp is reading, not after the whole prompt', async () => {
    // Wide enough that reading 4000 tokens takes seconds on one thread.
    const mid = await models.write('mid', {
      embeddingLength: 256,
      blockCount: 4,
      feedForwardLength: 768,
      contextLength: 4096,
      endless: true,
    })
    const backend = llamaBackend({ models: [{ name: 'mid', path: mid }], threads: 1, contextSize: 4096 })
    const e = taskEngine({ builtins: false, backends: [backend], cancelGraceMs: 60_000 })
    engine = e
    const long = { prompt: 'x'.repeat(4000), maxTokens: 1 }
    const read = await e.run<GenerateOutput>({ type: 'generate', input: long })
    const reading = await e.submit({ type: 'generate', input: long })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const cancelledAt = performance.now()
    reading.cancel()
    // The next task needs the one sequence: it starts when the cancelled run has stopped.
    const next = await e.submit({ type: 'generate', input: { prompt: 'Once', maxTokens: 1 } })
    const stoppedAt = await startOf(next)
    expect((await reading.result()).status).toBe('CANCELLED')
    expect(stoppedAt - cancelledAt).toBeLessThan(read.timings.timeToFirstTokenMs / 3)
    expect((await next.result()).status).toBe('COMPLETED')
  })
})

describe('one model, several tasks', () => {
  it('runs up to `concurrency` generations at once on one loaded model, each on its own sequence', async () => {
    const { engine: e, backend } = llamaEngine({ models: [{ name: 'endless', path }], concurrency: 2 })
    engine = e
    const input = { prompt: 'Once upon a time', maxTokens: 200 }
    let together = 0
    e.addEventListener('task:progress', () => {
      together = Math.max(together, backend.loadedModels()[0]?.activeTasks ?? 0)
    })
    const [a, b] = await Promise.all([generateStreamed(e, input), generateStreamed(e, input)])
    expect(together).toBe(2)
    expect(a.record.output?.text).toBe(b.record.output?.text)
    expect(a.deltas.join('')).toBe(a.record.output?.text)
    expect(backend.loadedModels()).toMatchObject([{ name: 'endless', activeTasks: 0 }])
  })
})
