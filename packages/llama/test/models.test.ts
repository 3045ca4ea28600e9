import { createHash } from 'node:crypto'
import { readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TaskEngine } from '@p2p-ai/engine'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { LlamaBackendInit } from '../src/backend.js'
import { SYNTHETIC_COMPLETION, syntheticLlamaModel } from '../src/gguf/synthetic.js'
import { generateStreamed, llamaEngine, modelDir, until } from './helpers.js'

let models: Awaited<ReturnType<typeof modelDir>>
let tiny: string
let tinySha: string
let engine: TaskEngine | undefined

beforeAll(async () => {
  models = await modelDir()
  tiny = await models.write('tiny')
  tinySha = createHash('sha256')
    .update(await readFile(tiny))
    .digest('hex')
})

afterEach(async () => {
  await engine?.stop({ timeoutMs: 0 })
  engine = undefined
})

afterAll(async () => {
  await models?.cleanup()
})

function make(init: LlamaBackendInit, memoryLimitBytes?: number) {
  const made = llamaEngine(init, memoryLimitBytes === undefined ? {} : { memoryLimitBytes })
  engine = made.engine
  return made
}

const prompt = { prompt: 'Once upon a time', maxTokens: 4 }

describe('models: announcements', () => {
  it('describes each model from its GGUF header, and says whether it is loaded', async () => {
    const q8 = await models.write('tiny-q8', { tensorType: 'Q8_0', contextLength: 1024 })
    const { engine, backend } = make({
      models: [
        { name: 'tiny', path: tiny },
        { name: 'tiny-q8', path: q8 },
      ],
    })
    await engine.backends.load('llama')
    expect(backend.models()).toEqual([
      {
        name: 'tiny',
        sha256: tinySha,
        sizeBytes: syntheticLlamaModel().bytes.length,
        taskTypes: ['generate'],
        loaded: false,
        family: 'llama',
        quantization: 'F32',
        contextLength: 512,
        parameters: syntheticLlamaModel().parameters,
        // Where the file is, for a content plug-in to share (never announced).
        files: { dir: expect.any(String), paths: ['tiny.gguf'] },
      },
      expect.objectContaining({ name: 'tiny-q8', quantization: 'Q8_0', contextLength: 1024, loaded: false }),
    ])
    expect(engine.capabilities().models.map((m) => m.name)).toEqual(['tiny', 'tiny-q8'])
    await engine.run({ type: 'generate', input: { ...prompt, model: 'tiny' } })
    expect(backend.models().map((m) => [m.name, m.loaded])).toEqual([
      ['tiny', true],
      ['tiny-q8', false],
    ])
  })

  it('adds and removes models on a running backend', async () => {
    const { engine, backend } = make({ models: [{ name: 'tiny', path: tiny }] })
    await engine.run({ type: 'generate', input: prompt })
    const second = await models.write('second', { seed: 2 })
    expect(await backend.addModel({ name: 'second', path: second })).toMatchObject({
      name: 'second',
      loaded: false,
    })
    expect(backend.models().map((m) => m.name)).toEqual(['tiny', 'second'])
    const out = await engine.run({ type: 'generate', input: { ...prompt, model: 'second' } })
    expect(out).toMatchObject({ model: 'second', text: 'the quick brown fox' })

    expect(await backend.removeModel('second')).toBe(true)
    expect(await backend.removeModel('second')).toBe(false)
    expect(backend.models().map((m) => m.name)).toEqual(['tiny'])
    expect(backend.loadedModels().map((m) => m.name)).toEqual(['tiny'])
    const gone = await generateStreamed(engine, { ...prompt, model: 'second' })
    expect(gone.record.error?.code).toBe('ERR_MODEL_NOT_FOUND')
  })
})

