// docs/protocol.md §5.10 describes `generate` for other implementers: this test runs its example
// on the synthetic model and compares its member tables with the schema.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memberNames, PROTOCOL_MD, shapeOf, tablesUnder, taskTypeExample } from '../../protocol/test/doc.js'
import { type GenerateOutput, generateInputSchema } from '../src/task.js'
import { generateStreamed, llamaEngine, modelDir } from './helpers.js'

let models: Awaited<ReturnType<typeof modelDir>>
let engine: ReturnType<typeof llamaEngine>['engine']

beforeAll(async () => {
  models = await modelDir()
  engine = llamaEngine({ models: [{ name: 'tiny', path: await models.write('tiny') }] }).engine
})
afterAll(async () => {
  await engine?.stop()
  await models?.cleanup()
})

describe('docs/protocol.md §5.10, generate', () => {
  it('the example prompt gives the example text, and the output has the documented members', async () => {
    const [inputs = [], outputs = []] = tablesUnder(PROTOCOL_MD, '#### `generate` (`@p2p-ai/llama`)')
    const doc = taskTypeExample(PROTOCOL_MD, 'generate')
    const { record } = await generateStreamed(engine, generateInputSchema.parse(doc.input))
    const output = record.output as GenerateOutput
    const example = doc.output as GenerateOutput
    // Greedy decoding: the text, the reason and the counts are exact; the timings are this run's.
    expect({ ...output, timings: example.timings }).toEqual(example)
    expect(shapeOf(output)).toEqual(shapeOf(example))
    expect(memberNames(inputs).sort()).toEqual(Object.keys(generateInputSchema.shape).sort())
    expect(memberNames(outputs)).toEqual(Object.keys(output))
  })
})
