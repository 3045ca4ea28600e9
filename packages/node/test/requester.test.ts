// The requester on its own: real attempts and a real peer directory, a provider played by the
// test on the far end of an in-memory stream pair (@libp2p/utils), and a transport whose only
// job is to hand that stream out.
import type { PeerId, Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { generateIdentity, type Identity } from '@p2p-ai/identity'
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeControl,
  encodeJsonFrame,
  type JsonValue,
  type PreparedEnvelope,
  prepareEnvelope,
  sealEnvelope,
  type TaskResult,
} from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { RemoteAttempt } from '../src/exchange/request/attempt.js'
import { TaskRequester } from '../src/exchange/request/requester.js'
import { TaskChannel } from '../src/exchange/stream/channel.js'
import { envelopeChecks } from '../src/exchange/trust/checks.js'
import { PeerDirectory } from '../src/peers/directory.js'
import type { PeerNetwork } from '../src/peers/types.js'

const log = pino({ level: 'silent' })
const idOf = (peer: string): PeerId => ({ toString: () => peer, equals: () => false }) as unknown as PeerId

interface Envelope {
  type: string
  payload: { id: string }
}

/** The provider's end: what it received, and a way to answer signed. */
class FakeProvider {
  readonly identity: Identity
  readonly received: Envelope[] = []
  channel!: TaskChannel
  streams = 0

  constructor(identity: Identity) {
    this.identity = identity
  }

  attach(stream: Stream): void {
    this.streams++
    this.channel = new TaskChannel(
      stream,
      'requester',
      {
        message: (value) => this.received.push(value as Envelope),
        badFrame: () => {},
        remoteEnd: () => {},
        close: () => {},
      },
      {
        maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
        onHandlerError: (err) => console.error(err),
        signer: this.identity,
      },
    )
  }

  requests(): Envelope[] {
    return this.received.filter((e) => e.type === 'task.request')
  }

  accept(id: string): void {
    this.channel.send(encodeControl('task.accept', { id, queuePosition: 0 }, { trusted: true }))
  }

  result(payload: TaskResult): void {
    this.channel.sendSigned(prepareEnvelope(this.identity, 'task.result', payload))
  }

  /** A result signed by someone else, as a relay or an impostor would pass it on. */
  resultSignedBy(signer: Identity, payload: TaskResult): void {
    this.channel.send(encodeJsonFrame(sealEnvelope(signer, 'task.result', payload).json))
  }
}

const worlds: Array<{ stop(): void }> = []
afterEach(() => {
  for (const world of worlds.splice(0)) world.stop()
})

