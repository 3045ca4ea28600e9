import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OnnxBackend, onnxBackend } from '../src/backend/backend.js'
import type { EmbedOutput } from '../src/embed/embed.js'
import type { SyntheticBertModel } from '../src/graph/synthetic.js'
import { removeDir, runTask, tempDir, writeArithmetic, writeBert } from './fixtures/models.js'

/** Independent reference: BERT embeddings summed per token, averaged over the text's tokens. */
function referenceEmbedding(
  m: SyntheticBertModel,
  words: string[],
  options: { normalize?: boolean; tokenTypes?: boolean; pooling?: 'mean' | 'cls' } = {},
): number[] {
  const ids = ['[CLS]', ...words, '[SEP]'].map((w) => {
    const id = m.vocab.indexOf(w)
    if (id < 0) throw new Error(`test word ${w} is not in the vocabulary`)
    return id
  })
  const h = m.hidden
  const rows = ids.map((id, t) =>
    Array.from({ length: h }, (_, k) => {
      const type = options.tokenTypes === false ? 0 : m.tokenTypeEmbeddings[k]!
      return m.wordEmbeddings[id * h + k]! + m.positionEmbeddings[t * h + k]! + type
    }),
  )
  const v =
    options.pooling === 'cls'
      ? rows[0]!
      : Array.from({ length: h }, (_, k) => rows.reduce((s, r) => s + r[k]!, 0) / rows.length)
  if (options.normalize === false) return v
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
  return v.map((x) => x / norm)
}

function expectClose(actual: readonly number[], expected: readonly number[], tolerance = 1e-5): void {
  expect(actual).toHaveLength(expected.length)
  const worst = Math.max(...actual.map((a, i) => Math.abs(a - expected[i]!)))
  expect(worst).toBeLessThan(tolerance)
}

const asVectors = (out: EmbedOutput) => out.embeddings as number[][]

