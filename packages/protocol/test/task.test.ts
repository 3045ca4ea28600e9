import { describe, expect, it } from 'vitest'
import { DEFAULT_PRIORITY, DEFAULT_TIMEOUT_MS, LIMIT_CODES_MINOR } from '../src/constants.js'
import { InvalidMessageError, RemoteError } from '../src/errors.js'
import { validatePayload } from '../src/messages.js'
import { createTaskRequest, fromWireError, newTaskId, toWireError } from '../src/task.js'
import { taskErrorCodeFor, toTaskErrorCode } from '../src/task-errors.js'
import { PEER_A } from './fixtures/samples.js'

describe('createTaskRequest', () => {
  it('fills defaults and produces a valid payload', () => {
    const request = createTaskRequest({ requester: PEER_A, taskType: 'chunk', input: { text: 'a b c' } })
    expect(request).toMatchObject({
      priority: DEFAULT_PRIORITY,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      requester: PEER_A,
    })
    expect(request.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(Math.abs(request.createdAt - Date.now())).toBeLessThan(60_000)
    expect(validatePayload('task.request', request)).toBe(request)
  })

  it('keeps what the caller chose', () => {
    const request = createTaskRequest({
      requester: PEER_A,
      taskType: 'ocr',
      input: {},
      id: 'job-00000001',
      priority: 9,
      timeoutMs: 5,
      createdAt: 7,
    })
    expect(request).toEqual({
      id: 'job-00000001',
      taskType: 'ocr',
      input: {},
      priority: 9,
      timeoutMs: 5,
      createdAt: 7,
      requester: PEER_A,
    })
    expect(newTaskId()).not.toBe(newTaskId())
  })
})

describe('wire errors', () => {
  it('keeps the code and message of coded errors', () => {
    const error = new InvalidMessageError('payload.priority', 'too big')
    expect(toWireError(error)).toEqual({ code: 'ERR_INVALID_MESSAGE', message: error.message })
    expect(toWireError({ code: 'ERR_BUSY', message: 'queue full' })).toEqual({
      code: 'ERR_BUSY',
      message: 'queue full',
    })
  })

  it('hides the details of uncoded errors and of codes that do not look like ours', () => {
    const internal = { code: 'ERR_INTERNAL', message: 'internal error' }
    expect(toWireError(new Error('/home/me/secret.txt: ENOENT'))).toEqual(internal)
    expect(toWireError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toEqual(internal)
    expect(toWireError('string')).toEqual(internal)
    expect(toWireError(null)).toEqual(internal)
    expect(toWireError(undefined)).toEqual(internal)
  })

  it('produces messages the schema accepts: trimmed, and without lone surrogates', () => {
    const long = { code: 'ERR_X', message: `${'a'.repeat(1023)}😀tail` }
    const trimmed = toWireError(long)
    expect(trimmed.message).toBe('a'.repeat(1023))
    const lone = toWireError({ code: 'ERR_X', message: 'bad \uD800 text' })
    expect(lone.message).toBe('bad \uFFFD text')
    for (const error of [trimmed, lone]) {
      expect(validatePayload('task.reject', { id: 'task-0001', error })).toBeTruthy()
    }
  })

  it('turns a wire error back into a RemoteError with the remote code', () => {
    const error = fromWireError({ code: 'ERR_BUSY', message: 'queue full' })
    expect(error).toBeInstanceOf(RemoteError)
    expect(error).toMatchObject({
      code: 'ERR_BUSY',
      message: 'queue full',
      name: 'RemoteError',
      remote: true,
    })
  })
})

describe('codes towards older peers', () => {
  it('sends a peer below the minor that added a code one it knows and acts on the same way', () => {
    const older = LIMIT_CODES_MINOR - 1
    expect(taskErrorCodeFor('ERR_RATE_LIMITED', older)).toBe('ERR_BUSY')
    expect(taskErrorCodeFor('ERR_INPUT_TOO_LARGE', older)).toBe('ERR_UNSUPPORTED_TASK')
    // A peer that has not announced yet counts as minor 0.
    expect(taskErrorCodeFor('ERR_RATE_LIMITED', 0)).toBe('ERR_BUSY')
  })

  it('sends the code itself to a peer that knows it, and leaves older codes alone', () => {
    expect(taskErrorCodeFor('ERR_RATE_LIMITED', LIMIT_CODES_MINOR)).toBe('ERR_RATE_LIMITED')
    expect(taskErrorCodeFor('ERR_INPUT_TOO_LARGE', LIMIT_CODES_MINOR + 1)).toBe('ERR_INPUT_TOO_LARGE')
    expect(taskErrorCodeFor('ERR_BUSY', 0)).toBe('ERR_BUSY')
  })

  it('reads a code it does not know as a failure of the task or of the rejecting provider', () => {
    expect(toTaskErrorCode('ERR_FROM_THE_FUTURE', 'ERR_INTERNAL')).toBe('ERR_INTERNAL')
    expect(toTaskErrorCode('ERR_RATE_LIMITED', 'ERR_INTERNAL')).toBe('ERR_RATE_LIMITED')
  })
})
