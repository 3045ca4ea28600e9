import { TASK_ERROR_CODES, type TaskErrorCode } from '@p2p-ai/protocol'
import { describe, expect, it } from 'vitest'
import {
  type AttemptEnd,
  codeOf,
  FAILURE_POLICY,
  localCode,
  remoteCode,
  taskErrorOf,
  verdictOf,
} from '../src/exchange/failures.js'
import { backoff } from '../src/exchange/request/task.js'

const ENDS: readonly AttemptEnd[] = ['rejected', 'failed', 'lost', 'local']

describe('the failure policy table', () => {
  it('has a verdict for every task error code and every way an attempt can end', () => {
    expect(Object.keys(FAILURE_POLICY).sort()).toEqual(Object.values(TASK_ERROR_CODES).sort())
    for (const code of Object.values(TASK_ERROR_CODES)) {
      for (const end of ENDS) {
        const verdict = verdictOf(code, end)
        expect(['final', 'retry']).toContain(verdict.next)
        expect(['none', 'busy', 'failure', 'misbehaviour']).toContain(verdict.blame)
        // A final verdict blames nobody: the task ended on its own terms.
        if (verdict.next === 'final') expect(verdict.blame, `${code} ${end}`).toBe('none')
      }
    }
  })

  it("keeps what is about the input, or the task's own run, final wherever it comes from", () => {
    for (const code of ['ERR_INVALID_INPUT', 'ERR_TASK_ID_CONFLICT'] as const) {
      for (const end of ENDS) expect(verdictOf(code, end).next).toBe('final')
    }
    for (const code of ['ERR_TIMEOUT', 'ERR_TASK_FAILED', 'ERR_INVALID_OUTPUT'] as const) {
      expect(verdictOf(code, 'failed').next).toBe('final')
      expect(verdictOf(code, 'local').next).toBe('final')
    }
  })

  it('retries a rejection elsewhere, and says what it means for the peer', () => {
    expect(verdictOf('ERR_BUSY', 'rejected')).toMatchObject({ next: 'retry', blame: 'busy' })
    // Rate limited: kept out for its retry-after like a busy peer, a pinned task waits for it.
    expect(verdictOf('ERR_RATE_LIMITED', 'rejected')).toMatchObject({
      next: 'retry',
      blame: 'busy',
      notCapable: false,
    })
    // Too large for this provider: another may take it; a task aimed at this one ends.
    expect(verdictOf('ERR_INPUT_TOO_LARGE', 'rejected')).toMatchObject({
      next: 'retry',
      blame: 'none',
      notCapable: true,
    })
    expect(verdictOf('ERR_UNSUPPORTED_TASK', 'rejected')).toMatchObject({
      next: 'retry',
      blame: 'none',
      notCapable: true,
    })
    expect(verdictOf('ERR_UNKNOWN_MODEL', 'rejected')).toMatchObject({ next: 'retry', notCapable: true })
    expect(verdictOf('ERR_SHUTTING_DOWN', 'rejected')).toMatchObject({ next: 'retry', blame: 'none' })
    expect(verdictOf('ERR_INTERNAL', 'rejected')).toMatchObject({ next: 'retry', blame: 'failure' })
    // A relay whose announced route no longer holds is skipped for the type, not blamed.
    for (const code of ['ERR_NO_ROUTE', 'ERR_TTL_EXPIRED'] as const) {
      expect(verdictOf(code, 'rejected')).toMatchObject({ next: 'retry', blame: 'none', staleRoute: true })
    }
  })

  it("retries the provider's own trouble after it ran the task, but not the task's", () => {
    expect(verdictOf('ERR_INTERNAL', 'failed')).toMatchObject({ next: 'retry', blame: 'failure' })
    expect(verdictOf('ERR_SHUTTING_DOWN', 'failed')).toMatchObject({ next: 'retry', blame: 'none' })
    // A provider may only cancel on our request: a cancellation we did not ask for is its failure.
    expect(verdictOf('ERR_CANCELLED', 'failed')).toMatchObject({ next: 'retry', blame: 'failure' })
  })

  it('blames a forged answer harder than a lost one', () => {
    for (const code of ['ERR_BAD_SIGNATURE', 'ERR_RESULT_MISMATCH', 'ERR_SIGNER_MISMATCH'] as const) {
      expect(verdictOf(code, 'lost')).toMatchObject({ next: 'retry', blame: 'misbehaviour' })
    }
    expect(verdictOf('ERR_PEER_DISCONNECTED', 'lost')).toMatchObject({ next: 'retry', blame: 'failure' })
    // A relay reporting that the next hop's answer did not verify: another route may be honest.
    expect(verdictOf('ERR_BAD_SIGNATURE', 'failed')).toMatchObject({ next: 'retry', blame: 'failure' })
  })

  it('lets a busy local engine hand the task to a peer', () => {
    expect(verdictOf('ERR_BUSY', 'local')).toMatchObject({ next: 'retry', blame: 'none' })
  })
})