function world(options: { dialFails?: boolean; pingAnswers?: boolean; livenessIdleMs?: number } = {}) {
  const self = generateIdentity()
  const provider = new FakeProvider(generateIdentity())
  const peer = provider.identity.peerId
  const network: PeerNetwork = {
    ping: (_id, opts) =>
      options.pingAnswers === false
        ? new Promise((_, reject) =>
            opts?.signal?.addEventListener('abort', () => reject(opts.signal?.reason), { once: true }),
          )
        : Promise.resolve(1),
    hangUp: async () => {},
    redial: () => {},
    forget: () => {},
    connections: () => [],
  }
  const directory = new PeerDirectory({ self: self.peerId, network, log })
  directory.onConnect(idOf(peer))
  const transport = {
    // No connection yet: the requester dials (the transport's choice of a connection is its own test).
    getConnections: () => [],
    dialProtocol: async () => {
      if (options.dialFails === true) throw new Error('connection refused')
      const [outbound, inbound] = await streamPair()
      provider.attach(inbound)
      return outbound
    },
  } as unknown as Transport
  const requester = new TaskRequester({
    transport,
    directory,
    signer: self,
    checks: envelopeChecks(),
    log,
    maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    streamIdleMs: 60_000,
    livenessIdleMs: options.livenessIdleMs ?? 60_000,
    livenessTimeoutMs: 100,
  })
  requester.start()
  worlds.push({ stop: () => requester.stop(new Error('test over')) })

  const request = (id: string): PreparedEnvelope<'task.request'> =>
    prepareEnvelope(self, 'task.request', {
      id,
      taskType: 'mock',
      input: { text: id },
      priority: 5,
      timeoutMs: 30_000,
      createdAt: Date.now(),
      requester: self.peerId,
    })
  const attempt = (id: string, deadlines: { acceptBy?: number } = {}) => {
    const prepared = request(id)
    const a = new RemoteAttempt({
      taskId: id,
      taskType: 'mock',
      peer,
      peerId: idOf(peer),
      request: prepared,
      frame: prepared,
      forwarded: false,
      acceptBy: deadlines.acceptBy ?? performance.now() + 60_000,
      resultBy: performance.now() + 60_000,
      directory,
    })
    requester.send(a)
    return { attempt: a, digest: prepared.digest }
  }
  const completed = (id: string, requestHash: string, output: JsonValue = { ok: id }): TaskResult => ({
    id,
    requestHash,
    status: 'completed',
    output,
    timings: { queuedMs: 0, runMs: 1, totalMs: 1 },
  })
  return { self, provider, directory, requester, attempt, completed }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe('TaskRequester', () => {
  it('sends every attempt for a provider on one stream and settles each with the result that answers it', async () => {
    const w = world()
    const one = w.attempt('task-0001')
    const two = w.attempt('task-0002')
    await until(() => w.provider.requests().length === 2, 'both requests')
    expect(w.provider.streams).toBe(1)
    expect(w.provider.requests().map((e) => e.payload.id)).toEqual(['task-0001', 'task-0002'])
    // Answered out of order: each result finds its own attempt by task id.
    w.provider.accept('task-0002')
    w.provider.result(w.completed('task-0002', two.digest))
    w.provider.accept('task-0001')
    w.provider.result(w.completed('task-0001', one.digest))
    expect(await two.attempt.done).toMatchObject({ kind: 'completed', output: { ok: 'task-0002' } })
    expect(await one.attempt.done).toMatchObject({ kind: 'completed', output: { ok: 'task-0001' } })
    expect(one.attempt.accepted).toBe(true)
  })

  it('loses an attempt whose result is signed by anyone but the provider it asked', async () => {
    const w = world()
    const { attempt, digest } = w.attempt('task-0001')
    await until(() => w.provider.requests().length === 1, 'the request')
    w.provider.resultSignedBy(generateIdentity(), w.completed('task-0001', digest))
    expect(await attempt.done).toMatchObject({ kind: 'failed', code: 'ERR_SIGNER_MISMATCH', end: 'lost' })
  })

  it('loses an attempt whose result quotes another request', async () => {
    const w = world()
    const { attempt } = w.attempt('task-0001')
    await until(() => w.provider.requests().length === 1, 'the request')
    w.provider.result(w.completed('task-0001', 'A'.repeat(43)))
    expect(await attempt.done).toMatchObject({ kind: 'failed', code: 'ERR_RESULT_MISMATCH', end: 'lost' })
  })

  it('takes a result that answers an earlier request for the same task on the same stream', async () => {
    const w = world()
    const first = w.attempt('task-0001')
    const retry = w.attempt('task-0001')
    await until(() => w.provider.requests().length === 2, 'both requests')
    // The provider's answer to the first request crossed the retry: just as good.
    w.provider.result(w.completed('task-0001', first.digest))
    expect(await retry.attempt.done).toMatchObject({ kind: 'completed' })
  })

  it("settles a rejected attempt with the provider's code and its retry-after", async () => {
    const w = world()
    const { attempt } = w.attempt('task-0001')
    await until(() => w.provider.requests().length === 1, 'the request')
    w.provider.channel.send(
      encodeControl(
        'task.reject',
        { id: 'task-0001', error: { code: 'ERR_BUSY', message: 'full' }, retryAfterMs: 250 },
        { trusted: true },
      ),
    )
    expect(await attempt.done).toMatchObject({
      kind: 'failed',
      code: 'ERR_BUSY',
      end: 'rejected',
      retryAfterMs: 250,
    })
  })

  it('ignores answers about tasks it has no attempt for', async () => {
    const w = world()
    const { attempt, digest } = w.attempt('task-0001')
    await until(() => w.provider.requests().length === 1, 'the request')
    w.provider.result(w.completed('task-9999', digest))
    w.provider.accept('task-9999')
    w.provider.result(w.completed('task-0001', digest))
    expect(await attempt.done).toMatchObject({ kind: 'completed', output: { ok: 'task-0001' } })
  })

  it('loses every attempt on a stream at once when the stream breaks', async () => {
    const w = world()
    const one = w.attempt('task-0001')
    const two = w.attempt('task-0002')
    await until(() => w.provider.requests().length === 2, 'both requests')
    w.provider.channel.abort(new Error('provider crashed'))
    const outcomes = await Promise.all([one.attempt.done, two.attempt.done])
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ kind: 'failed', code: 'ERR_PEER_DISCONNECTED', end: 'lost' })
    }
  })

  it('loses the attempt when no task stream to the provider can be opened', async () => {
    const w = world({ dialFails: true })
    const { attempt } = w.attempt('task-0001')
    const outcome = await attempt.done
    expect(outcome).toMatchObject({ kind: 'failed', code: 'ERR_STREAM_OPEN_FAILED', end: 'lost' })
    expect((outcome as { message: string }).message).toContain('connection refused')
  })

  it('cancels an attempt the provider did not accept in time, on the stream, and loses it as unresponsive', async () => {
    const w = world()
    const { attempt } = w.attempt('task-0001', { acceptBy: performance.now() })
    expect(await attempt.done).toMatchObject({ kind: 'failed', code: 'ERR_PEER_UNRESPONSIVE', end: 'lost' })
    // The provider learns it too: should it wake up, it must not work for nobody.
    await until(() => w.provider.received.some((e) => e.type === 'task.cancel'), 'the cancel')
  })

  it('probes a provider gone quiet with attempts pending, and loses them when the probe goes unanswered', async () => {
    const w = world({ pingAnswers: false, livenessIdleMs: 20 })
    const { attempt } = w.attempt('task-0001')
    await until(() => w.provider.requests().length === 1, 'the request')
    w.provider.accept('task-0001')
    const outcome = await attempt.done
    expect(outcome).toMatchObject({ kind: 'failed', code: 'ERR_PEER_UNRESPONSIVE', end: 'lost' })
    expect((outcome as { message: string }).message).toContain('liveness probe')
  })

  it('keeps attempts whose provider answers the probe', async () => {
    const w = world({ pingAnswers: true, livenessIdleMs: 20 })
    const { attempt, digest } = w.attempt('task-0001')
    await until(() => w.provider.requests().length === 1, 'the request')
    w.provider.accept('task-0001')
    // Past a sweep (every 500 ms) and a probe: still pending, then answered.
    await new Promise((resolve) => setTimeout(resolve, 700))
    expect(attempt.settled).toBe(false)
    w.provider.result(w.completed('task-0001', digest))
    expect(await attempt.done).toMatchObject({ kind: 'completed' })
  })
})
