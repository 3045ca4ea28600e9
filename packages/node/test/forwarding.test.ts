import { generateIdentity } from '@p2p-ai/identity'
import {
  ANNOUNCE_PROTOCOL,
  type Capabilities,
  createTaskRequest,
  encodeFrame,
  openEnvelope,
  PROTOCOL_MINOR,
  replayCache,
  sealEnvelope,
  sealForward,
} from '@p2p-ai/protocol'
import { createTransport } from '@p2p-ai/transport'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { announceHandler } from '../src/announce/receive.js'
import { type ExchangeNode, rawTaskStream, until } from './fixtures/exchange-harness.js'
import {
  connected,
  link,
  nodeSet,
  provideTell,
  provideWhoami,
  reaches,
  tamperingRelay,
} from './fixtures/forwarding-harness.js'

const nodes = nodeSet()
afterEach(() => nodes.stopAll())

/** A line A – B – C – D (each linked to its neighbours only); D runs `whoami` (and `tell`). */
async function line(length: number, options: { tell?: boolean } = {}): Promise<ExchangeNode[]> {
  const line = await nodes.spawn(...Array.from({ length }, () => ({})))
  provideWhoami(line.at(-1) as ExchangeNode)
  if (options.tell === true) provideTell(line.at(-1) as ExchangeNode)
  for (let i = 0; i + 1 < line.length; i++) await link(line[i] as ExchangeNode, line[i + 1] as ExchangeNode)
  // Reach travels back one announcement per hop.
  await reaches(line[0] as ExchangeNode, line[1] as ExchangeNode, 'whoami', length - 2)
  return line
}

