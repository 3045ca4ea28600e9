import { readdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { onnxBackend } from '../src/backend/backend.js'
import { MAP_WEIGHTS_MIN_BYTES } from '../src/constants.js'
import type { EmbedOutput } from '../src/embed/embed.js'
import { syntheticBertModel } from '../src/graph/synthetic.js'
import { externalizeWeights } from '../src/runtime/external-data.js'
import { arithmeticModel, removeDir, runTask, TEST_WORDS, tempDir, writeBert } from './fixtures/models.js'

const mappedCopies = async () => (await readdir(tmpdir())).filter((n) => n.startsWith('p2p-ai-mapped-'))

describe('memory-mapped weights', () => {
  let root: string
  beforeAll(async () => {
    root = await tempDir()
  })
  afterAll(() => removeDir(root))

  it('moves large initializers to an external file and ONNX Runtime computes the same outputs', async () => {
    const { model } = syntheticBertModel({ words: TEST_WORDS, hidden: 16, layers: 1 })
    const ext = await externalizeWeights(model, 'model.onnx_data', 256)
    expect(ext.rewritten).toBe(true)
    expect(ext.tensors).toBeGreaterThan(3)
    expect(ext.model.length).toBeLessThan(model.length / 4)
    const dir = join(root, 'ext')
    const plain = join(root, 'plain')
    await writeBert(root, 'plain', { hidden: 16, layers: 1 })
    await writeBert(root, 'ext', { hidden: 16, layers: 1 })
    await writeFile(join(dir, 'model.onnx'), ext.model)
    await writeFile(join(dir, 'model.onnx_data'), Buffer.concat(ext.data))
    const backend = onnxBackend({
      worker: false,
      builtinModels: false,
      models: [
        { name: 'plain', path: plain },
        { name: 'ext', path: dir },
      ],
    })
    const texts = ['the quick brown fox', 'hello']
    const a = (await runTask(backend, 'embed', { model: 'plain', texts })) as EmbedOutput
    const b = (await runTask(backend, 'embed', { model: 'ext', texts })) as EmbedOutput
    expect(b.embeddings).toEqual(a.embeddings)
    await backend.unload()
  })

  it('leaves models with external data, or without large weights, as they are', async () => {
    const { model } = syntheticBertModel({ words: TEST_WORDS, hidden: 16, layers: 0 })
    const once = await externalizeWeights(model, 'w.bin', 256)
    expect(once.rewritten).toBe(true)
    expect(await externalizeWeights(once.model, 'w2.bin', 256)).toMatchObject({
      rewritten: false,
      tensors: 0,
    })
    expect(await externalizeWeights(arithmeticModel(), 'w.bin')).toMatchObject({ rewritten: false })
    await expect(externalizeWeights(Buffer.from('not a model'), 'w.bin')).rejects.toThrow(RangeError)
  })

  it('loads big models from a mapped copy that is gone once the session exists', async () => {
    // 30522 x 160 float32 embeddings alone are 19.5 MB: over the threshold.
    const { dir, model } = await writeBert(root, 'big', {
      vocabSize: 30522,
      hidden: 160,
      heads: 2,
      layers: 1,
    })
    expect(model.model.length).toBeGreaterThan(MAP_WEIGHTS_MIN_BYTES)
    const before = await mappedCopies()
    const make = (mapWeights: boolean) =>
      onnxBackend({
        worker: false,
        builtinModels: false,
        models: [{ name: 'big', path: dir }],
        cache: { session: { mapWeights } },
      })
    const mapped = make(true)
    const copied = make(false)
    const texts = ['embed this', 'lazy dog jumps']
    const a = (await runTask(mapped, 'embed', { model: 'big', texts })) as EmbedOutput
    expect(mapped.loadedModels()).toEqual([expect.objectContaining({ name: 'big', mappedWeights: true })])
    expect(await mappedCopies()).toEqual(before)
    const b = (await runTask(copied, 'embed', { model: 'big', texts })) as EmbedOutput
    expect(copied.loadedModels()).toEqual([expect.objectContaining({ mappedWeights: false })])
    expect(a.embeddings).toEqual(b.embeddings)
    // A second task on the loaded session reads weights from the (deleted) mapping.
    expect(((await runTask(mapped, 'embed', { model: 'big', texts })) as EmbedOutput).embeddings).toEqual(
      a.embeddings,
    )
    await mapped.unload()
    await copied.unload()
  })
})
