import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_BATCH_SIZE, MAX_DELTA_LENGTH, MAX_QUEUE_LENGTH, MAX_TIMEOUT_MS } from '../src/constants.js'
import { validateEnvelope, validatePayload } from '../src/messages.js'
import { envelopeSchema, payloadSchemas } from '../src/schemas.js'
import { isWellFormedEnvelope, isWellFormedPayload } from '../src/shape-checks.js'
import { PEER_A, PEER_B, REQUEST_HASH, samplePayloads, TASK_ID } from './fixtures/samples.js'

const NONCE = 'AAECAwQFBgcICQoLDA0ODw'
const SIG = `${'A'.repeat(85)}A`
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

const samples = samplePayloads(PEER_A)

/** Payloads the checks must take (the common shapes), by type. */
const payloads: Array<[string, unknown]> = [
  ['task.request', samples['task.request']],
  ['task.request', { ...samples['task.request'], trace: { traceparent: TRACEPARENT } }],
  ['task.accept', samples['task.accept']],
  ['task.accept', { id: TASK_ID }],
  ['task.progress', samples['task.progress']],
  ['task.progress', { id: TASK_ID, progress: 1, delta: 'more text' }],
  ['task.result', samples['task.result']],
  ['task.result', { ...samples['task.result'], output: null }],
  [
    'task.result',
    {
      id: TASK_ID,
      requestHash: REQUEST_HASH,
      status: 'timeout',
      error: { code: 'ERR_TIMEOUT', message: 'too slow' },
      timings: { queuedMs: 0, runMs: 0, totalMs: 0 },
    },
  ],
  ['task.cancel', samples['task.cancel']],
]

function envelope(type: string, payload: unknown, signature: Record<string, unknown>): unknown {
  return { v: 1, type, from: PEER_B, ts: 1_767_225_600_000, nonce: NONCE, payload, ...signature }
}

const BATCH = { size: 2, index: 1, path: [REQUEST_HASH], sig: SIG }
const envelopes: unknown[] = payloads.flatMap(([type, payload]) => [
  envelope(type, payload, { sig: SIG }),
  envelope(type, payload, { batch: BATCH }),
])

/** Values to put anywhere: every type, and the edges of the protocol's limits. */
const NASTY: unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  -0,
  -1,
  0.5,
  1,
  1.5,
  2,
  9,
  10,
  MAX_QUEUE_LENGTH,
  MAX_QUEUE_LENGTH + 1,
  MAX_TIMEOUT_MS,
  MAX_TIMEOUT_MS + 1,
  MAX_BATCH_SIZE - 1,
  MAX_BATCH_SIZE,
  Number.MAX_SAFE_INTEGER,
  2 ** 53,
  1e21,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  '',
  'x',
  'completed',
  'failed',
  'task.request',
  'embed',
  'Not.A.Type',
  'a'.repeat(65),
  'a'.repeat(257),
  'a'.repeat(1025),
  'x'.repeat(MAX_DELTA_LENGTH + 1),
  '\uD800',
  TASK_ID,
  'short',
  PEER_A,
  `${PEER_A}x`,
  NONCE,
  'AAECAwQFBgcICQoLDA0ODx',
  SIG,
  `${'A'.repeat(85)}B`,
  REQUEST_HASH,
  `${REQUEST_HASH.slice(0, -1)}F`,
  'ERR_BUSY',
  'err_busy',
  TRACEPARENT,
  '00-00000000000000000000000000000000-b7ad6b7169203331-01',
  [],
  [REQUEST_HASH],
  Array.from({ length: 11 }, () => REQUEST_HASH),
  // A sparse array: a hole is not a digest.
  // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
  [, REQUEST_HASH],
  {},
  { a: 1 },
  { traceparent: TRACEPARENT, tracestate: 'a=b' },
  { queuedMs: 1, runMs: 1, totalMs: 1 },
  { code: 'ERR_BUSY', message: 'busy' },
  new Date(0),
  Object.create(null),
  new Map(),
]

/** Every path to a value inside `value` (objects and arrays), the root included. */
function paths(value: unknown, at: PropertyKey[] = []): PropertyKey[][] {
  const found: PropertyKey[][] = [at]
  if (typeof value === 'object' && value !== null) {
    for (const key of Object.keys(value)) {
      found.push(
        ...paths((value as Record<string, unknown>)[key], [...at, Array.isArray(value) ? Number(key) : key]),
      )
    }
  }
  return found
}