describe('models: memory', () => {
  it("refuses a model that does not fit the engine's memory budget, saying how much it needs", async () => {
    const { engine } = make({ models: [{ name: 'tiny', path: tiny }] }, 1024 * 1024)
    const { record } = await generateStreamed(engine, prompt)
    expect(record.status).toBe('FAILED')
    expect(record.error?.code).toBe('ERR_MODEL_TOO_LARGE')
    expect(record.error?.message).toMatch(
      /^model tiny with a context of \d+ tokens × 1 sequence\(s\) needs about [\d.]+ MiB, more than the memory budget of 1\.0 MiB: raise the memory limit/,
    )
  })

  it('unloads the least recently used idle model to make room for another', async () => {
    const paths = await Promise.all(['a', 'b', 'c'].map((n, i) => models.write(`lru-${n}`, { seed: i + 10 })))
    // Each takes about 2.1 MiB by llama.cpp's estimate (weights and a 512-token context): two fit.
    const { engine, backend } = make(
      { models: paths.map((path, i) => ({ name: `m${i}`, path })) },
      5 * 1024 * 1024,
    )
    const use = (model: string) => engine.run({ type: 'generate', input: { ...prompt, model } })
    await use('m0')
    await use('m1')
    expect(backend.loadedModels().map((m) => m.name)).toEqual(['m0', 'm1'])
    await use('m0')
    await use('m2')
    expect(backend.loadedModels().map((m) => m.name)).toEqual(['m0', 'm2'])
    const bytes = backend.loadedModels().reduce((n, m) => n + m.bytes, 0)
    expect(bytes).toBeLessThanOrEqual(5 * 1024 * 1024)
    expect(engine.memory()).toMatchObject({ usedBytes: bytes, holders: [{ holder: 'llama', bytes }] })
  })

  it("computes with the threads the engine's CPU limit allows, from the next model loaded", async () => {
    const { engine, backend } = make({ models: [{ name: 'tiny', path: tiny }], threads: 3 })
    engine.setLimits({ cores: 2 })
    await engine.run({ type: 'generate', input: prompt })
    expect(backend.loadedModels()).toEqual([expect.objectContaining({ name: 'tiny', threads: 2 })])
    // A higher limit: the idle model is let go, and loaded again with more threads.
    engine.setLimits({ cores: 8 })
    await until(() => backend.loadedModels().length === 0)
    await engine.run({ type: 'generate', input: prompt })
    expect(backend.loadedModels()).toEqual([expect.objectContaining({ threads: 3 })])
  })

  it('unloads a model nobody used for idleUnloadMs, and loads it again when asked', async () => {
    const { engine, backend } = make({ models: [{ name: 'tiny', path: tiny }], idleUnloadMs: 50 })
    const first = await engine.run<{ timings: { loadMs: number } }>({ type: 'generate', input: prompt })
    expect(first.timings.loadMs).toBeGreaterThan(0)
    expect(backend.models()[0]?.loaded).toBe(true)
    await until(() => backend.models()[0]?.loaded === false)
    expect(backend.loadedModels()).toEqual([])
    const again = await engine.run<{ text: string }>({ type: 'generate', input: prompt })
    expect(again.text).toBe('the quick brown fox')
  })
})

