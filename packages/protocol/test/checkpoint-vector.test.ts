import { createHash, createPrivateKey, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { canonicalize } from '../src/canonical-json.js'
import { MAX_CHECKPOINT_BYTES } from '../src/constants.js'
import type { ControlMessage } from '../src/control.js'
import { encodeControl, validateControl } from '../src/control.js'
import { openEnvelope } from '../src/envelope.js'
import { validatePayload } from '../src/messages.js'
import { replayCache } from '../src/replay-cache.js'
import { createTaskRequest } from '../src/task.js'
import { jsonBlocks, PROTOCOL_MD } from './doc.js'

interface CheckpointVector {
  requesterSeedHex: string
  progress: ControlMessage<'task.progress'>[]
  lastProgressFrameHex: string
  request: Record<string, unknown> & {
    sig: string
    from: string
    ts: number
    payload: { resume?: { checkpoint: unknown; progress: number } }
  }
  requestDigest: string
}

// Read from docs/protocol.md §2.8 and checked with node:crypto, as another implementer would.
const vector = jsonBlocks(PROTOCOL_MD).find((block) => block.tag === 'checkpoint-vector')
  ?.value as CheckpointVector

describe('the docs/protocol.md checkpoint vector (minor 6)', () => {
  it('signs the resuming request with the requester key, checkpoint included', () => {
    const { sig: _, ...unsigned } = vector.request
    const input = Buffer.from(`p2p-ai/envelope/v1\n${canonicalize(unsigned as never)}`, 'utf8')
    const key = createPrivateKey({
      key: Buffer.from(`302e020100300506032b657004220420${vector.requesterSeedHex}`, 'hex'),
      format: 'der',
      type: 'pkcs8',
    })
    expect(sign(null, input, key).toString('base64url')).toBe(vector.request.sig)
    expect(createHash('sha256').update(input).digest('base64url')).toBe(vector.requestDigest)
    const opened = openEnvelope(vector.request, {
      replayCache: replayCache(),
      now: vector.request.ts,
      expectedSender: vector.request.from,
    })
    expect(opened.digest).toBe(vector.requestDigest)
  })

  it('resumes from the checkpoint of the last progress, sent as a valid control message', () => {
    for (const message of vector.progress) expect(() => validateControl(message)).not.toThrow()
    const last = vector.progress.at(-1) as ControlMessage<'task.progress'>
    expect(vector.request.payload.resume).toEqual({
      checkpoint: last.payload.checkpoint,
      progress: last.payload.progress,
    })
    expect(Buffer.from(encodeControl('task.progress', last.payload)).toString('hex')).toBe(
      vector.lastProgressFrameHex,
    )
  })
})

describe('checkpoint and resume', () => {
  const id = '3a7d5e91-c2b4-4f08-9e6a-7b1d2c3e4f50'
  const requester = '12D3KooWQK1wnefoLrcVHbbnf5tLzbopUd3K3bFAoJpA7YJgL5pV'

  it('hold any JSON value up to MAX_CHECKPOINT_BYTES of canonical JSON', () => {
    // `"` + n characters + `"` as canonical JSON.
    const atLimit = 'x'.repeat(MAX_CHECKPOINT_BYTES - 2)
    for (const checkpoint of [null, 0, 'state', [1, 2], { step: 3 }, atLimit]) {
      expect(() => validatePayload('task.progress', { id, progress: 0.5, checkpoint })).not.toThrow()
    }
    expect(() => validatePayload('task.progress', { id, progress: 0.5, checkpoint: `${atLimit}x` })).toThrow(
      /payload.checkpoint/,
    )
  })

  it('resume needs its checkpoint and a progress from 0 to 1, and nothing else', () => {
    const request = (resume: unknown) =>
      ({ ...createTaskRequest({ requester, taskType: 'mock', input: {}, id }), resume }) as never
    expect(() =>
      validatePayload('task.request', request({ checkpoint: { step: 1 }, progress: 0.1 })),
    ).not.toThrow()
    for (const bad of [
      { progress: 0.1 },
      { checkpoint: 1, progress: 1.5 },
      { checkpoint: 1, progress: 0, at: 2 },
    ]) {
      expect(() => validatePayload('task.request', request(bad))).toThrow(/payload.resume/)
    }
    expect(createTaskRequest({ requester, taskType: 'mock', input: {}, id })).not.toHaveProperty('resume')
  })

  it('a large one travels by CID (minor 7): checkpointRef instead of checkpoint, never both', () => {
    const checkpointRef = {
      cid: 'bafybeidr7omxj4tps2cs2q6ngczpfuq7ujvt6cgg4ys4bswt4js4qzoii4',
      size: 2500011,
    }
    expect(() => validatePayload('task.progress', { id, progress: 0.7, checkpointRef })).not.toThrow()
    expect(() =>
      validatePayload('task.progress', { id, progress: 0.7, checkpoint: 1, checkpointRef }),
    ).toThrow(/payload.checkpointRef: expected either `checkpoint` or `checkpointRef`, not both/)
    expect(() =>
      validatePayload('task.progress', { id, progress: 0.7, checkpointRef: { cid: 'Qm123', size: 1 } }),
    ).toThrow(/payload.checkpointRef.cid/)
    const request = (resume: unknown) =>
      ({ ...createTaskRequest({ requester, taskType: 'mock', input: {}, id }), resume }) as never
    expect(() => validatePayload('task.request', request({ checkpointRef, progress: 0.7 }))).not.toThrow()
    expect(() =>
      validatePayload('task.request', request({ checkpoint: 1, checkpointRef, progress: 0.7 })),
    ).toThrow(/payload.resume/)
  })
})
