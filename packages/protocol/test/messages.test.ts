import { describe, expect, it } from 'vitest'
import { InvalidMessageError, UnsupportedVersionError } from '../src/errors.js'
import {
  isMessageType,
  MESSAGE_TYPES,
  type MessageType,
  type TaskResult,
  validateEnvelope,
  validatePayload,
} from '../src/messages.js'
import { PEER_A, samplePayloads, TASK_ID } from './fixtures/samples.js'

const samples = samplePayloads()

function invalidAt(type: MessageType, payload: unknown): string {
  try {
    validatePayload(type, payload)
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError)
    expect((err as InvalidMessageError).code).toBe('ERR_INVALID_MESSAGE')
    return (err as InvalidMessageError).path
  }
  throw new Error(`expected ${JSON.stringify(payload)} to be refused as ${type}`)
}

const envelope = (overrides: Record<string, unknown> = {}) => ({
  v: 1,
  type: 'task.cancel',
  from: PEER_A,
  ts: 1_767_225_600_000,
  nonce: 'AAECAwQFBgcICQoLDA0ODw',
  payload: { id: TASK_ID },
  sig: `${'A'.repeat(85)}A`,
  ...overrides,
})

describe('validatePayload', () => {
  it.each(MESSAGE_TYPES)('accepts a valid %s and returns it unchanged', (type) => {
    const payload = samples[type]
    expect(validatePayload(type, payload)).toBe(payload)
  })

  it('lists the nine message types (task.forward since minor 1)', () => {
    expect(MESSAGE_TYPES).toEqual([
      'task.request',
      'task.accept',
      'task.reject',
      'task.progress',
      'task.result',
      'task.cancel',
      'capabilities',
      'goodbye',
      'task.forward',
    ])
    expect(isMessageType('task.result')).toBe(true)
    expect(isMessageType('toString')).toBe(false)
  })

  it('refuses unknown fields, naming them', () => {
    expect(invalidAt('task.request', { ...samples['task.request'], hops: 1 })).toBe('payload.hops')
    expect(
      invalidAt('capabilities', { ...samples.capabilities, load: { running: 0, queued: 0, gpu: 1 } }),
    ).toBe('payload.load.gpu')
    expect(
      invalidAt('task.result', { ...samples['task.result'], error: { code: 'ERR_X', message: '' } }),
    ).toBe('payload.error')
  })

  it('refuses wrong types and out-of-range values with the field path', () => {
    const request = samples['task.request']
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ priority: '5' }, 'payload.priority'],
      [{ priority: 10 }, 'payload.priority'],
      [{ priority: 4.5 }, 'payload.priority'],
      [{ timeoutMs: 0 }, 'payload.timeoutMs'],
      [{ timeoutMs: 3_600_001 }, 'payload.timeoutMs'],
      [{ id: 'short' }, 'payload.id'],
      [{ id: 'has space in it' }, 'payload.id'],
      [{ taskType: 'Embed' }, 'payload.taskType'],
      [{ taskType: 'onnx..run' }, 'payload.taskType'],
      [{ input: [1, 2] }, 'payload.input'],
      [{ input: null }, 'payload.input'],
      [{ createdAt: -1 }, 'payload.createdAt'],
      [{ requester: 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N' }, 'payload.requester'],
    ]
    for (const [change, path] of cases) {
      expect(invalidAt('task.request', { ...request, ...change })).toBe(path)
    }
    const { timeoutMs: _, ...missing } = request
    expect(invalidAt('task.request', missing)).toBe('payload.timeoutMs')
  })

  it('ties result fields to the status', () => {
    const { output: _, ...base } = samples['task.result'] as Extract<TaskResult, { status: 'completed' }>
    expect(invalidAt('task.result', base)).toBe('payload.output')
    expect(invalidAt('task.result', { ...base, status: 'failed' })).toBe('payload.error')
    expect(invalidAt('task.result', { ...base, status: 'done', output: 1 })).toBe('payload.status')
    for (const status of ['failed', 'timeout', 'cancelled']) {
      const error = { code: 'ERR_TIMEOUT', message: 'took too long' }
      expect(validatePayload('task.result', { ...base, status, error })).toBeTruthy()
    }
    expect(validatePayload('task.result', { ...base, output: null })).toBeTruthy()
    expect(
      invalidAt('task.result', { ...base, output: 1, timings: { queuedMs: -1, runMs: 0, totalMs: 0 } }),
    ).toBe('payload.timings.queuedMs')
    expect(invalidAt('task.result', { ...base, output: 1, requestHash: 'abc' })).toBe('payload.requestHash')
  })

  it('checks error codes, progress, capabilities lists and model hashes', () => {
    const reject = samples['task.reject']
    expect(invalidAt('task.reject', { ...reject, error: { code: 'busy', message: '' } })).toBe(
      'payload.error.code',
    )
    expect(
      invalidAt('task.reject', { ...reject, error: { code: 'ERR_BUSY', message: 'x'.repeat(1025) } }),
    ).toBe('payload.error.message')
    expect(invalidAt('task.progress', { id: TASK_ID, progress: 1.5 })).toBe('payload.progress')
    const caps = samples.capabilities
    expect(invalidAt('capabilities', { ...caps, taskTypes: ['embed', 'embed'] })).toBe('payload.taskTypes')
    const model = caps.models[0]
    expect(invalidAt('capabilities', { ...caps, models: [{ ...model, sha256: 'A'.repeat(64) }] })).toBe(
      'payload.models[0].sha256',
    )
    expect(invalidAt('capabilities', { ...caps, models: [model, model] })).toBe('payload.models')
    expect(invalidAt('capabilities', { ...caps, concurrency: 0 })).toBe('payload.concurrency')
  })

  it('refuses explicit undefined for optional fields (they must be absent)', () => {
    expect(invalidAt('goodbye', { reason: undefined })).toBe('payload.reason')
    expect(validatePayload('goodbye', {})).toEqual({})
  })
})

describe('validateEnvelope', () => {
  it('accepts a well-formed envelope and returns the same object', () => {
    const value = envelope()
    expect(validateEnvelope(value)).toBe(value)
  })

  it('reports another major version as unsupported, before any other check', () => {
    expect(() => validateEnvelope(envelope({ v: 2, extra: true }))).toThrow(UnsupportedVersionError)
    expect(() => validateEnvelope(envelope({ v: 2 }))).toThrow(
      expect.objectContaining({ code: 'ERR_UNSUPPORTED_VERSION' }),
    )
  })

  it('refuses malformed envelopes with the offending field', () => {
    const cases: Array<[unknown, string]> = [
      [envelope({ v: '1' }), 'v'],
      [envelope({ type: 'task.relay' }), 'type'],
      [envelope({ from: 'alice' }), 'from'],
      [envelope({ ts: 1.5 }), 'ts'],
      [envelope({ nonce: 'AAECAwQFBgcICQoLDA0ODx' }), 'nonce'],
      [envelope({ nonce: 'AAECAwQFBgcICQoLDA0O' }), 'nonce'],
      [envelope({ sig: 'A'.repeat(87) }), 'sig'],
      [envelope({ sig: undefined }), 'sig'],
      [envelope({ payload: { id: TASK_ID, why: 1 } }), 'payload.why'],
      [envelope({ hops: 0 }), 'hops'],
      [[envelope()], ''],
      ['{}', ''],
    ]
    for (const [value, path] of cases) {
      expect(() => validateEnvelope(value), path).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path }),
      )
    }
  })
})
