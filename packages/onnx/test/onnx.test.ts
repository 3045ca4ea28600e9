import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { sha256File } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OnnxBackend, onnxBackend } from '../src/backend/backend.js'
import { encodeOnnxModel } from '../src/graph/proto.js'
import type { OnnxRunOutput } from '../src/tensor/task.js'
import { removeDir, runTask, tempDir, writeArithmetic } from './fixtures/models.js'

const f32 = (dims: number[], data: number[]) => ({ dtype: 'float32', dims, data })
const i64 = (dims: number[], data: (number | string)[]) => ({ dtype: 'int64', dims, data })

describe('onnx task', () => {
  let root: string
  let arith: string
  let backend: OnnxBackend

  beforeAll(async () => {
    root = await tempDir()
    arith = await writeArithmetic(root)
    // Two inputs with different symbolic batch names: validation cannot see the clash, ORT can.
    await writeFile(
      join(root, 'clash.onnx'),
      encodeOnnxModel({
        name: 'clash',
        inputs: [
          { name: 'a', type: 'float32', shape: ['n', 3] },
          { name: 'b', type: 'float32', shape: ['m', 3] },
        ],
        outputs: [{ name: 'c', type: 'float32', shape: ['n', 3] }],
        nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['c'] }],
        initializers: [],
      }),
    )
    await writeFile(join(root, 'garbage.onnx'), Buffer.from('this is not a protobuf model at all'))
    backend = onnxBackend({
      worker: false,
      builtinModels: false,
      models: [
        { name: 'arith', path: arith },
        { name: 'clash', path: join(root, 'clash.onnx') },
        { name: 'garbage', path: join(root, 'garbage.onnx') },
        { name: 'pinned', path: arith, sha256: '0'.repeat(64) },
        { name: 'missing', path: join(root, 'nowhere.onnx') },
        { name: 'empty-dir', path: root, model: 'absent/model.onnx' },
      ],
    })
    await backend.load()
  })
  afterAll(async () => {
    await backend?.unload()
    await removeDir(root)
  })

  const run = (input: unknown) => runTask(backend, 'onnx', input) as Promise<OnnxRunOutput>
  const good = {
    x: f32([2, 3], [1, 2, 3, 4, 5, 6]),
    y: f32([2, 3], [0.5, 0.5, 0.5, 1, 1, 1]),
    ids: i64([2], [7, -8]),
  }

  it('runs named tensors through the model and returns named outputs', async () => {
    const out = await run({ model: 'arith', inputs: good })
    expect(out.model).toBe('arith')
    expect(out.outputs.sum).toEqual(f32([2, 3], [1.5, 2.5, 3.5, 5, 6, 7]))
    expect(out.outputs.ids_out).toEqual(i64([2], [7, -8]))
  })

  it('computes only the outputs asked for', async () => {
    const out = await run({ model: 'arith', inputs: good, outputs: ['ids_out'] })
    expect(Object.keys(out.outputs)).toEqual(['ids_out'])
  })

  it('accepts base64 tensors and returns base64 on request, exactly', async () => {
    const x = Buffer.from(new Float32Array([0.1, 0.2, 0.3]).buffer).toString('base64')
    const y = Buffer.from(new Float32Array([1, 2, 3]).buffer).toString('base64')
    const ids = Buffer.from(new BigInt64Array([2n ** 62n]).buffer).toString('base64')
    const out = await run({
      model: 'arith',
      inputs: {
        x: { dtype: 'float32', dims: [1, 3], data: x },
        y: { dtype: 'float32', dims: [1, 3], data: y },
        ids: { dtype: 'int64', dims: [1], data: ids },
      },
      encoding: 'base64',
    })
    const sum = Buffer.from(out.outputs.sum!.data as string, 'base64')
    expect(Array.from(new Float32Array(sum.buffer, sum.byteOffset, 3))).toEqual(
      Array.from(new Float32Array([0.1 + 1, 0.2 + 2, 0.3 + 3].map(Math.fround))),
    )
    expect(out.outputs.ids_out!.data).toBe(ids)
  })

  it('keeps int64 beyond 2^53 exact as decimal strings', async () => {
    const big = '9007199254740993'
    const out = await run({
      model: 'arith',
      inputs: { x: f32([1, 3], [0, 0, 0]), y: f32([1, 3], [0, 0, 0]), ids: i64([1], [big]) },
      encoding: 'json',
    })
    expect(out.outputs.ids_out).toEqual(i64([1], [big]))
  })

  it('switches to base64 above 1024 elements with encoding auto', async () => {
    const n = 400
    const zeros = new Array(n * 3).fill(0)
    const out = await run({
      model: 'arith',
      inputs: { x: f32([n, 3], zeros), y: f32([n, 3], zeros), ids: i64([n], new Array(n).fill(1)) },
    })
    expect(typeof out.outputs.sum!.data).toBe('string')
    expect(Array.isArray(out.outputs.ids_out!.data)).toBe(true)
  })

  it.each([
    [
      'a wrong dtype',
      { ...good, x: { dtype: 'float64', dims: [2, 3], data: [1, 2, 3, 4, 5, 6] } },
      /input "x": expected dtype float32, got float64/,
    ],
    [
      'a wrong rank',
      { ...good, x: f32([6], [1, 2, 3, 4, 5, 6]) },
      /input "x": expected shape \[n, 3\], got \[6\]/,
    ],
    [
      'a wrong fixed dimension',
      { ...good, x: f32([3, 2], [1, 2, 3, 4, 5, 6]) },
      /input "x": expected shape \[n, 3\], got \[3, 2\] \(axis 1\)/,
    ],
    [
      'disagreeing symbolic dimensions',
      { ...good, ids: i64([3], [1, 2, 3]) },
      /input "ids": dimension 0 \(n\) is 3 but input "x" has 2/,
    ],
    ['a missing input', { x: good.x, y: good.y }, /input "ids": missing/],
    [
      'an unknown input',
      { ...good, z: good.x },
      /input "z": the model has no such input \(inputs: x, y, ids\)/,
    ],
    [
      'too few elements',
      { ...good, x: f32([2, 3], [1, 2, 3]) },
      /input "x": dims \[2, 3\] need 6 elements, got 3/,
    ],
    [
      'invalid base64',
      { ...good, x: { dtype: 'float32', dims: [2, 3], data: 'not base64!' } },
      /input "x": data is a string but not valid base64/,
    ],
    [
      'short base64',
      { ...good, x: { dtype: 'float32', dims: [2, 3], data: 'AAAA' } },
      /need 24 bytes, base64 data has 3/,
    ],
    [
      'a fraction in an int64',
      { ...good, ids: i64([2], [1.5, 2]) },
      /input "ids": element 0 \(1.5\) is not a valid int64/,
    ],
    ['an unsafe int64 number', { ...good, ids: i64([2], [2 ** 60, 2]) }, /element 0 .* is not a valid int64/],
  ])('rejects %s with ERR_INVALID_TENSOR naming the input', async (_, inputs, message) => {
    await expect(run({ model: 'arith', inputs })).rejects.toMatchObject({
      code: 'ERR_INVALID_TENSOR',
      name: 'InvalidTensorError',
      message: expect.stringMatching(message),
    })
  })

  it('rejects an unknown output name', async () => {
    await expect(run({ model: 'arith', inputs: good, outputs: ['nope'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_TENSOR',
      message: expect.stringContaining('outputs: sum, ids_out'),
    })
  })

  it('reports an ONNX Runtime failure inside the graph as ERR_INFERENCE_FAILED', async () => {
    const inputs = { a: f32([2, 3], [1, 2, 3, 4, 5, 6]), b: f32([3, 3], new Array(9).fill(1)) }
    await expect(run({ model: 'clash', inputs })).rejects.toMatchObject({ code: 'ERR_INFERENCE_FAILED' })
  })

  it('tells a missing model, a missing file and a corrupt model apart, and keeps serving', async () => {
    await expect(run({ model: 'unknown', inputs: good })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('registered: arith'),
    })
    await expect(run({ model: 'missing', inputs: good })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('nowhere.onnx does not exist'),
    })
    await expect(run({ model: 'empty-dir', inputs: good })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
    })
    await expect(run({ model: 'garbage', inputs: good })).rejects.toMatchObject({
      code: 'ERR_MODEL_CORRUPT',
      name: 'ModelCorruptError',
      message: expect.stringContaining('ONNX Runtime cannot load'),
    })
    await expect(run({ model: 'pinned', inputs: good })).rejects.toMatchObject({
      code: 'ERR_MODEL_CORRUPT',
      message: expect.stringMatching(/sha256 of .* is [0-9a-f]{64}, expected 0{64}/),
    })
    expect((await run({ model: 'arith', inputs: good })).outputs.sum).toBeDefined()
  })

  it('announces resolvable models with their sha256, size and task types', async () => {
    const models = backend.models()
    expect(models.map((m) => m.name).sort()).toEqual(['arith', 'clash', 'garbage'])
    const a = models.find((m) => m.name === 'arith')!
    expect(a).toMatchObject({ sha256: await sha256File(arith), taskTypes: ['onnx'], loaded: true })
    expect(a.sizeBytes).toBeGreaterThan(0)
  })

  it('runs with weight prepacking off', async () => {
    const lean = onnxBackend({
      worker: false,
      builtinModels: false,
      models: [{ name: 'arith', path: arith }],
      cache: { session: { prepackWeights: false, intraOpNumThreads: 1, graphOptimizationLevel: 'basic' } },
    })
    const out = (await runTask(lean, 'onnx', { model: 'arith', inputs: good })) as OnnxRunOutput
    expect(out.outputs.sum).toEqual(f32([2, 3], [1.5, 2.5, 3.5, 5, 6, 7]))
    await lean.unload()
  })

  it('rejects task types it does not run', async () => {
    await expect(
      backend.run({ id: '1', type: 'chunk', input: {} }, { signal: new AbortController().signal }),
    ).rejects.toMatchObject({ code: 'ERR_UNSUPPORTED_TASK_TYPE' })
  })

  it('validates its init and describes how to host it in a worker', () => {
    expect(() => onnxBackend({ cache: { maxModels: 0 } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ONNX_OPTIONS' }),
    )
    expect(() => onnxBackend({ cache: { session: { intraOpNumThreads: -1 } } })).toThrow(/intraOpNumThreads/)
    expect(() => onnxBackend({ embedBatchSize: 0 })).toThrow(/embedBatchSize/)
    expect(() => onnxBackend({ cache: { session: { prepackWeights: 'no' as never } } })).toThrow(
      /prepackWeights/,
    )
    expect(() => onnxBackend({ models: [{ name: 'Bad Name', path: arith }] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MODEL_ENTRY' }),
    )
    const hosted = onnxBackend({ models: [{ name: 'arith', path: arith }], cache: { maxModels: 2 } })
    expect(hosted.worker).toMatchObject({
      export: 'onnxBackend',
      init: { worker: false, cache: { maxModels: 2 } },
    })
    expect(hosted.worker?.module).toMatch(/backend\/backend\.(ts|js)$/)
    expect(() => onnxBackend({ hashCacheFile: '' })).toThrow(/hashCacheFile/)
    expect(structuredClone(hosted.worker?.init)).toEqual(hosted.worker?.init)
    expect(hosted.concurrency).toBe(1)
  })
})
