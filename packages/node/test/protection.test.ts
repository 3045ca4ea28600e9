/**
 * A provider protects itself and its other requesters: fair sharing of its slots, rate limits
 * with a retry-after that requesters honour, input caps, and bans enforced by libp2p's connection
 * gater. Real libp2p nodes on 127.0.0.1.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { createTaskRequest, encodeFrame, sealEnvelope } from '@p2p-ai/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type ExchangeNode,
  type ExchangeNodeInit,
  exchangeNode,
  mesh,
  mock,
  rawTaskStream,
  until,
} from './fixtures/exchange-harness.js'

const nodes: ExchangeNode[] = []
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop().catch(() => {})))
})

async function spawnNodes(...inits: ExchangeNodeInit[]): Promise<ExchangeNode[]> {
  const created = await Promise.all(inits.map((init) => exchangeNode(init)))
  nodes.push(...created)
  await mesh(created)
  return created
}

/**
 * Dials `to` as a peer's own redials would, a few times: a dial the moment a ban ends may meet the
 * inbound connection rate limit per host, which counts every test node on 127.0.0.1.
 */
async function dialAgain(from: ExchangeNode, to: ExchangeNode): Promise<boolean> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const ok = await from.transport.dial(multiaddr(to.address)).then(
      () => true,
      () => false,
    )
    if (ok) return true
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  return false
}

/** A request frame that claims a task id and type, unsigned: what a flood is made of. */
function junkRequest(i: number): Uint8Array {
  return encodeFrame({
    v: 1,
    type: 'task.request',
    payload: { id: `flood-${String(i).padStart(6, '0')}`, taskType: 'mock' },
  })
}

describe('fair sharing between requesters', () => {
  it("runs a requester's task at the next free slot while another has dozens queued", async () => {
    const [provider, greedy, victim] = await spawnNodes(
      { backends: [mock({ latencyMs: 25 })], concurrency: 1 },
      {},
      {},
    )
    const target = provider!.peerId
    const flood = Array.from({ length: 24 }, (_, i) =>
      greedy!.exchange.submit({ type: 'mock', input: { text: `g${i}` } }, { target }),
    )
    await until(() => provider!.engine.load().queued >= 16, 5_000, 'the greedy requester queued')
    const mine = await victim!.exchange.submit({ type: 'mock', input: { text: 'mine' } }, { target }).result()
    expect(mine.status).toBe('COMPLETED')
    const finishedBefore = (await Promise.all(flood.map((h) => h.record()))).filter(
      (r) => r.status === 'COMPLETED' && r.finishedAt! < mine.finishedAt!,
    )
    // FIFO would have run the sixteen-odd queued first; fair queueing runs it within a task or two.
    expect(finishedBefore.length).toBeLessThan(5)
    await Promise.all(flood.map((h) => h.result()))
  })
})

describe('rate limits, quotas and input caps', () => {
  it('refuses requests beyond the rate with ERR_RATE_LIMITED; the requester waits the retry-after and succeeds', async () => {
    const [provider, requester] = await spawnNodes(
      { backends: [mock()], exchange: { serving: { tasksPerSecond: 4, burst: 4 } } },
      {},
    )
    const started = Date.now()
    const records = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        requester!.exchange
          .submit({ type: 'mock', input: { text: `r${i}` } }, { target: provider!.peerId })
          .result(),
      ),
    )
    for (const record of records) expect(record.status).toBe('COMPLETED')
    const limited = records.flatMap((r) => r.attempts).filter((a) => a.error?.code === 'ERR_RATE_LIMITED')
    expect(limited.length).toBeGreaterThan(0)
    // Retried only after the provider's retry-after (at least a second), not at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    // Honouring it is no offence.
    expect(provider!.reputation(requester!.peerId).offences).toBe(0)
  })

  it('answers a raw request beyond the rate with the code and a retry-after on the wire', async () => {
    const [provider, requester] = await spawnNodes(
      { backends: [mock()], exchange: { serving: { tasksPerSecond: 1, burst: 1 } } },
      {},
    )
    const stream = await rawTaskStream(requester!, provider!)
    const request = () => createTaskRequest({ requester: requester!.peerId, taskType: 'mock', input: {} })
    stream.send(sealEnvelope(requester!.identity, 'task.request', request()).envelope)
    const second = request()
    stream.send(sealEnvelope(requester!.identity, 'task.request', second).envelope)
    const answers = [await stream.next(), await stream.next(), await stream.next()]
    expect(answers).toContainEqual({
      v: 1,
      type: 'task.reject',
      payload: {
        id: second.id,
        error: { code: 'ERR_RATE_LIMITED', message: expect.stringMatching(/more than 1 requests a second/) },
        retryAfterMs: expect.any(Number),
      },
    })
  })

  it('refuses a request over the cap for its task type with ERR_INPUT_TOO_LARGE, before running it', async () => {
    const [provider, requester] = await spawnNodes(
      { backends: [mock()], exchange: { serving: { maxInputBytesByType: { mock: 2_048 } } } },
      {},
    )
    const target = provider!.peerId
    const small = await requester!.exchange
      .submit({ type: 'mock', input: { text: 'x'.repeat(100) } }, { target })
      .result()
    expect(small.status).toBe('COMPLETED')
    const large = await requester!.exchange
      .submit({ type: 'mock', input: { text: 'x'.repeat(4_000) } }, { target })
      .result()
    expect(large.status).toBe('FAILED')
    expect(JSON.stringify(large.error)).toMatch(/ERR_INPUT_TOO_LARGE/)
    expect(JSON.stringify(large.error)).toMatch(/at most 2048 for mock/)
    expect(provider!.engine.list()).toHaveLength(1)
  })
})

