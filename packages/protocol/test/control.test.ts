import { describe, expect, it } from 'vitest'
import { decodeFrames, encodeBodyFrame } from '../src/codec.js'
import {
  CONTROL_TYPES,
  createControlMessage,
  encodeControl,
  isControlType,
  peekMessage,
  readControl,
  validateControl,
} from '../src/control.js'
import { UnsupportedVersionError } from '../src/errors.js'
import { PEER_A, samplePayloads, TASK_ID } from './fixtures/samples.js'

const samples = samplePayloads()

async function decodeOne(frame: Uint8Array): Promise<unknown> {
  for await (const decoded of decodeFrames([frame])) {
    if (decoded.ok) return decoded.value
    throw decoded.error
  }
  throw new Error('no frame')
}

describe('control messages', () => {
  it('builds and validates the four steering types without a signature', () => {
    for (const type of CONTROL_TYPES) {
      const message = createControlMessage(type, samples[type] as never)
      expect(message).toEqual({ v: 1, type, payload: samples[type] })
      expect(validateControl(JSON.parse(JSON.stringify(message)))).toEqual(message)
    }
    expect(isControlType('task.progress')).toBe(true)
    expect(isControlType('task.result')).toBe(false)
  })

  it('refuses other types, extra members, bad payloads and other versions', () => {
    const accept = { v: 1, type: 'task.accept', payload: { id: TASK_ID } }
    const cases: Array<[unknown, string]> = [
      [{ ...accept, type: 'task.result' }, 'type'],
      [{ ...accept, type: 'task.request' }, 'type'],
      [{ ...accept, sig: 'x' }, 'sig'],
      [{ ...accept, from: PEER_A }, 'from'],
      [{ ...accept, payload: { id: TASK_ID, queuePosition: -1 } }, 'payload.queuePosition'],
      [{ ...accept, v: '1' }, 'v'],
    ]
    for (const [value, path] of cases) {
      expect(() => validateControl(value), path).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path }),
      )
    }
    expect(() => validateControl({ ...accept, v: 2 })).toThrow(UnsupportedVersionError)
    expect(() => createControlMessage('task.result' as never, samples['task.result'] as never)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'type' }),
    )
    expect(() => createControlMessage('task.progress', { id: TASK_ID, progress: 2 })).toThrow(
      expect.objectContaining({ path: 'payload.progress' }),
    )
  })
})

describe('the control codec', () => {
  it('frames a control message that decodes to exactly { v, type, payload }', async () => {
    const frame = encodeControl('task.reject', samples['task.reject'])
    expect(await decodeOne(frame)).toEqual({ v: 1, type: 'task.reject', payload: samples['task.reject'] })
  })

  it('checks the payload unless the caller vouches for it (the trusted fast path)', async () => {
    expect(() => encodeControl('task.progress', { id: TASK_ID, progress: 2 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'payload.progress' }),
    )
    const trusted = encodeControl('task.accept', { id: TASK_ID, queuePosition: 0 }, { trusted: true })
    expect(await decodeOne(trusted)).toEqual({
      v: 1,
      type: 'task.accept',
      payload: { id: TASK_ID, queuePosition: 0 },
    })
  })

  it('reads a control message of the expected type and refuses anything else with the field at fault', () => {
    const progress = { v: 1, type: 'task.progress', payload: { id: TASK_ID, progress: 0.5 } }
    expect(readControl(progress, 'task.progress')).toEqual(progress.payload)
    expect(() => readControl(progress, 'task.accept')).toThrow(expect.objectContaining({ path: 'type' }))
    expect(() => readControl({ ...progress, nonce: 'x' }, 'task.progress')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'nonce' }),
    )
    expect(() => readControl({ ...progress, payload: { id: TASK_ID } }, 'task.progress')).toThrow(
      expect.objectContaining({ path: 'payload.progress' }),
    )
    expect(() => readControl({ ...progress, v: 2 }, 'task.progress')).toThrow(UnsupportedVersionError)
  })

  it('peeks at the type, the task id and whether a frame is signed, trusting nothing', () => {
    expect(peekMessage({ v: 1, type: 'task.accept', payload: { id: TASK_ID } })).toEqual({
      type: 'task.accept',
      id: TASK_ID,
      signed: false,
    })
    expect(peekMessage({ type: 'task.result', payload: { id: 7 }, sig: 'x' })).toEqual({
      type: 'task.result',
      id: undefined,
      signed: true,
    })
    expect(peekMessage({ type: 'task.result', batch: {} }).signed).toBe(true)
    for (const value of [null, 3, 'text', [], { payload: null }]) {
      expect(peekMessage(value).id).toBeUndefined()
    }
  })

  it('passes a decoded frame on unchanged, byte for byte, without serializing it again', async () => {
    const original = encodeControl('task.cancel', samples['task.cancel'])
    for await (const decoded of decodeFrames([original])) {
      if (!decoded.ok) throw decoded.error
      expect(encodeBodyFrame(decoded.body)).toEqual(original)
    }
    expect(() => encodeBodyFrame(new Uint8Array(10), { maxFrameBytes: 9 })).toThrow(
      expect.objectContaining({ code: 'ERR_FRAME_TOO_LARGE' }),
    )
  })
})
