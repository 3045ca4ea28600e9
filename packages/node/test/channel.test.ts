// The task channel on its own: two ends of an in-memory libp2p stream pair (@libp2p/utils), no
// network and no exchange, so each behaviour of framing, batching and closing shows by itself.
import type { Stream } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { generateIdentity } from '@p2p-ai/identity'
import {
  batchCache,
  encodeBodyFrame,
  encodeFrame,
  type FrameError,
  openEnvelope,
  prepareEnvelope,
  replayCache,
} from '@p2p-ai/protocol'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type ChannelInit, TaskChannel } from '../src/exchange/stream/channel.js'

/** What one end of a channel saw, in order. */
interface Seen {
  messages: unknown[]
  bad: FrameError[]
  ended: boolean
  closed: Array<Error | undefined>
  handlerErrors: unknown[]
}

const opened: TaskChannel[] = []
afterEach(() => {
  for (const channel of opened.splice(0)) channel.abort(new Error('test over'))
})

function end(stream: Stream, init: Partial<ChannelInit> = {}, onMessage?: (value: unknown) => void) {
  const seen: Seen = { messages: [], bad: [], ended: false, closed: [], handlerErrors: [] }
  const channel = new TaskChannel(
    stream,
    'remote',
    {
      message: (value) => {
        seen.messages.push(value)
        onMessage?.(value)
      },
      badFrame: (error) => seen.bad.push(error),
      remoteEnd: () => {
        seen.ended = true
      },
      close: (error) => seen.closed.push(error),
    },
    { maxFrameBytes: 1024 * 1024, onHandlerError: (err) => seen.handlerErrors.push(err), ...init },
  )
  opened.push(channel)
  return { channel, seen }
}