describe('bans', () => {
  it('disconnects a peer that keeps sending after it was told to wait, refuses it at the gater, and lists it as banned', async () => {
    const [provider, flooder] = await spawnNodes(
      { backends: [mock()], exchange: { serving: { tasksPerSecond: 10, burst: 10 } } },
      {},
    )
    const stream = await rawTaskStream(flooder!, provider!)
    // A burst of real requests: over the rate, so it is told to wait. Those on their way meanwhile
    // are expected.
    for (let i = 0; i < 20; i++) {
      const request = createTaskRequest({ requester: flooder!.peerId, taskType: 'mock', input: {} })
      stream.send(sealEnvelope(flooder!.identity, 'task.request', request).envelope)
    }
    await new Promise((resolve) => setTimeout(resolve, 600))
    // Sent long after the retry-after reached it: each one an offence, until the provider hangs up.
    // (Sent on and on: on a loaded machine a wait may end before the offences add up, and a new
    // one begins with the next refusal.)
    let i = 20
    await until(
      () => {
        for (const end = i + 20; i < end; i++) {
          try {
            stream.write(junkRequest(i))
          } catch {
            break
          }
        }
        return provider!.peers().some((p) => p.peerId === flooder!.peerId && p.status === 'banned')
      },
      10_000,
      'a ban',
    )
    const listed = provider!.peers().find((p) => p.peerId === flooder!.peerId)!
    expect(listed).toMatchObject({ status: 'banned', banReason: 'ignored-retry-after' })
    expect(listed.bannedUntil! - Date.now()).toBeGreaterThan(50_000)
    await until(
      () => flooder!.transport.getConnections(provider!.transport.peerId).length === 0,
      5_000,
      'hang up',
    )
    // The gater refuses it: its connection is never opened on the provider's side, and the
    // provider does not dial it either.
    const opened: string[] = []
    provider!.transport.addEventListener('connection:open', (evt) =>
      opened.push(evt.detail.remotePeer.toString()),
    )
    await flooder!.transport.dial(multiaddr(provider!.address)).catch(() => undefined)
    await until(
      () => flooder!.transport.getConnections(provider!.transport.peerId).length === 0,
      5_000,
      'refused',
    )
    expect(opened).not.toContain(flooder!.peerId)
    await expect(provider!.transport.dial(multiaddr(flooder!.address))).rejects.toMatchObject({
      name: 'DialDeniedError',
    })
    expect(provider!.directory.record(flooder!.peerId)?.status).toBe('banned')

    // Its owner lifts the ban (`node unban`): it is let in at once, and listed no more until it is back.
    expect(provider!.directory.unban(flooder!.peerId)).toBe(true)
    expect(provider!.directory.unban(flooder!.peerId)).toBe(false)
    expect(provider!.peers().some((p) => p.peerId === flooder!.peerId)).toBe(false)
    expect(await dialAgain(provider!, flooder!)).toBe(true)
    await until(() => provider!.directory.get(flooder!.peerId)?.status === 'connected', 5_000, 'back')
  })

  it('bans a peer that sends frames that are not JSON, lets it back when the ban ends, and never bans an exempt peer', async () => {
    const [provider, garbler, friend] = await spawnNodes(
      { backends: [mock()], conduct: { banMs: 1_000 } },
      {},
      {},
    )
    provider!.directory.book.configure({ banMs: 1_000, exempt: [friend!.peerId] })
    const garbage = encodeFrame('x').map((byte, i) => (i === 0 ? byte : 0xff))
    for (const node of [garbler!, friend!]) {
      const stream = await rawTaskStream(node, provider!)
      for (let i = 0; i < 12; i++) stream.write(garbage)
    }
    await until(() => provider!.directory.book.isBanned(garbler!.peerId), 5_000, 'a ban')
    expect(provider!.reputation(garbler!.peerId).banReason).toBe('malformed-frame')
    expect(provider!.reputation(friend!.peerId)).toMatchObject({ offences: 0 })
    expect(friend!.transport.getConnections(provider!.transport.peerId)).not.toHaveLength(0)
    // One second later the ban is over: it is let in again.
    await until(() => !provider!.directory.book.isBanned(garbler!.peerId), 3_000, 'the ban to end')
    expect(await dialAgain(garbler!, provider!)).toBe(true)
    const done = await garbler!.exchange
      .submit({ type: 'mock', input: { text: 'back' } }, { target: provider!.peerId })
      .result()
    expect(done.status).toBe('COMPLETED')
  })
})