/** A deep copy of `value` with what is at `path` replaced (`set`), deleted, or given a sibling. */
function mutate(
  value: unknown,
  path: PropertyKey[],
  change: { set: unknown } | { delete: true } | { add: string },
): unknown {
  const copy = structuredClone(value)
  if (path.length === 0) return 'set' in change ? change.set : copy
  let parent = copy as Record<PropertyKey, unknown>
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<PropertyKey, unknown>
  const last = path.at(-1) as PropertyKey
  if ('set' in change) parent[last] = change.set
  else if ('delete' in change) delete parent[last]
  else {
    const target = parent[last]
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
      ;(target as Record<string, unknown>)[change.add] = 1
    }
  }
  return copy
}

/** Every single change of `value`: each value replaced by each NASTY one, deleted, given an unknown member. */
function mutations(value: unknown): unknown[] {
  const out: unknown[] = []
  for (const path of paths(value)) {
    for (const nasty of NASTY) out.push(mutate(value, path, { set: nasty }))
    if (path.length > 0) out.push(mutate(value, path, { delete: true }))
    out.push(mutate(value, path, { add: 'extra' }), mutate(value, path, { add: '__proto__' }))
  }
  return out
}

const schemaTakesPayload = (type: string, value: unknown): boolean =>
  (payloadSchemas as Record<string, { safeParse(v: unknown): { success: boolean } }>)[type]?.safeParse(value)
    .success === true

describe('the hand-written checks of the hot messages', () => {
  it.each(payloads.map(([type, payload]) => [type, payload] as const))(
    'take a well-formed %s payload, as its schema does',
    (type, payload) => {
      expect(schemaTakesPayload(type, payload)).toBe(true)
      expect(isWellFormedPayload(type, payload)).toBe(true)
    },
  )

  it('take well-formed envelopes (signed alone or in a batch), as the schema does', () => {
    for (const value of envelopes) {
      expect(envelopeSchema.safeParse(value).success).toBe(true)
      expect(isWellFormedEnvelope(value)).toBe(true)
    }
  })

  it('never take a payload its schema refuses: every single change of every sample', () => {
    let refused = 0
    for (const [type, payload] of payloads) {
      for (const changed of mutations(payload)) {
        const schema = schemaTakesPayload(type, changed)
        if (isWellFormedPayload(type, changed)) expect(schema, JSON.stringify(changed)).toBe(true)
        if (!schema) refused++
      }
    }
    // The changes do break things: most of them are refused.
    expect(refused).toBeGreaterThan(2000)
  })

  it('never take an envelope the schema refuses: every single change of every sample', () => {
    for (const value of envelopes) {
      for (const changed of mutations(value)) {
        if (isWellFormedEnvelope(changed)) {
          expect(envelopeSchema.safeParse(changed).success, JSON.stringify(changed)).toBe(true)
        }
      }
    }
  })

  it('never take an envelope the schema refuses: random changes, several at a time', () => {
    const base = fc.constantFrom(...envelopes)
    const change = fc.tuple(fc.nat(), fc.constantFrom(...NASTY.keys()), fc.nat({ max: 3 }))
    fc.assert(
      fc.property(base, fc.array(change, { minLength: 2, maxLength: 4 }), (value, changes) => {
        let changed = value
        for (const [p, n, kind] of changes) {
          const all = paths(changed)
          const path = all[p % all.length] as PropertyKey[]
          changed =
            kind === 0 && path.length > 0
              ? mutate(changed, path, { delete: true })
              : kind === 1
                ? mutate(changed, path, { add: 'extra' })
                : mutate(changed, path, { set: NASTY[n] })
        }
        if (isWellFormedEnvelope(changed)) expect(envelopeSchema.safeParse(changed).success).toBe(true)
      }),
      { numRuns: 3000, seed: 10 },
    )
  })

  it('leave the verdict and the error on anything else to the schema: same codes, paths and reasons', () => {
    const request = samples['task.request']
    expect(() => validatePayload('task.request', { ...request, priority: 10 })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE', path: 'payload.priority' }),
    )
    expect(() => validatePayload('task.request', { ...request, extra: 1 })).toThrow(
      expect.objectContaining({
        path: 'payload.extra',
        message: 'invalid message at payload.extra: unknown field',
      }),
    )
    expect(() =>
      validateEnvelope(envelope('task.result', samples['task.result'], { sig: SIG, batch: BATCH })),
    ).toThrow(
      expect.objectContaining({
        path: 'sig',
        message: 'invalid message at sig: expected either `sig` or `batch`, not both',
      }),
    )
    // Shapes left to the schema still pass it.
    const traced = { ...request, trace: { traceparent: TRACEPARENT, tracestate: 'vendor=1' } }
    expect(isWellFormedPayload('task.request', traced)).toBe(false)
    expect(validatePayload('task.request', traced)).toBe(traced)
  })
})
