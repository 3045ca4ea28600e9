// docs/protocol.md §5.10 describes the engine's built-in task types for other implementers: these
// tests run its examples and compare its member tables with the schemas, so it cannot drift.
import { describe, expect, it } from 'vitest'
import { memberNames, PROTOCOL_MD, shapeOf, tablesUnder, taskTypeExample } from '../../protocol/test/doc.js'
import { mockInputSchema, mockOutput } from '../src/backends/mock.js'
import { chunkInputSchema, chunkText } from '../src/tasks/chunk.js'

const section = (type: string) => {
  const [inputs = [], outputs = []] = tablesUnder(PROTOCOL_MD, `#### \`${type}\` (\`@p2p-ai/engine\`)`)
  return { inputs: memberNames(inputs), outputs: memberNames(outputs), ...taskTypeExample(PROTOCOL_MD, type) }
}

describe('docs/protocol.md §5.10, the engine task types', () => {
  it('chunk: the example input splits into exactly the example output', () => {
    const doc = section('chunk')
    const input = chunkInputSchema.parse(doc.input)
    const output = chunkText(input)
    expect(output).toEqual(doc.output)
    expect(doc.inputs.sort()).toEqual(Object.keys(chunkInputSchema.shape).sort())
    expect(doc.outputs).toEqual(Object.keys(output))
  })

  it('mock: the example input echoes exactly the example output', () => {
    const doc = section('mock')
    const input = mockInputSchema.parse(doc.input)
    const output = mockOutput(input.text ?? '')
    expect(output).toEqual(doc.output)
    expect(shapeOf(output)).toEqual(shapeOf(doc.output))
    expect(doc.inputs.sort()).toEqual(Object.keys(mockInputSchema.shape).sort())
    // `steps` only for a task with input `steps`.
    expect(doc.outputs).toEqual([...Object.keys(output), 'steps'])
  })
})
