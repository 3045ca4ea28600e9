// The provider's session on its own: a real engine (mock backend, in-process) behind a
// TaskProvider, and a requester played by the test on the far end of an in-memory stream pair
// (@libp2p/utils), writing exactly the frames it wants to.
import type { Connection, PeerId } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { mockBackend, type TaskEngine, taskEngine } from '@p2p-ai/engine'
import { generateIdentity, type Identity } from '@p2p-ai/identity'
import {
  batchCache,
  DEFAULT_MAX_FRAME_BYTES,
  encodeBodyFrame,
  encodeControl,
  encodeJsonFrame,
  type JsonObject,
  openEnvelope,
  replayCache,
  sealEnvelope,
  type TaskRequest,
  type WireError,
} from '@p2p-ai/protocol'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { type ServingLimitsInit, settleServingLimits } from '../src/exchange/init.js'
import type { AttemptLauncher } from '../src/exchange/request/launcher.js'
import { Router } from '../src/exchange/route/router.js'
import { Admission } from '../src/exchange/serve/admission.js'
import { TaskProvider } from '../src/exchange/serve/provider.js'
import { TaskChannel } from '../src/exchange/stream/channel.js'
import { AccessPolicy } from '../src/exchange/trust/access-policy.js'
import { envelopeChecks } from '../src/exchange/trust/checks.js'
import { PeerDirectory } from '../src/peers/directory.js'
import type { PeerNetwork } from '../src/peers/types.js'

const log = pino({ level: 'silent' })
const idOf = (peer: string): PeerId => ({ toString: () => peer, equals: () => false }) as unknown as PeerId

/** A message as it arrives: `{ v, type, payload }`, and `sig` (or `batch`) when it is signed. */
interface Message {
  type: string
  payload: { id: string }
  sig?: string
}

/** An answer about one task: its type and its payload's members, signature checked. */
interface Answer {
  type: string
  id: string
  status?: string
  error?: WireError
  requestHash?: string
  output?: unknown
  retryAfterMs?: number
}

const engines: TaskEngine[] = []
const channels: TaskChannel[] = []
afterEach(async () => {
  for (const channel of channels.splice(0)) channel.abort(new Error('test over'))
  await Promise.all(engines.splice(0).map((engine) => engine.stop()))
})

interface SessionWorld {
  requester: Identity
  provider: TaskProvider
  engine: TaskEngine
  channel: TaskChannel
  answers: Message[]
  ended: () => boolean
  request(id: string, input?: JsonObject, signer?: Identity): string
  answersFor(id: string): Answer[]
}

async function session(
  options: {
    maxTasksPerPeer?: number
    serving?: ServingLimitsInit
    /** The protocol minor the requester announced; none announced when absent. */
    requesterMinor?: number
    /** The reputation book says the requester is banned (its tasks may come through a relay). */
    requesterBanned?: boolean
    admit?: (sender: string, requester: string) => WireError | undefined
  } = {},
): Promise<SessionWorld> {
  const self = generateIdentity()
  const requester = generateIdentity()
  const engine = taskEngine({ backends: [mockBackend({ worker: false })], workers: false, builtins: false })
  engines.push(engine)
  const network: PeerNetwork = {
    ping: async () => 1,
    hangUp: async () => {},
    redial: () => {},
    forget: () => {},
    connections: () => [],
  }
  const directory = new PeerDirectory({ self: self.peerId, network, log })
  if (options.requesterMinor !== undefined) {
    directory.onConnect(idOf(requester.peerId))
    directory.onCapabilities(idOf(requester.peerId), {
      protocolMinor: options.requesterMinor,
      taskTypes: [],
      models: [],
      concurrency: 1,
      load: { running: 0, queued: 0 },
    })
  }
  const router = new Router({
    self: self.peerId,
    directory,
    engine,
    policy: new AccessPolicy(self.peerId),
    maxHops: 10,
    relay: false,
  })
  const provider = new TaskProvider({
    self: self.peerId,
    engine,
    signer: self,
    checks: envelopeChecks(),
    directory,
    log,
    maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
    admission: new Admission({
      limits: settleServingLimits(
        options.serving ?? {},
        options.maxTasksPerPeer ?? 64,
        DEFAULT_MAX_FRAME_BYTES,
      ),
      isExempt: () => false,
      isBanned: (peer) => options.requesterBanned === true && peer === requester.peerId,
      offence: (peer, offence) => directory.book.recordOffence(peer, offence),
    }),
    persist: 'memory',
    router,
    // Relaying is off: this session runs what it accepts itself.
    launcher: {} as AttemptLauncher,
    admit: options.admit ?? (() => undefined),
  })
  const [outbound, inbound] = await streamPair()
  provider.handler(inbound, { remotePeer: idOf(requester.peerId) } as unknown as Connection)
  const checks = { replayCache: replayCache(), batchCache: batchCache(), expectedSender: self.peerId }
  const answers: Message[] = []
  let ended = false
  const channel = new TaskChannel(
    outbound,
    self.peerId,
    {
      message: (value) => {
        const message = value as Message
        // Signed answers must verify as this node's, once, as they arrive.
        if (message.sig !== undefined) openEnvelope(message, checks)
        answers.push(message)
      },
      badFrame: () => {},
      remoteEnd: () => {
        ended = true
      },
      close: () => {},
    },
    {
      maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
      onHandlerError: (err) => answers.push({ type: `unverified: ${err}`, payload: { id: '' } }),
      signer: requester,
    },
  )
  channels.push(channel)
  return {
    requester,
    provider,
    engine,
    channel,
    answers,
    ended: () => ended,
    request(id, input = {}, signer = requester) {
      const payload: TaskRequest = {
        id,
        taskType: 'mock',
        input,
        priority: 5,
        timeoutMs: 30_000,
        createdAt: Date.now(),
        requester: signer.peerId,
      }
      const signed = sealEnvelope(signer, 'task.request', payload)
      channel.send(encodeJsonFrame(signed.json))
      return signed.digest
    },
    answersFor(id) {
      return answers.filter((m) => m.payload.id === id).map((m) => ({ type: m.type, ...m.payload }) as Answer)
    },
  }
}

