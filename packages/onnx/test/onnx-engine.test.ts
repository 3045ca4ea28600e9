// The onnx backend inside the real engine, hosted in its worker pool. Worker threads run the
// compiled `dist/` of this package, so this test needs `pnpm build` first.
import { join } from 'node:path'
import { type TaskEngine, taskEngine } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onnxBackend } from '../src/backend/backend.js'
import type { EmbedOutput } from '../src/embed/embed.js'
import type { OcrOutput } from '../src/ocr/ocr.js'
import { renderLine } from './fixtures/images.js'
import { removeDir, tempDir, writeBert } from './fixtures/models.js'

describe('onnx backend in the engine', () => {
  let root: string
  let engine: TaskEngine

  beforeAll(async () => {
    root = await tempDir()
    await writeBert(root, 'mini', { layers: 1 })
    await writeBert(root, 'tagger', { layers: 0, labels: ['O', 'B-PER'], tokenLabels: { hello: 'B-PER' } })
    engine = taskEngine({
      builtins: false,
      backends: [
        onnxBackend({
          models: [{ name: 'mini', path: join(root, 'mini') }],
          defaultEmbedModel: 'mini',
          cache: { session: { intraOpNumThreads: 1 } },
        }),
      ],
    })
  })
  afterAll(async () => {
    await engine?.stop({ timeoutMs: 0 })
    await removeDir(root)
  })

  it('runs embed, ocr and tokenize in a worker thread and announces its models', async () => {
    await engine.backends.load('onnx')
    expect(engine.backends.list()).toMatchObject([{ name: 'onnx', placement: 'worker', threads: 1 }])
    const embedded = await engine.run<EmbedOutput>({
      type: 'embed',
      input: { texts: ['hello world', 'dog'] },
    })
    expect(embedded).toMatchObject({ model: 'mini', dimensions: 16 })
    expect(embedded.embeddings).toHaveLength(2)
    const read = await engine.run<OcrOutput>({
      type: 'ocr',
      input: { image: (await renderLine('Peer 7 sent 3 tasks')).toString('base64') },
    })
    expect(read.text).toBe('Peer 7 sent 3 tasks')
    expect(await engine.run({ type: 'tokenize', input: { text: 'Two words.' } })).toMatchObject({ words: 2 })
    const models = engine.capabilities().models
    expect(models.map((m) => m.name)).toEqual(
      expect.arrayContaining(['mini', 'ppocr-v4-rec', 'ppocr-v4-det']),
    )
    expect(models.find((m) => m.name === 'mini')).toMatchObject({
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    })
    const types = new Set(engine.capabilities().taskTypes.map((t) => `${t.backend}:${t.name}`))
    expect([...types].sort()).toEqual(['onnx:embed', 'onnx:ner', 'onnx:ocr', 'onnx:onnx', 'onnx:tokenize'])
  })

  it('serves a model added at run time once the engine renews its workers, and announces it at once', async () => {
    const onnx = engine.backends.get('onnx') as ReturnType<typeof onnxBackend>
    await engine.run({ type: 'embed', input: { text: 'a worker is up' } })
    const model = await onnx.addModel({ name: 'tagger', path: join(root, 'tagger') })
    expect(model.taskTypes).toEqual(['ner', 'tokenize', 'onnx'])
    engine.backends.reload('onnx')
    expect(engine.capabilities().models.map((m) => m.name)).toContain('tagger')
    const out = await engine.run<{ entities: Array<Array<{ type: string; text: string }>> }>({
      type: 'ner',
      input: { model: 'tagger', text: 'hello world' },
    })
    expect(out.entities[0]).toMatchObject([{ type: 'PER', text: 'hello' }])
    // A model whose files do not work is refused and leaves nothing behind.
    await expect(onnx.addModel({ name: 'broken', path: join(root, 'nowhere') })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
    })
    expect(onnx.registry.get('broken')).toBeUndefined()
  })

  it('carries coded errors across the thread boundary and keeps serving', async () => {
    const failed = async (type: string, input: unknown) => (await engine.submit({ type, input })).result()
    expect((await failed('embed', { text: 'x', model: 'nope' })).error?.code).toBe('ERR_MODEL_NOT_FOUND')
    expect((await failed('ocr', { image: 'AAAA' })).error?.code).toBe('ERR_INVALID_IMAGE')
    expect((await failed('tokenize', { text: 'x', tokenizer: 'nope' })).error?.code).toBe(
      'ERR_TOKENIZER_NOT_FOUND',
    )
    const tensor = { dtype: 'float32', dims: [1], data: [1] }
    expect((await failed('onnx', { model: 'mini', inputs: { input_ids: tensor } })).error).toMatchObject({
      code: 'ERR_INVALID_TENSOR',
      message: expect.stringContaining('input "input_ids": expected dtype int64, got float32'),
    })
    await expect(engine.submit({ type: 'embed', input: { texts: [] } })).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
    })
    expect(engine.health().checks.workerCrashes).toBe(0)
    expect(
      (await engine.run<EmbedOutput>({ type: 'embed', input: { text: 'still here' } })).embeddings,
    ).toHaveLength(1)
  })

  it("loads its models within the engine's memory budget: idle ones go when it shrinks, one too large is refused", async () => {
    // One worker holds the models: the one an earlier test's reload left (its predecessor's share went with it).
    expect(engine.memory().holders).toEqual([
      expect.objectContaining({ holder: expect.stringMatching(/^onnx#\d+$/) }),
    ])
    const held = engine.memory().usedBytes
    expect(held).toBeGreaterThan(0)
    engine.setLimits({ memoryBytes: 1024 })
    await expect.poll(() => engine.memory().usedBytes).toBe(0)
    const refused = await (await engine.submit({ type: 'embed', input: { text: 'x' } })).result()
    expect(refused.error).toMatchObject({
      code: 'ERR_MODEL_TOO_LARGE',
      message: expect.stringContaining('model mini'),
    })
    engine.setLimits({ memoryBytes: Number.POSITIVE_INFINITY })
    expect((await engine.run<EmbedOutput>({ type: 'embed', input: { text: 'x' } })).embeddings).toHaveLength(
      1,
    )
  })
})

describe("onnx backend under the engine's CPU limit", () => {
  it('creates sessions with the intra-op threads the limit allows, and new ones when it changes', async () => {
    const root = await tempDir()
    await writeBert(root, 'mini', { layers: 1 })
    const onnx = onnxBackend({
      worker: false,
      models: [{ name: 'mini', path: join(root, 'mini') }],
      defaultEmbedModel: 'mini',
    })
    const engine = taskEngine({ builtins: false, backends: [onnx], concurrency: 2 })
    try {
      engine.setLimits({ cores: 3 })
      await engine.run({ type: 'embed', input: { text: 'x' } })
      // The backend runs one task at a time: all three cores for it.
      expect(onnx.loadedModels()).toEqual([
        expect.objectContaining({ name: 'mini', threads: 3, reservedBytes: expect.any(Number) }),
      ])
      expect(onnx.loadedModels()[0]?.reservedBytes).toBeGreaterThan(0)
      engine.setLimits({ cores: 1 })
      expect(onnx.loadedModels()).toEqual([])
      await engine.run({ type: 'embed', input: { text: 'x' } })
      expect(onnx.loadedModels()).toEqual([expect.objectContaining({ threads: 1 })])
    } finally {
      await engine.stop({ timeoutMs: 0 })
      await removeDir(root)
    }
  })
})
