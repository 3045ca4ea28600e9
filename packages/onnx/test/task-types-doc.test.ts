// docs/protocol.md §5.10 describes this package's task types for other implementers: these tests
// run its examples on models built here and compare its member tables with the schemas.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memberNames, PROTOCOL_MD, shapeOf, tablesUnder, taskTypeExample } from '../../protocol/test/doc.js'
import { type OnnxBackend, onnxBackend } from '../src/backend/backend.js'
import { embedInputSchema } from '../src/embed/embed.js'
import { type NerOutput, nerInputSchema } from '../src/ner/ner.js'
import { ocrInputSchema } from '../src/ocr/ocr.js'
import { onnxRunInputSchema } from '../src/tensor/task.js'
import { tokenizeInputSchema } from '../src/text/tokenize.js'
import { renderLine } from './fixtures/images.js'
import { removeDir, runTask, tempDir, writeArithmetic, writeBert } from './fixtures/models.js'

const section = (type: string) => {
  const [inputs = [], outputs = []] = tablesUnder(PROTOCOL_MD, `#### \`${type}\` (\`@p2p-ai/onnx\`)`)
  return { inputs: memberNames(inputs), outputs: memberNames(outputs), ...taskTypeExample(PROTOCOL_MD, type) }
}

let root: string
let backend: OnnxBackend

beforeAll(async () => {
  root = await tempDir()
  await writeBert(root, 'bert', { layers: 0 })
  // A token classifier that tags the example's words as the example says.
  await writeBert(root, 'bert-ner', {
    layers: 0,
    words: ['alice', 'moved', 'to', 'zur', '##ich'],
    labels: ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'],
    tokenLabels: { alice: 'B-PER', zur: 'B-LOC', '##ich': 'I-LOC' },
  })
  // The examples' registry names: `minilm` for the embedding model, `bert-ner` for the token
  // classifier, `arith` for the tensor graph.
  backend = onnxBackend({
    worker: false,
    models: [
      { name: 'minilm', path: join(root, 'bert') },
      { name: 'bert-ner', path: join(root, 'bert-ner') },
      { name: 'arith', path: await writeArithmetic(root) },
    ],
  })
})
afterAll(async () => {
  await backend?.unload()
  await removeDir(root)
})

describe('docs/protocol.md §5.10, the ONNX task types', () => {
  it('embed: the example output has the shape of a real one, one vector of `dimensions` per text', async () => {
    const doc = section('embed')
    const output = (await runTask(backend, 'embed', doc.input)) as {
      dimensions: number
      embeddings: number[][]
    }
    expect(shapeOf(output)).toEqual(shapeOf(doc.output))
    const example = doc.output as typeof output
    for (const out of [output, example]) {
      expect(out.embeddings).toHaveLength(2)
      for (const vector of out.embeddings) {
        expect(vector).toHaveLength(out.dimensions)
        // normalize defaults to true: unit vectors.
        expect(Math.hypot(...vector)).toBeCloseTo(1, 2)
      }
    }
    expect(doc.inputs.sort()).toEqual(Object.keys(embedInputSchema.shape).sort())
    expect(doc.outputs).toEqual(Object.keys(output))
  })

  it('ner: the example text gives the example entities, at the same offsets, with scores', async () => {
    const doc = section('ner')
    const output = (await runTask(backend, 'ner', doc.input)) as NerOutput
    expect(shapeOf(output)).toEqual(shapeOf(doc.output))
    const withoutScores = (out: NerOutput) => ({
      ...out,
      entities: out.entities.map((list) => list.map(({ score, ...e }) => e)),
    })
    expect(withoutScores(output)).toEqual(withoutScores(doc.output as NerOutput))
    for (const e of output.entities.flat()) expect(e.score).toBeGreaterThan(0.9)
    expect(doc.inputs.sort()).toEqual(Object.keys(nerInputSchema.shape).sort())
    expect(doc.outputs).toEqual(Object.keys(output))
  })

  it('tokenize: the example input counts exactly the example output', async () => {
    const doc = section('tokenize')
    const output = await runTask(backend, 'tokenize', doc.input)
    expect(output).toEqual(doc.output)
    expect(doc.inputs.sort()).toEqual(Object.keys(tokenizeInputSchema.shape).sort())
    expect(doc.outputs).toEqual(Object.keys(output as object))
  })

  it('onnx: the example tensors give exactly the example outputs', async () => {
    const doc = section('onnx')
    const output = await runTask(backend, 'onnx', doc.input)
    expect(output).toEqual(doc.output)
    expect(doc.inputs.sort()).toEqual(Object.keys(onnxRunInputSchema.shape).sort())
    expect(doc.outputs).toEqual(Object.keys(output as object))
  })

  it('ocr: the example line reads as the example output, and every documented member exists', async () => {
    const doc = section('ocr')
    expect(ocrInputSchema(false).safeParse(doc.input).success).toBe(true)
    const image = (await renderLine('Hello world')).toString('base64')
    const output = (await runTask(backend, 'ocr', { ...(doc.input as object), image })) as Record<
      string,
      unknown
    >
    expect(shapeOf(output)).toEqual(shapeOf(doc.output))
    expect(output.text).toBe((doc.output as { text: string }).text)
    expect(doc.inputs.sort()).toEqual(Object.keys(ocrInputSchema(true).shape).sort())
    // `lines` comes with the page layout only.
    const page = (await runTask(backend, 'ocr', { image, layout: 'page' })) as Record<string, unknown>
    expect(doc.outputs).toEqual(Object.keys(page))
  })
})