async function pair(init: { a?: Partial<ChannelInit>; b?: Partial<ChannelInit> } = {}) {
  const [a, b] = await streamPair()
  return { a: end(a, init.a), b: end(b, init.b), streams: [a, b] as const }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe('TaskChannel', () => {
  it('sends the frames queued in one turn in one write, and the other end reads them in order', async () => {
    const { a, b, streams } = await pair()
    const send = vi.spyOn(streams[0], 'send')
    for (let i = 0; i < 5; i++) a.channel.send(encodeFrame({ n: i }))
    expect(a.channel.queuedBytes).toBeGreaterThan(0)
    await until(() => b.seen.messages.length === 5, 'five frames')
    expect(b.seen.messages).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })))
    expect(send).toHaveBeenCalledTimes(1)
    expect(a.channel.queuedBytes).toBe(0)
  })

  it('skips a frame that is not JSON and goes on reading the stream', async () => {
    const { a, b } = await pair()
    a.channel.send(encodeBodyFrame(new TextEncoder().encode('{ not json')))
    a.channel.send(encodeFrame({ after: true }))
    await until(() => b.seen.messages.length === 1, 'the frame after the bad one')
    expect(b.seen.bad.map((error) => error.code)).toEqual(['ERR_INVALID_JSON'])
    expect(b.seen.messages).toEqual([{ after: true }])
    expect(b.channel.closed).toBe(false)
  })

  it('resets the stream on a frame over the limit: the frame boundaries after it are lost', async () => {
    const { a, b } = await pair({ b: { maxFrameBytes: 64 } })
    a.channel.send(encodeFrame({ text: 'x'.repeat(100) }))
    await until(() => b.seen.closed.length === 1 && a.seen.closed.length === 1, 'both ends closed')
    expect((b.seen.closed[0] as { code?: string }).code).toBe('ERR_FRAME_TOO_LARGE')
    expect(a.seen.closed[0]).toBeInstanceOf(Error)
    expect(b.seen.messages).toEqual([])
    expect(a.channel.send(encodeFrame({ late: true }))).toBe(false)
  })

  it('signs envelopes that leave together with one batch signature when the peer takes batches', async () => {
    const signer = generateIdentity()
    let batching = true
    const { a, b } = await pair({ a: { signer, batchSigning: () => batching } })
    const prepare = (id: string) => prepareEnvelope(signer, 'task.cancel', { id, reason: 'test' })
    for (const id of ['task-0001', 'task-0002', 'task-0003']) a.channel.sendSigned(prepare(id))
    await until(() => b.seen.messages.length === 3, 'three envelopes')
    const checks = { replayCache: replayCache(), batchCache: batchCache(), expectedSender: signer.peerId }
    const batched = b.seen.messages as Array<{ sig?: string; batch?: { sig: string; index: number } }>
    expect(batched.map((e) => e.batch?.index)).toEqual([0, 1, 2])
    expect(new Set(batched.map((e) => e.batch?.sig)).size).toBe(1)
    expect(batched.every((e) => e.sig === undefined)).toBe(true)
    for (const envelope of batched) expect(openEnvelope(envelope, checks).envelope.type).toBe('task.cancel')

    // A peer below minor 2 gets every envelope signed on its own.
    batching = false
    for (const id of ['task-0004', 'task-0005']) a.channel.sendSigned(prepare(id))
    await until(() => b.seen.messages.length === 5, 'two more envelopes')
    const single = b.seen.messages.slice(3) as Array<{ sig?: string; batch?: unknown }>
    expect(single.every((e) => typeof e.sig === 'string' && e.batch === undefined)).toBe(true)
    for (const envelope of single) expect(openEnvelope(envelope, checks).envelope.type).toBe('task.cancel')
  })

  it('refuses sendSigned without a signer: only a bug calls it', async () => {
    const { a } = await pair()
    const signer = generateIdentity()
    const prepared = prepareEnvelope(signer, 'task.cancel', { id: 'task-0001' })
    expect(() => a.channel.sendSigned(prepared)).toThrow(TypeError)
  })

  it('waits for drain when the muxer is full, so a slow reader throttles the writer, and loses nothing', async () => {
    const { a, b, streams } = await pair()
    const stream = streams[0]
    const send = stream.send.bind(stream)
    let drained!: () => void
    // The muxer takes the first write but says it is full; it drains when the test says so.
    const sends = vi.spyOn(stream, 'send').mockImplementationOnce((data) => {
      send(data)
      return false
    })
    vi.spyOn(stream, 'onDrain').mockImplementationOnce(
      () => new Promise<void>((resolve) => (drained = resolve)),
    )
    a.channel.send(encodeFrame({ n: 0 }))
    await until(() => sends.mock.calls.length === 1, 'the first write')
    for (let i = 1; i < 4; i++) a.channel.send(encodeFrame({ n: i }))
    await new Promise((resolve) => setTimeout(resolve, 20))
    // Held back while the muxer is full, not dropped and not written.
    expect(sends).toHaveBeenCalledTimes(1)
    expect(a.channel.queuedBytes).toBeGreaterThan(0)
    drained()
    await until(() => b.seen.messages.length === 4, 'every frame')
    expect(sends).toHaveBeenCalledTimes(2)
    expect(b.seen.messages).toEqual([0, 1, 2, 3].map((n) => ({ n })))
  })

  it('close() sends what is queued first; the other end reads it all, then the end', async () => {
    const { a, b } = await pair()
    a.channel.send(encodeFrame({ n: 1 }))
    a.channel.send(encodeFrame({ n: 2 }))
    const closing = a.channel.close()
    expect(a.channel.writable).toBe(false)
    expect(a.channel.send(encodeFrame({ n: 3 }))).toBe(false)
    await closing
    await until(() => b.seen.ended, 'the remote end')
    expect(b.seen.messages).toEqual([{ n: 1 }, { n: 2 }])
    expect(b.seen.closed).toEqual([])
  })

  it('reports a handler that throws without tearing the stream down', async () => {
    const [sa, sb] = await streamPair()
    const a = end(sa)
    let first = true
    const b = end(sb, {}, () => {
      if (first) {
        first = false
        throw new Error('handler bug')
      }
    })
    a.channel.send(encodeFrame({ n: 1 }))
    a.channel.send(encodeFrame({ n: 2 }))
    await until(() => b.seen.messages.length === 2, 'both frames')
    expect(b.seen.handlerErrors).toEqual([new Error('handler bug')])
    expect(b.channel.closed).toBe(false)
  })

  it('reports the close once, with the reason, and refuses to send afterwards', async () => {
    const { a } = await pair()
    const reason = new Error('gone')
    a.channel.abort(reason)
    a.channel.abort(new Error('again'))
    expect(a.seen.closed).toEqual([reason])
    expect(a.channel.closed).toBe(true)
    expect(a.channel.send(encodeFrame({ n: 1 }))).toBe(false)
  })
})