describe('forwarding (docs/protocol.md §2.5)', () => {
  it('runs a task three hops away, through two relays, and verifies the result end to end', async () => {
    const [a, b, c, d] = (await line(4, { tell: true })) as [
      ExchangeNode,
      ExchangeNode,
      ExchangeNode,
      ExchangeNode,
    ]
    expect(connected(a, c) || connected(a, d)).toBe(false)
    // A announces what it reaches in turn (its announcer looks a few times a second).
    await until(() => a.exchange.capabilities().reach !== undefined, 2_000, 'A announcing reach')
    expect(a.exchange.capabilities().reach).toEqual([
      { taskType: 'tell', hops: 3, via: b.peerId },
      { taskType: 'whoami', hops: 3, via: b.peerId },
    ])

    const record = await a.exchange.submit({ type: 'whoami', input: { tag: 'far' } }).result()
    expect(record).toMatchObject({
      status: 'COMPLETED',
      output: { ranOn: d.peerId, tag: 'far' },
      // Sent to the neighbour; run, and signed, by the node three hops away.
      peer: b.peerId,
      provider: d.peerId,
      attempts: [],
    })
    // D ran the task for A (the requester), not for the relay that handed it over.
    const run = d.engine.get(`${a.peerId}:${record.id}`)
    expect(run?.status).toBe('COMPLETED')
    expect(c.exchange.providerStats()).toMatchObject({ received: 1, accepted: 1, answered: 1 })
    expect(a.reputation(b.peerId).successes).toBeGreaterThan(0)

    // What the provider streams comes back through both relays as it is produced (§2.6).
    const told = a.exchange.submit({ type: 'tell', input: { words: ['far ', 'away ', 'text'], gapMs: 120 } })
    const deltas: string[] = []
    for await (const event of told.stream()) if (event.type === 'delta') deltas.push(event.text)
    expect(deltas).toEqual(['far ', 'away ', 'text'])
    expect(await told.output()).toEqual({ text: 'far away text' })
    expect(told.record()).toMatchObject({ peer: b.peerId, provider: d.peerId })
  })

  it('keeps a task to connected peers with maxHops 1, and within maxHops otherwise', async () => {
    const [a] = (await line(4)) as [ExchangeNode]
    const direct = await a.exchange
      .submit({ type: 'whoami', input: {} }, { maxHops: 1, waitForPeerMs: 300 })
      .result()
    expect(direct.error?.code).toBe('ERR_NO_CAPABLE_PEER')
    // The provider is three links away: two are not enough.
    const short = await a.exchange
      .submit({ type: 'whoami', input: {} }, { maxHops: 2, waitForPeerMs: 300 })
      .result()
    expect(short.error?.code).toBe('ERR_NO_CAPABLE_PEER')
    const enough = await a.exchange.submit({ type: 'whoami', input: {} }, { maxHops: 3 }).result()
    expect(enough.status).toBe('COMPLETED')
  })

  it('refuses a forward with no hops left (ERR_TTL_EXPIRED) or no way on (ERR_NO_ROUTE)', async () => {
    const [a, b] = (await line(3)) as [ExchangeNode, ExchangeNode, ExchangeNode]
    const stream = await rawTaskStream(a, b)
    const forwardFromA = (ttl: number, taskType = 'whoami') => {
      const request = sealEnvelope(
        a.identity,
        'task.request',
        createTaskRequest({ requester: a.peerId, taskType, input: {} }),
      )
      return { id: request.envelope.payload.id, forward: sealForward(a.identity, request.envelope, ttl, []) }
    }
    const expired = forwardFromA(0)
    stream.send(expired.forward.envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: expired.id, error: { code: 'ERR_TTL_EXPIRED' } },
    })
    const nowhere = forwardFromA(5, 'no.such.type')
    stream.send(nowhere.forward.envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: nowhere.id, error: { code: 'ERR_NO_ROUTE' } },
    })
    // With one hop left, B passes it on to C, which runs it.
    const ok = forwardFromA(1)
    stream.send(ok.forward.envelope)
    expect(await stream.next()).toMatchObject({ type: 'task.accept', payload: { id: ok.id } })
    expect(await stream.next()).toMatchObject({
      type: 'task.result',
      payload: { id: ok.id, status: 'completed' },
    })
  })

  it('prevents loops: refuses a forward that names the receiver on its route, and never sends one back', async () => {
    // A – B, A – C; C runs whoami. B can reach it only through A.
    const [a, b, c] = await nodes.spawn({}, {}, {})
    provideWhoami(c as ExchangeNode)
    await link(a as ExchangeNode, b as ExchangeNode)
    await link(a as ExchangeNode, c as ExchangeNode)
    await reaches(b as ExchangeNode, a as ExchangeNode, 'whoami', 1)

    const stranger = generateIdentity()
    const request = sealEnvelope(
      stranger,
      'task.request',
      createTaskRequest({ requester: stranger.peerId, taskType: 'whoami', input: {} }),
    )
    const stream = await rawTaskStream(a as ExchangeNode, b as ExchangeNode)
    // B on its own route: refused before anything else.
    stream.send(sealForward(a!.identity, request.envelope, 5, [stranger.peerId, b!.peerId]).envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: request.envelope.payload.id, error: { code: 'ERR_FORWARD_LOOP' } },
    })
    // From A: B's only way on is A, which is on the route. B must not send it back.
    const receivedByA = a!.exchange.providerStats().received
    stream.send(sealForward(a!.identity, request.envelope, 5, [stranger.peerId]).envelope)
    expect(await stream.next()).toMatchObject({
      type: 'task.reject',
      payload: { id: request.envelope.payload.id, error: { code: 'ERR_NO_ROUTE' } },
    })
    expect(a!.exchange.providerStats().received).toBe(receivedByA)
  })

  it('does not announce a route back to the neighbour it goes through (split horizon)', async () => {
    const [a, b, c] = (await line(3)) as [ExchangeNode, ExchangeNode, ExchangeNode]
    await until(() => a.exchange.capabilities().reach !== undefined, 2_000, 'A announcing reach')
    expect(b.exchange.capabilities().reach).toEqual([{ taskType: 'whoami', hops: 1, via: c.peerId }])
    expect(a.exchange.capabilities().reach).toEqual([{ taskType: 'whoami', hops: 2, via: b.peerId }])
    // B hears from A that whoami is 2 hops away via B itself, and ignores it: when C goes, B has no route.
    await c.stop()
    await until(() => (b.exchange.capabilities().reach ?? []).length === 0, 5_000, 'B drops the route')
    await until(() => (a.exchange.capabilities().reach ?? []).length === 0, 10_000, 'A drops the route')
  })

  it('detects a relay that tampers with the result, and completes the task through another', async () => {
    // A – R1 – P, later A – R2 – P. R1 changes outputs on the way back.
    const [a, r1, r2, p] = (await nodes.spawn({}, {}, {}, {})) as [
      ExchangeNode,
      ExchangeNode,
      ExchangeNode,
      ExchangeNode,
    ]
    provideWhoami(p)
    await link(r1, p)
    await link(a, r1)
    await reaches(a, r1, 'whoami', 1)
    await tamperingRelay(r1, p)

    const handle = a.exchange.submit({ type: 'whoami', input: { tag: 'x' } }, { waitForPeerMs: 20_000 })
    const refused = await new Promise<{ peer: string; error?: { code: string } }>((resolve) =>
      handle.addEventListener('attempt', (evt) => resolve(evt.detail), { once: true }),
    )
    expect(refused).toMatchObject({ peer: r1.peerId, error: { code: 'ERR_BAD_SIGNATURE' } })
    expect(a.reputation(r1.peerId)).toMatchObject({ circuit: 'open' })
    expect(a.reputation(r1.peerId).misbehaviour).toBeGreaterThan(0)

    // An honest route appears; the task fails over to it.
    await link(r2, p)
    await link(a, r2)
    const record = await handle.result()
    expect(record).toMatchObject({
      status: 'COMPLETED',
      output: { ranOn: p.peerId, tag: 'x' },
      peer: r2.peerId,
      provider: p.peerId,
    })
  })

  it('has an honest relay catch a tampering one further down, and the task fail over', async () => {
    // A – B – R1 – P, later B – R2 – P. B checks R1's answer before passing it back.
    const [a, b, r1, r2, p] = (await nodes.spawn({}, {}, {}, {}, {})) as ExchangeNode[] as [
      ExchangeNode,
      ExchangeNode,
      ExchangeNode,
      ExchangeNode,
      ExchangeNode,
    ]
    provideWhoami(p)
    await link(r1, p)
    await link(b, r1)
    await link(a, b)
    await reaches(a, b, 'whoami', 2)
    await tamperingRelay(r1, p)

    const handle = a.exchange.submit({ type: 'whoami', input: { tag: 'deep' } }, { waitForPeerMs: 20_000 })
    const refused = await new Promise<{ peer: string; error?: { code: string } }>((resolve) =>
      handle.addEventListener('attempt', (evt) => resolve(evt.detail), { once: true }),
    )
    // B reports what it caught (a failed result of its own); B's view of R1 is what suffers.
    expect(refused).toMatchObject({ peer: b.peerId, error: { code: 'ERR_BAD_SIGNATURE' } })
    expect(b.reputation(r1.peerId)).toMatchObject({ circuit: 'open' })
    expect(a.reputation(b.peerId).misbehaviour).toBe(0)

    await link(r2, p)
    await link(b, r2)
    const record = await handle.result()
    expect(record).toMatchObject({
      status: 'COMPLETED',
      output: { ranOn: p.peerId, tag: 'deep' },
      peer: b.peerId,
      provider: p.peerId,
    })
  })

  it('lets a relay verify what it passes back: the result it forwards is the provider’s, unchanged', async () => {
    const [a, b, c] = (await line(3)) as [ExchangeNode, ExchangeNode, ExchangeNode]
    const stream = await rawTaskStream(a, b)
    const request = sealEnvelope(
      a.identity,
      'task.request',
      createTaskRequest({ requester: a.peerId, taskType: 'whoami', input: { tag: 'raw' } }),
    )
    stream.send(sealForward(a.identity, request.envelope, 3, []).envelope)
    expect(await stream.next()).toMatchObject({ type: 'task.accept' })
    const result = await stream.next()
    const opened = openEnvelope(result, { replayCache: replayCache() })
    expect(opened.envelope.from).toBe(c.peerId)
    expect(opened.envelope.payload).toMatchObject({
      id: request.envelope.payload.id,
      requestHash: request.digest,
      status: 'completed',
      output: { ranOn: c.peerId, tag: 'raw' },
    })
  })

  it('announces reach only to peers of protocol minor 1 or later; an older peer never sees it', async () => {
    const [a, p] = (await nodes.spawn({}, {})) as [ExchangeNode, ExchangeNode]
    provideWhoami(p)
    await link(a, p)
    await until(() => a.exchange.capabilities().reach !== undefined, 5_000, 'A reaching whoami')
    // A peer of minor 0: it takes announcements and announces itself as minor 0.
    const identity = generateIdentity()
    const old = await createTransport({ identity, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    const heard: Capabilities[] = []
    await old.handle(
      ANNOUNCE_PROTOCOL,
      announceHandler({
        replayCache: replayCache(),
        log: pino({ level: 'silent' }),
        onGoodbye: () => {},
        onCapabilities: (_, caps) => heard.push(caps),
      }),
    )
    try {
      await old.dial(a.transport.getMultiaddrs()[0] as never)
      const mine = sealEnvelope(identity, 'capabilities', {
        protocolMinor: 0,
        taskTypes: [],
        models: [],
        concurrency: 1,
        load: { running: 0, queued: 0 },
      })
      const stream = await old.dialProtocol(a.transport.peerId, ANNOUNCE_PROTOCOL)
      stream.send(encodeFrame(mine.envelope))
      await stream.close()
      await until(() => heard.length > 0, 5_000, 'an announcement from A')
      // A announces again when what it runs changes: still without reach for this peer.
      a.exchange.registerTask({ name: 'noop', input: z.strictObject({}), run: () => null })
      await until(() => heard.some((caps) => caps.taskTypes.includes('noop')), 5_000, 'the next announcement')
      for (const caps of heard) {
        expect(caps.protocolMinor).toBe(PROTOCOL_MINOR)
        expect(caps).not.toHaveProperty('reach')
      }
      expect(a.exchange.capabilities().reach).toEqual([{ taskType: 'whoami', hops: 1, via: p.peerId }])
    } finally {
      await old.stop()
    }
  })
})
