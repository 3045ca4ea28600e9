import { Buffer } from 'node:buffer'
import { mockOutput } from '@p2p-ai/engine'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  cosineAgreement,
  editDistanceAgreement,
  exactAgreement,
  TaskFailedError,
  tally,
} from '../src/exchange/index.js'
import { type ExchangeNode, mesh, mock, until } from './fixtures/exchange-harness.js'
import { nodeSet } from './fixtures/forwarding-harness.js'

const nodes = nodeSet()
afterEach(() => nodes.stopAll())

/** A provider of `mock` whose backend lies: right shape, wrong checksum. */
function liar(node: ExchangeNode): void {
  node.exchange.registerTask({
    name: 'mock',
    input: z.object({ text: z.string().optional() }).passthrough(),
    run: ({ text }) => ({ ...mockOutput(text ?? ''), checksum: 'deadbeef' }),
  })
}

/** A requester (running nothing itself), two honest `mock` providers and a liar, all connected. */
async function swarmWithLiar(): Promise<[ExchangeNode, ExchangeNode, ExchangeNode, ExchangeNode]> {
  const [requester, h1, h2, l] = await nodes.spawn({}, { backends: [mock()] }, { backends: [mock()] }, {})
  liar(l as ExchangeNode)
  const all = [requester, h1, h2, l] as [ExchangeNode, ExchangeNode, ExchangeNode, ExchangeNode]
  await mesh(all)
  await until(
    () =>
      requester!.peers().some((p) => p.peerId === l!.peerId && p.capabilities?.taskTypes.includes('mock')),
    5_000,
    'the liar announcing mock',
  )
  return all
}

