import { describe, expect, it } from 'vitest'
import * as constants from '../src/constants.js'
import { validateControl } from '../src/control.js'
import * as errors from '../src/errors.js'
import { isMessageType, MESSAGE_TYPES, validateEnvelope, validatePayload } from '../src/messages.js'
import { payloadSchemas } from '../src/schemas.js'
import { TASK_ERROR_CODES } from '../src/task-errors.js'
import { jsonBlocks, PROTOCOL_MD, tableUnder } from './doc.js'

// These tests keep docs/protocol.md honest: its examples, limits and error codes are the code's.
describe('docs/protocol.md', () => {
  const blocks = jsonBlocks(PROTOCOL_MD)

  it('has a valid payload example for every message type', () => {
    const examples = blocks.filter((block) => isMessageType(block.tag))
    for (const { tag, value } of examples) {
      expect(() => validatePayload(tag as never, value), tag).not.toThrow()
    }
    expect(new Set(examples.map((block) => block.tag))).toEqual(new Set(MESSAGE_TYPES))
  })

  it('shows a well-formed envelope', () => {
    const envelopes = blocks.filter((block) => block.tag === 'envelope')
    expect(envelopes).toHaveLength(1)
    expect(() => validateEnvelope(envelopes[0]?.value)).not.toThrow()
  })

  it('shows valid control messages', () => {
    const controls = blocks.filter((block) => block.tag === 'control-message')
    expect(controls.length).toBeGreaterThan(0)
    for (const { value } of controls) {
      expect(() => validateControl(value)).not.toThrow()
    }
  })

  it('documents exactly the fields each payload schema has', () => {
    for (const type of MESSAGE_TYPES) {
      const heading = PROTOCOL_MD.split('\n').find(
        (line) => /^### 5\.\d+ /.test(line) && line.endsWith(`\`${type}\``),
      )
      expect(heading, type).toBeDefined()
      const documented = tableUnder(PROTOCOL_MD, heading as string).map(([field]) =>
        (field as string).replaceAll('`', ''),
      )
      const schema = payloadSchemas[type] as unknown as { shape?: object; options?: Array<{ shape: object }> }
      const shapes = schema.options?.map((option) => option.shape) ?? [schema.shape ?? {}]
      const fields = new Set(shapes.flatMap((shape) => Object.keys(shape)))
      expect(new Set(documented), type).toEqual(fields)
    }
  })

  it('lists the limits the code enforces', () => {
    const byName = new Map<string, unknown>(Object.entries(constants))
    const rows = tableUnder(PROTOCOL_MD, '## 8. Limits')
    expect(rows.length).toBeGreaterThan(10)
    for (const [name, value] of rows) {
      const key = (name as string).replaceAll('`', '')
      expect(byName.has(key), key).toBe(true)
      expect(String(byName.get(key)), key).toBe(value)
    }
  })

  it('lists exactly the error codes this package raises', () => {
    const documented = tableUnder(PROTOCOL_MD, '### 6.1 Protocol errors').map(([code]) =>
      (code as string).replaceAll('`', ''),
    )
    const raised = Object.values(errors)
      .map((value) => (value as { code?: unknown }).code)
      .filter((code): code is string => typeof code === 'string')
    expect(documented.sort()).toEqual(raised.sort())
  })

  it('lists the common task error codes', () => {
    const documented = tableUnder(PROTOCOL_MD, '### 6.2 Task errors').map(([code]) =>
      (code as string).replaceAll('`', ''),
    )
    expect(documented.sort()).toEqual(Object.values(TASK_ERROR_CODES).sort())
  })

  it('counts the bytes of the signing prefixes right, and spells them as the code does', () => {
    const counted = [...PROTOCOL_MD.matchAll(/the (\d+) bytes of the ASCII string `([^`]+)`/g)]
    expect(counted.map((m) => m[2])).toEqual(['p2p-ai/envelope/v1', 'p2p-ai/batch/v1'])
    for (const [, bytes, text] of counted) expect(Number(bytes), text).toBe(Buffer.byteLength(text as string))
    expect(`${counted[0]?.[2]}\n`).toBe(constants.SIGNING_PREFIX)
    expect(`${counted[1]?.[2]}\n`).toBe(constants.BATCH_SIGNING_PREFIX)
    expect(PROTOCOL_MD).toContain(`a prefix of ${constants.SIGNING_PREFIX.length} bytes in all`)
  })

  it('names the protocol ids the code registers', () => {
    for (const id of constants.PROTOCOLS) {
      expect(PROTOCOL_MD).toContain(`\`${id}\``)
    }
    expect(PROTOCOL_MD).toContain(JSON.stringify(constants.SIGNING_PREFIX).slice(1, -3))
  })
})