describe('models: files', () => {
  it('notices a model file replaced on disk: the next task loads the new version', async () => {
    const path = await models.write('replaced')
    const { engine, backend } = make({ models: [{ name: 'm', path }] })
    const input = { prompt: 'Once upon a time', maxTokens: 12 }
    const before = await engine.run<{ text: string; finishReason: string }>({ type: 'generate', input })
    expect(before).toMatchObject({ text: SYNTHETIC_COMPLETION, finishReason: 'stop' })
    const oldSha = backend.models()[0]?.sha256
    await models.write('replaced', { endless: true })
    const after = await engine.run<{ text: string; finishReason: string }>({ type: 'generate', input })
    expect(after).toMatchObject({ text: `${SYNTHETIC_COMPLETION} the quick brown`, finishReason: 'length' })
    expect(backend.models()[0]?.sha256).not.toBe(oldSha)
    expect(backend.loadedModels()).toHaveLength(1)
    // Read once per file version, but checked at every task: a file gone since is noticed too.
    await rm(path)
    const gone = await generateStreamed(engine, { ...input, model: 'm' })
    expect(gone.record.error?.code).toBe('ERR_MODEL_NOT_FOUND')
  })

  it('checks a pinned sha256 on load: the right one runs, another is ERR_MODEL_CORRUPT', async () => {
    const { engine } = make({
      models: [
        { name: 'pinned', path: tiny, sha256: tinySha },
        { name: 'wrong', path: tiny, sha256: '0'.repeat(64) },
      ],
    })
    expect(
      (await engine.run<{ text: string }>({ type: 'generate', input: { ...prompt, model: 'pinned' } })).text,
    ).toBe('the quick brown fox')
    const { record } = await generateStreamed(engine, { ...prompt, model: 'wrong' })
    expect(record.error?.code).toBe('ERR_MODEL_CORRUPT')
    expect(record.error?.message).toContain(`sha256 of ${tiny} is ${tinySha}, expected ${'0'.repeat(64)}`)
  })

  it('reports a missing file or an unknown model name as ERR_MODEL_NOT_FOUND', async () => {
    const { engine, backend } = make({
      models: [
        { name: 'tiny', path: tiny },
        { name: 'gone', path: join(models.dir, 'gone.gguf') },
      ],
    })
    await engine.backends.load('llama')
    expect(backend.models().map((m) => m.name)).toEqual(['tiny'])
    const missing = await generateStreamed(engine, { ...prompt, model: 'gone' })
    expect(missing.record.error).toMatchObject({ code: 'ERR_MODEL_NOT_FOUND' })
    expect(missing.record.error?.message).toMatch(/gone\.gguf does not exist/)
    const unknown = await generateStreamed(engine, { ...prompt, model: 'nope' })
    expect(unknown.record.error?.code).toBe('ERR_MODEL_NOT_FOUND')
    expect(unknown.record.error?.message).toContain('registered: tiny, gone')
    // Two models and no default: the input must name one.
    const unnamed = await generateStreamed(engine, prompt)
    expect(unnamed.record.error?.code).toBe('ERR_MODEL_NOT_FOUND')
    expect(unnamed.record.error?.message).toContain("name a model in the input's `model`")
  })

  it('reports a file that is not GGUF, or a truncated one, as ERR_MODEL_CORRUPT with the reason', async () => {
    const junk = join(models.dir, 'junk.gguf')
    await writeFile(junk, 'not a model at all')
    const cut = await models.write('cut')
    await truncate(cut, 100_000)
    const { engine } = make({
      models: [
        { name: 'junk', path: junk },
        { name: 'cut', path: cut },
      ],
    })
    const notGguf = await generateStreamed(engine, { ...prompt, model: 'junk' })
    expect(notGguf.record.error?.code).toBe('ERR_MODEL_CORRUPT')
    expect(notGguf.record.error?.message).toMatch(/not a readable GGUF file: .*magic/i)
    const truncated = await generateStreamed(engine, { ...prompt, model: 'cut' })
    expect(truncated.record.error?.code).toBe('ERR_MODEL_CORRUPT')
    // llama.cpp's own explanation, caught from its log.
    expect(truncated.record.error?.message).toMatch(
      /llama\.cpp could not load model cut .*not within the file bounds/,
    )
  })

  it('refuses a prompt longer than the context with ERR_CONTEXT_LENGTH_EXCEEDED', async () => {
    const endless = await models.write('endless', { endless: true })
    const { engine } = make({ models: [{ name: 'endless', path: endless }] })
    const { record } = await generateStreamed(engine, { prompt: 'x'.repeat(600) })
    expect(record.error?.code).toBe('ERR_CONTEXT_LENGTH_EXCEEDED')
    expect(record.error?.message).toContain(
      'the prompt is 601 tokens but model endless has a context of 512 tokens',
    )
    // A prompt that fits leaves the rest of the context to the reply, and `length` at its end.
    const fits = await engine.run<{
      finishReason: string
      usage: { promptTokens: number; completionTokens: number }
    }>({
      type: 'generate',
      input: { prompt: 'x'.repeat(400), maxTokens: 1000 },
    })
    expect(fits).toMatchObject({
      finishReason: 'length',
      usage: { promptTokens: 401, completionTokens: 111 },
    })
  })
})