describe('verification by redundancy (redundancy: k)', () => {
  it('runs a task on k distinct providers, accepts the majority and outvotes a lying one', async () => {
    const [requester, h1, h2, l] = await swarmWithLiar()
    const record = await requester.exchange
      .submit({ type: 'mock', input: { text: 'count these words' } }, { redundancy: 3 })
      .result()
    expect(record.status).toBe('COMPLETED')
    expect(record.output).toEqual(mockOutput('count these words'))
    expect([h1.peerId, h2.peerId]).toContain(record.peer)
    expect(record.redundancy).toMatchObject({ k: 3, required: 2 })

    // The third provider finishes after the vote and is still checked against the accepted answer.
    await until(() => requester.reputation(l.peerId).disagreements === 1, 5_000, 'liar outvoted')
    // Nothing failed: the liar's answer verified (it signed it); it is just wrong.
    expect(requester.exchange.tasks.get(record.id)?.attempts).toEqual([])
    expect(requester.exchange.tasks.get(record.id)?.redundancy?.answers).toHaveLength(3)
    for (const honest of [h1, h2]) {
      expect(requester.reputation(honest.peerId)).toMatchObject({ agreements: 1, disagreements: 0 })
    }
    const liarScore = requester.reputation(l.peerId).score
    expect(liarScore).toBeLessThan(requester.reputation(h1.peerId).score / 1.5)

    // Routing now avoids it while the honest providers have room.
    for (let i = 0; i < 6; i++) {
      const plain = await requester.exchange.submit({ type: 'mock', input: { text: `t${i}` } }).result()
      expect(plain).toMatchObject({ status: 'COMPLETED', output: mockOutput(`t${i}`) })
      expect(plain.peer).not.toBe(l.peerId)
    }
  })

  it('fails with ERR_NO_AGREEMENT, naming the signers, when no majority agrees, and blames nobody', async () => {
    const [requester, h1, l] = await nodes.spawn({}, { backends: [mock()] }, {})
    liar(l as ExchangeNode)
    await mesh([requester, h1, l] as ExchangeNode[])
    await until(
      () => requester!.peers().filter((p) => p.capabilities?.taskTypes.includes('mock')).length === 2,
      5_000,
      'two providers',
    )
    const handle = requester!.exchange.submit({ type: 'mock', input: { text: 'x' } }, { redundancy: 2 })
    const record = await handle.result()
    expect(record).toMatchObject({ status: 'FAILED', error: { code: 'ERR_NO_AGREEMENT' } })
    expect(record.error?.message).toContain(h1!.peerId)
    expect(record.error?.message).toContain(l!.peerId)
    const err = await handle.output().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TaskFailedError)
    expect(err).toMatchObject({ code: 'ERR_NO_AGREEMENT', remote: false })
    expect((err as TaskFailedError).answers.map((a) => a.peer).sort()).toEqual([h1!.peerId, l!.peerId].sort())
    expect((err as TaskFailedError).answers.every((a) => !a.agreed)).toBe(true)
    expect(requester!.reputation(l!.peerId).disagreements).toBe(0)
  })

  it('counts a provider that is missing or fails against the majority, never for it', async () => {
    const [requester, h1, h2] = await nodes.spawn({}, { backends: [mock()] }, { backends: [mock()] })
    await mesh([requester, h1, h2] as ExchangeNode[])
    // Two of three agreeing is a majority even though the third provider does not exist...
    const three = await requester!.exchange
      .submit({ type: 'mock', input: { text: 'y' } }, { redundancy: 3, waitForPeerMs: 200 })
      .result()
    expect(three.status).toBe('COMPLETED')
    // ...two of four is not.
    const four = await requester!.exchange
      .submit({ type: 'mock', input: { text: 'z' } }, { redundancy: 4, waitForPeerMs: 200 })
      .result()
    expect(four).toMatchObject({ status: 'FAILED', error: { code: 'ERR_NO_AGREEMENT' } })
    expect(four.redundancy?.answers).toHaveLength(2)
  })

  it('runs one replica on this node when it runs the task type, the others on peers', async () => {
    const [requester, h1] = await nodes.spawn({ backends: [mock()] }, { backends: [mock()] })
    await mesh([requester, h1] as ExchangeNode[])
    const record = await requester!.exchange
      .submit({ type: 'mock', input: { text: 'local and remote' } }, { redundancy: 2 })
      .result()
    expect(record.status).toBe('COMPLETED')
    expect(record.redundancy?.answers.map((a) => a.peer).sort()).toEqual(
      [requester!.peerId, h1!.peerId].sort(),
    )
  })

  it('compares a custom task type by the rule set for it (setAgreementRule)', async () => {
    const [requester, p1, p2, p3] = await nodes.spawn({}, {}, {}, {})
    // Noisy measurements: never exactly equal, but close.
    for (const p of [p1, p2, p3] as ExchangeNode[]) {
      p.exchange.registerTask({
        name: 'measure',
        input: z.strictObject({}),
        run: () => ({ value: 10 + Math.random() * 1e-3 }),
      })
    }
    await mesh([requester, p1, p2, p3] as ExchangeNode[])
    const exact = await requester!.exchange.submit({ type: 'measure', input: {} }, { redundancy: 3 }).result()
    expect(exact.error?.code).toBe('ERR_NO_AGREEMENT')
    requester!.exchange.setAgreementRule(
      'measure',
      (a, b) => Math.abs((a as { value: number }).value - (b as { value: number }).value) < 0.01,
    )
    const close = await requester!.exchange.submit({ type: 'measure', input: {} }, { redundancy: 3 }).result()
    expect(close.status).toBe('COMPLETED')
  })

  it('refuses redundancy with an explicit target, or out of range', async () => {
    const [requester, h1] = await nodes.spawn({}, { backends: [mock()] })
    const submit = (options: object) => () =>
      requester!.exchange.submit({ type: 'mock', input: {} }, options as never)
    expect(submit({ redundancy: 2, target: h1!.peerId })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_TASK' }),
    )
    expect(submit({ redundancy: 2, target: 'local' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_TASK' }),
    )
    expect(submit({ redundancy: 0 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TASK' }))
    expect(submit({ redundancy: 17 })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_TASK' }))
    expect(submit({ redundancy: 2, agreement: 'exact' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_TASK' }),
    )
  })
})

describe('agreement rules', () => {
  const embed = (...vectors: number[][]) => ({
    model: 'm',
    dimensions: vectors[0]?.length ?? 0,
    embeddings: vectors,
  })

  it('compares exactly by canonical JSON (member order and number spelling do not matter)', () => {
    expect(exactAgreement({ a: 1, b: [1, 2] }, { b: [1, 2.0], a: 1 })).toBe(true)
    expect(exactAgreement({ a: 1 }, { a: 1.0000001 })).toBe(false)
  })

  it('lets embeddings agree at cosine ≥ 0.999, float arrays or base64 float32', () => {
    const rule = cosineAgreement()
    const v = [0.1, 0.2, 0.3, 0.4]
    const nudged = v.map((x, i) => x + (i === 0 ? 1e-4 : 0))
    expect(rule(embed(v, v), embed(nudged, v))).toBe(true)
    expect(rule(embed(v), embed([0.4, 0.3, 0.2, 0.1]))).toBe(false)
    expect(rule(embed(v), embed(v, v))).toBe(false)
    const b64 = Buffer.from(new Float32Array(v).buffer).toString('base64')
    expect(rule(embed(v), { model: 'm', dimensions: 4, embeddings: [b64] })).toBe(true)
  })

  it('lets OCR texts agree within a normalized edit distance of 0.1', () => {
    const rule = editDistanceAgreement()
    expect(rule({ text: 'The quick brown fox jumps' }, { text: 'The quick brown f0x jumps' })).toBe(true)
    expect(rule({ text: 'The quick brown fox jumps' }, { text: 'A slow red dog sleeps now' })).toBe(false)
    expect(rule({ text: '' }, { text: '' })).toBe(true)
    expect(rule({ text: 'abcdefghij' }, { text: 'abcdefghi' })).toBe(true)
    expect(rule({ text: 'abcdefghij' }, { text: 'abcdefgh' })).toBe(false)
  })

  it('finds the majority even when agreement is not transitive', () => {
    const near = (a: unknown, b: unknown) => Math.abs((a as number) - (b as number)) <= 1
    // 1 agrees with 0 and 2; 0 and 2 do not agree with each other.
    expect(tally([0, 1, 2], near, 3)).toEqual({ winner: 1, agreed: [true, true, true] })
    expect(tally([0, 5, 10], near, 3)).toEqual({ winner: undefined, agreed: [false, false, false] })
    expect(tally([7, 7], exactAgreement, 3).winner).toBe(0)
    expect(tally([7, 7], exactAgreement, 4).winner).toBeUndefined()
  })
})