describe('embed', () => {
  let root: string
  let flat: SyntheticBertModel
  let deep: SyntheticBertModel
  let noTypes: SyntheticBertModel
  let backend: OnnxBackend

  beforeAll(async () => {
    root = await tempDir()
    flat = (await writeBert(root, 'flat', { layers: 0, maxSeqLength: 8 })).model
    deep = (await writeBert(root, 'deep', { layers: 2, seed: 7 })).model
    noTypes = (await writeBert(root, 'no-types', { layers: 0, tokenTypeIds: false })).model
    await writeBert(root, 'cls', { layers: 0 })
    await writeBert(root, 'int32', { layers: 0, inputType: 'int32' })
    const arith = await writeArithmetic(join(root, 'arith'), 'model.onnx')
    // A directory with a tokenizer but a graph that is no text encoder.
    await copyFile(join(root, 'flat', 'tokenizer.json'), join(root, 'arith', 'tokenizer.json'))
    await mkdir(join(root, 'bare'))
    await copyFile(arith, join(root, 'bare', 'model.onnx'))
    backend = onnxBackend({
      worker: false,
      builtinModels: false,
      embedBatchSize: 2,
      models: [
        { name: 'flat', path: join(root, 'flat') },
        { name: 'deep', path: join(root, 'deep') },
        { name: 'no-types', path: join(root, 'no-types') },
        { name: 'cls', path: join(root, 'cls'), pooling: 'cls' },
        { name: 'int32', path: join(root, 'int32') },
        { name: 'arith', path: join(root, 'arith') },
        { name: 'bare', path: join(root, 'bare') },
      ],
      defaultEmbedModel: 'flat',
    })
    await backend.load()
  })
  afterAll(async () => {
    await backend?.unload()
    await removeDir(root)
  })

  it('mean-pools the real tokens of each text and L2-normalises, matching an independent reference', async () => {
    const texts = ['hello world', 'the quick brown fox', 'peer']
    const out = (await runTask(backend, 'embed', { model: 'flat', texts })) as EmbedOutput
    expect(out.model).toBe('flat')
    expect(out.dimensions).toBe(16)
    expect(out.tokens).toBe(4 + 6 + 3)
    expect(out.truncated).toBe(0)
    for (const [i, t] of texts.entries())
      expectClose(asVectors(out)[i]!, referenceEmbedding(flat, t.split(' ')))
    for (const v of asVectors(out)) expect(Math.hypot(...v)).toBeCloseTo(1, 5)
  })

  it('lower-cases and splits punctuation like BERT before looking words up', async () => {
    const out = (await runTask(backend, 'embed', { text: 'Hello, WORLD!' })) as EmbedOutput
    expectClose(asVectors(out)[0]!, referenceEmbedding(flat, ['hello', ',', 'world', '!']))
  })

  it('gives each text the same vector alone as in a padded batch (attention mask honoured)', async () => {
    const texts = ['peer', 'the quick brown fox jumps over the lazy dog', 'hello world', 'embed this', 'dog']
    const batched = (await runTask(backend, 'embed', { model: 'deep', texts })) as EmbedOutput
    for (const [i, text] of texts.entries()) {
      const alone = (await runTask(backend, 'embed', { model: 'deep', text })) as EmbedOutput
      expectClose(asVectors(batched)[i]!, asVectors(alone)[0]!, 1e-5)
    }
    // Different texts give different vectors: the model is not constant.
    const [a, b] = asVectors(batched)
    expect(Math.abs(a!.reduce((s, x, k) => s + x * b![k]!, 0))).toBeLessThan(0.999)
    expect(deep.parameters).toBeGreaterThan(flat.parameters)
  })

  it("truncates each text to the model's max length, keeping [CLS] and [SEP]", async () => {
    const words = 'the quick brown fox jumps over the lazy dog'.split(' ')
    const out = (await runTask(backend, 'embed', {
      model: 'flat',
      texts: [words.join(' '), 'hello'],
    })) as EmbedOutput
    expect(out.truncated).toBe(1)
    expect(out.tokens).toBe(8 + 3)
    expectClose(asVectors(out)[0]!, referenceEmbedding(flat, words.slice(0, 6)))
  })

  it('cuts a very long text before tokenising it whole, with the same result', async () => {
    const long = `${'hello world '.repeat(5000)}dog`
    const out = (await runTask(backend, 'embed', { model: 'flat', text: long })) as EmbedOutput
    expect(out.truncated).toBe(1)
    expectClose(
      asVectors(out)[0]!,
      referenceEmbedding(flat, ['hello', 'world', 'hello', 'world', 'hello', 'world']),
    )
  })

  it('feeds token_type_ids only to models that take them', async () => {
    const out = (await runTask(backend, 'embed', { model: 'no-types', text: 'lazy dog' })) as EmbedOutput
    expectClose(asVectors(out)[0]!, referenceEmbedding(noTypes, ['lazy', 'dog'], { tokenTypes: false }))
  })

  it('feeds int32 token inputs to models that declare them', async () => {
    // Same seed and shape as `flat`: the same weights, so the same reference.
    const out = (await runTask(backend, 'embed', { model: 'int32', text: 'lazy dog' })) as EmbedOutput
    expectClose(asVectors(out)[0]!, referenceEmbedding(flat, ['lazy', 'dog']))
  })

  it('pools with the [CLS] vector when the model entry says so', async () => {
    const cls = (await runTask(backend, 'embed', { model: 'cls', text: 'quick fox' })) as EmbedOutput
    // Same seed and shape as `flat`, so the same weights: [CLS] is word + position 0 + type 0.
    expectClose(asVectors(cls)[0]!, referenceEmbedding(flat, ['quick', 'fox'], { pooling: 'cls' }))
    const mean = (await runTask(backend, 'embed', { model: 'flat', text: 'quick fox' })) as EmbedOutput
    expect(asVectors(cls)[0]).not.toEqual(asVectors(mean)[0])
  })

  it('returns raw vectors with normalize: false and float32 base64 on request', async () => {
    const raw = (await runTask(backend, 'embed', { text: 'brown dog', normalize: false })) as EmbedOutput
    expectClose(asVectors(raw)[0]!, referenceEmbedding(flat, ['brown', 'dog'], { normalize: false }))
    const b64 = (await runTask(backend, 'embed', { text: 'brown dog', encoding: 'base64' })) as EmbedOutput
    const bytes = Buffer.from(b64.embeddings[0] as string, 'base64')
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4))
    expectClose(decoded, referenceEmbedding(flat, ['brown', 'dog']))
  })

  it("writes float output at float32 precision: each value reads back as the model's float32, in at most 9 digits", async () => {
    const texts = ['the quick brown fox jumps over the lazy dog', 'hello world', 'peer', 'embed this']
    const float = (await runTask(backend, 'embed', { model: 'deep', texts })) as EmbedOutput
    // base64 carries the model's float32 values bit for bit.
    const exact = (
      (await runTask(backend, 'embed', { model: 'deep', texts, encoding: 'base64' })) as EmbedOutput
    ).embeddings.map((b) => {
      const bytes = Buffer.from(b as string, 'base64')
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
    })
    for (const [i, vector] of asVectors(float).entries()) {
      expect(vector).toHaveLength(exact[i]!.length)
      for (const [k, value] of vector.entries()) {
        if (Math.fround(value) !== exact[i]![k])
          expect.fail(`vector ${i}[${k}]: ${value} is not ${exact[i]![k]}`)
      }
      expect(Float32Array.from(vector)).toEqual(exact[i])
    }
    // Same on the layer-free model, against the independent reference.
    const flatOut = (await runTask(backend, 'embed', {
      model: 'flat',
      texts: ['hello world'],
    })) as EmbedOutput
    expectClose(asVectors(flatOut)[0]!, referenceEmbedding(flat, ['hello', 'world']))

    // No number printed with more than 9 significant digits, and the JSON is shorter than the
    // float32 values widened to doubles (what `Array.from` used to give).
    const json = JSON.stringify(float.embeddings)
    const digits = (n: string) => n.replace(/e.*$/i, '').replace(/[-.]/g, '').replace(/^0+/, '').length
    const numbers = json.match(/-?[\d.]+(e[-+]?\d+)?/gi) ?? []
    expect(numbers).toHaveLength(texts.length * float.dimensions)
    expect(Math.max(...numbers.map(digits))).toBeLessThanOrEqual(9)
    const widened = JSON.stringify(exact.map((v) => Array.from(v)))
    expect(json.length).toBeLessThan(widened.length * 0.8)
    // And none could be written shorter: one digit fewer would be another float32.
    for (const [i, vector] of asVectors(float).entries()) {
      for (const [k, value] of vector.entries()) {
        const d = digits(String(value))
        if (d > 1 && Math.fround(Number(value.toPrecision(d - 1))) === exact[i]![k]) {
          expect.fail(`${value} could be written with ${d - 1} digits`)
        }
      }
    }
  })

  it('reports progress per batch, ending at 1', async () => {
    const progress: { fraction: number }[] = []
    await runTask(backend, 'embed', { texts: ['a', 'b', 'c', 'd', 'e'] }, { progress })
    expect(progress.map((p) => p.fraction)).toEqual([0.4, 0.8, 1])
  })

  it('rejects bad input with coded errors and keeps serving', async () => {
    await expect(runTask(backend, 'embed', { text: 'x', texts: ['y'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
    })
    await expect(runTask(backend, 'embed', { text: 'x', model: 'nope' })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      message: expect.stringContaining('nope'),
    })
    await expect(runTask(backend, 'embed', { text: 'x', model: 'bare' })).rejects.toMatchObject({
      code: 'ERR_TOKENIZER_NOT_FOUND',
      name: 'TokenizerNotFoundError',
    })
    await expect(runTask(backend, 'embed', { text: 'x', model: 'arith' })).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_MODEL',
    })
    const out = (await runTask(backend, 'embed', { text: 'hello' })) as EmbedOutput
    expect(asVectors(out)).toHaveLength(1)
  })

  it('needs a model when no default is configured', async () => {
    const bare = onnxBackend({ worker: false, builtinModels: false })
    await expect(runTask(bare, 'embed', { text: 'x' })).rejects.toMatchObject({ code: 'ERR_MODEL_NOT_FOUND' })
  })

  it('stops with the signal reason when aborted', async () => {
    const controller = new AbortController()
    const reason = new Error('stop now')
    controller.abort(reason)
    await expect(runTask(backend, 'embed', { text: 'x' }, { signal: controller.signal })).rejects.toBe(reason)
  })
})