describe('normalising codes into the closed set', () => {
  it("maps the engine's codes onto task error codes", () => {
    const engine: Array<[string, TaskErrorCode]> = [
      ['ERR_TASK_TIMEOUT', 'ERR_TIMEOUT'],
      ['ERR_TASK_CANCELLED', 'ERR_CANCELLED'],
      ['ERR_QUEUE_FULL', 'ERR_BUSY'],
      ['ERR_UNSUPPORTED_TASK_TYPE', 'ERR_UNSUPPORTED_TASK'],
      ['ERR_ENGINE_STOPPED', 'ERR_SHUTTING_DOWN'],
      ['ERR_MODEL_NOT_FOUND', 'ERR_UNKNOWN_MODEL'],
      ['ERR_INVALID_IMAGE', 'ERR_INVALID_INPUT'],
      ['ERR_WORKER_CRASHED', 'ERR_INTERNAL'],
      ['ERR_BACKEND_FAILED', 'ERR_TASK_FAILED'],
      ['ERR_INVALID_INPUT', 'ERR_INVALID_INPUT'],
    ]
    for (const [given, expected] of engine) expect(localCode(given), given).toBe(expected)
  })

  it("reads a custom task's own code as the task failing, keeping the code readable in the message", () => {
    expect(taskErrorOf({ code: 'ERR_MOCK_FAILURE', message: 'mock failure requested' })).toEqual({
      code: 'ERR_TASK_FAILED',
      message: 'ERR_MOCK_FAILURE: mock failure requested',
    })
    expect(taskErrorOf({ code: 'ERR_QUEUE_FULL', message: 'queue is full' })).toEqual({
      code: 'ERR_BUSY',
      message: 'queue is full',
    })
  })

  it('keeps the details of an uncoded error on this machine', () => {
    expect(taskErrorOf(new Error('ENOENT /home/me/secret/file'))).toEqual({
      code: 'ERR_INTERNAL',
      message: 'internal error',
    })
    expect(codeOf('a string')).toBe('ERR_INTERNAL')
    expect(codeOf({ code: 'not a code' })).toBe('ERR_INTERNAL')
  })

  it("reads a peer's unknown code as §6.2 says: a failed run in a result, an internal error in a rejection", () => {
    expect(remoteCode('ERR_SOMETHING_NEW')).toBe('ERR_INTERNAL')
    expect(remoteCode('ERR_SOMETHING_NEW', 'failed')).toBe('ERR_TASK_FAILED')
    expect(remoteCode('ERR_BUSY')).toBe('ERR_BUSY')
    // The result's status decides for a timeout or a cancellation, whatever code came with it.
    expect(remoteCode('ERR_INTERNAL', 'timeout')).toBe('ERR_TIMEOUT')
    expect(remoteCode('ERR_INTERNAL', 'cancelled')).toBe('ERR_CANCELLED')
  })
})

describe('backoff between attempts', () => {
  it('sends the second attempt at once and backs off exponentially after that, capped', () => {
    expect(backoff(2)).toBe(0)
    for (let i = 0; i < 20; i++) {
      expect(backoff(3)).toBeGreaterThanOrEqual(160)
      expect(backoff(3)).toBeLessThanOrEqual(240)
      expect(backoff(30)).toBeLessThanOrEqual(2400)
    }
  })
})