const typesOf = (answers: ReadonlyArray<{ type: string }>) => answers.map((a) => a.type)

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe('ProviderSession', () => {
  it('answers a request with an accept, then a result signed by this node that quotes the request', async () => {
    const w = await session()
    const digest = w.request('task-0001', { text: 'hello' })
    await until(() => w.answersFor('task-0001').length === 2, 'accept and result')
    const [accept, result] = w.answersFor('task-0001') as [Answer, Answer]
    expect(accept).toMatchObject({ type: 'task.accept' })
    expect(result).toMatchObject({
      type: 'task.result',
      status: 'completed',
      requestHash: digest,
      output: { text: 'hello', words: 1 },
    })
    expect(w.provider.stats()).toMatchObject({ sessions: 1, received: 1, accepted: 1 })
  })

  it('rejects a request that fails a check, naming it, and goes on serving the stream', async () => {
    const w = await session()
    // Signed by someone who is not the stream's peer.
    w.request('task-0001', {}, generateIdentity())
    w.request('task-0002')
    await until(() => w.answersFor('task-0002').length === 2, 'the next task served')
    const [reject] = w.answersFor('task-0001')
    expect(reject).toMatchObject({ type: 'task.reject', error: { code: 'ERR_SIGNER_MISMATCH' } })
    expect(reject?.error?.message).toMatch(/\S/)
  })

  it('skips a frame that is not JSON, and a message type a requester does not send', async () => {
    const w = await session()
    w.channel.send(encodeBodyFrame(new TextEncoder().encode('not json at all')))
    w.channel.send(encodeControl('task.accept', { id: 'task-0009' }, { trusted: true }))
    w.request('task-0001')
    await until(() => w.answersFor('task-0001').length === 2, 'the task served')
    expect(typesOf(w.answers)).toEqual(['task.accept', 'task.result'])
  })

  it('joins a repeated request for an open task: a second accept, one run, the result quotes the newest', async () => {
    const w = await session()
    w.request('task-0001', { latencyMs: 200 })
    await until(() => w.answersFor('task-0001').length === 1, 'the first accept')
    const newest = w.request('task-0001', { latencyMs: 200 })
    await until(() => w.answersFor('task-0001').some((a) => a.type === 'task.result'), 'the result')
    expect(typesOf(w.answersFor('task-0001'))).toEqual(['task.accept', 'task.accept', 'task.result'])
    expect(w.answersFor('task-0001')[2]?.requestHash).toBe(newest)
    expect(w.provider.stats().accepted).toBe(1)
  })

  it('cancels a running task on task.cancel: the result says cancelled', async () => {
    const w = await session()
    w.request('task-0001', { latencyMs: 10_000 })
    await until(() => w.answersFor('task-0001').length === 1, 'the accept')
    w.channel.send(encodeControl('task.cancel', { id: 'task-0001' }, { trusted: true }))
    await until(() => w.answersFor('task-0001').length === 2, 'the result')
    expect(w.answersFor('task-0001')[1]).toMatchObject({
      type: 'task.result',
      status: 'cancelled',
      error: { code: 'ERR_CANCELLED' },
    })
  })

  it('rejects tasks beyond the per-requester limit as busy, with a retry-after', async () => {
    const w = await session({ maxTasksPerPeer: 1 })
    w.request('task-0001', { latencyMs: 300 })
    w.request('task-0002')
    await until(() => w.answersFor('task-0002').length === 1, 'the reject')
    expect(w.answersFor('task-0002')[0]).toMatchObject({
      type: 'task.reject',
      error: { code: 'ERR_BUSY' },
      retryAfterMs: expect.any(Number),
    })
  })

  it('rejects a request over the rate or the size cap with the newer codes, to a requester that knows them', async () => {
    const w = await session({
      serving: { burst: 1, tasksPerSecond: 1, maxInputBytes: 600 },
      requesterMinor: 4,
    })
    w.request('task-0001', { text: 'x'.repeat(1_000) })
    w.request('task-0002')
    w.request('task-0003')
    await until(() => w.answersFor('task-0003').length === 1, 'the rejects')
    expect(w.answersFor('task-0001')[0]).toMatchObject({ error: { code: 'ERR_INPUT_TOO_LARGE' } })
    expect(w.answersFor('task-0003')[0]).toMatchObject({
      type: 'task.reject',
      error: { code: 'ERR_RATE_LIMITED' },
      retryAfterMs: expect.any(Number),
    })
  })

  it('sends a requester older than those codes the ones it knows and acts on alike', async () => {
    for (const requesterMinor of [3, undefined]) {
      const w = await session({
        serving: { burst: 1, tasksPerSecond: 1, maxInputBytes: 600 },
        ...(requesterMinor === undefined ? {} : { requesterMinor }),
      })
      w.request('task-0001', { text: 'x'.repeat(1_000) })
      w.request('task-0002')
      w.request('task-0003')
      await until(() => w.answersFor('task-0003').length === 1, 'the rejects')
      expect(w.answersFor('task-0001')[0]).toMatchObject({
        error: { code: 'ERR_UNSUPPORTED_TASK', message: expect.stringMatching(/at most 600/) },
      })
      expect(w.answersFor('task-0003')[0]).toMatchObject({
        error: { code: 'ERR_BUSY' },
        retryAfterMs: expect.any(Number),
      })
    }
  })

  it("refuses a banned requester's task, which only a relay could still bring, as access denied", async () => {
    const w = await session({ requesterBanned: true })
    w.request('task-0001')
    await until(() => w.answersFor('task-0001').length === 1, 'the reject')
    expect(w.answersFor('task-0001')[0]).toMatchObject({
      type: 'task.reject',
      error: { code: 'ERR_ACCESS_DENIED', message: expect.stringMatching(/is banned on this node/) },
    })
    expect(w.engine.load()).toMatchObject({ running: 0, queued: 0 })
  })

  it('rejects new tasks once the node stops accepting, and still answers the running ones', async () => {
    const w = await session()
    w.request('task-0001', { latencyMs: 200 })
    await until(() => w.answersFor('task-0001').length === 1, 'the accept')
    w.provider.stopAccepting()
    w.request('task-0002')
    await until(() => w.answersFor('task-0001').length === 2, 'the running task answered')
    expect(w.answersFor('task-0002')).toMatchObject([
      { type: 'task.reject', error: { code: 'ERR_SHUTTING_DOWN' } },
    ])
    expect(w.answersFor('task-0001')[1]).toMatchObject({ status: 'completed' })
  })

  it('rejects what the access policy refuses with its error', async () => {
    const w = await session({
      admit: () => ({ code: 'ERR_ACCESS_DENIED', message: 'not on the allowlist' }),
    })
    w.request('task-0001')
    await until(() => w.answersFor('task-0001').length === 1, 'the reject')
    expect(w.answersFor('task-0001')[0]).toMatchObject({
      type: 'task.reject',
      error: { code: 'ERR_ACCESS_DENIED', message: 'not on the allowlist' },
    })
  })

  it('closes its side once the requester closed its own and every task is answered', async () => {
    const w = await session()
    w.request('task-0001', { latencyMs: 50 })
    await w.channel.close()
    await until(() => w.ended(), 'the provider closing its side')
    expect(typesOf(w.answersFor('task-0001'))).toEqual(['task.accept', 'task.result'])
  })

  it('abandons its running tasks when the requester goes away: nobody would read the result', async () => {
    const w = await session()
    w.request('task-0001', { latencyMs: 10_000 })
    await until(() => w.answersFor('task-0001').length === 1, 'the accept')
    w.channel.abort(new Error('requester crashed'))
    const record = w.engine.get(`${w.requester.peerId}:task-0001`)
    await until(() => w.engine.get(`${w.requester.peerId}:task-0001`)?.status === 'CANCELLED', 'the cancel')
    expect(record).toBeDefined()
    await until(() => w.provider.stats().sessions === 0, 'the session gone')
  })
})
