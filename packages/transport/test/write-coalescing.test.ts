import type { Socket } from 'node:net'
import type { Connection, Stream } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { createTransport, type Transport, type TransportInit } from '../src/transport.js'

const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']
const SINK = '/p2p-ai-test/sink/1.0.0'

describe('fewer, larger writes', () => {
  const nodes: Transport[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop()))
  })

  async function start(init: TransportInit = {}): Promise<Transport> {
    const node = await createTransport({ listen: LOOPBACK, mdns: false, ...init })
    nodes.push(node)
    return node
  }

  /** B takes everything sent on SINK and counts it; A has a stream open to it. */
  async function sinkPair(init: TransportInit = {}) {
    const a = await start(init)
    const b = await start(init)
    let received = 0
    await b.handle(SINK, (stream: Stream) => {
      stream.addEventListener('message', (evt) => {
        received += evt.data.byteLength
      })
    })
    const connection = await a.dial(b.getMultiaddrs())
    const stream = await a.dialProtocol(b.peerId, SINK)
    const socketOf = (c: Connection): Socket => (c as unknown as { maConn: { socket: Socket } }).maConn.socket
    const inbound = b.getConnections(a.peerId)[0] as Connection
    return { a, b, stream, sent: socketOf(connection), receiver: socketOf(inbound), received: () => received }
  }

  /** Counts the system calls a socket makes from now on: `_write` for one chunk, `_writev` for several. */
  function countWrites(socket: Socket): { write: number; writev: number } {
    const counts = { write: 0, writev: 0 }
    const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void }
    const write = s._write.bind(socket)
    const writev = s._writev.bind(socket)
    s._write = (...args) => {
      counts.write++
      write(...args)
    }
    s._writev = (...args) => {
      counts.writev++
      writev(...args)
    }
    return counts
  }

  it('sends what one turn of the event loop writes on a TCP connection in one system call', async () => {
    const { stream, sent, received } = await sinkPair()
    const counts = countWrites(sent)
    // Five messages in one turn: five Noise messages, each a length and a ciphertext.
    for (let i = 0; i < 5; i++) stream.send(new Uint8Array(100).fill(i))
    await expect.poll(received).toBe(500)
    expect(counts).toEqual({ write: 0, writev: 1 })

    const plain = await sinkPair({ coalesceWrites: false })
    const uncorked = countWrites(plain.sent)
    for (let i = 0; i < 5; i++) plain.stream.send(new Uint8Array(100).fill(i))
    await expect.poll(plain.received).toBe(500)
    // Without it, every chunk is a write of its own.
    expect(uncorked.write + uncorked.writev).toBeGreaterThan(1)
  })

  it('has a yamux receiver grow the window once half of it is used, not after every frame', async () => {
    const { stream, receiver, received } = await sinkPair()
    // The first frame opens the stream: the receiver acknowledges it (a window update with ACK).
    stream.send(new Uint8Array(100))
    await expect.poll(received).toBe(100)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const before = receiver.bytesWritten
    // 99 more small frames, well under half of the 256 KiB window: nothing to answer.
    for (let i = 1; i < 100; i++) {
      stream.send(new Uint8Array(100))
      await new Promise((resolve) => setImmediate(resolve))
    }
    await expect.poll(received).toBe(10_000)
    expect(receiver.bytesWritten - before).toBe(0)
    // Far more than the window: updates arrive as it fills, and the sender never stalls.
    const chunk = new Uint8Array(16 * 1024)
    for (let i = 0; i < 64; i++) {
      if (!stream.send(chunk)) await stream.onDrain()
    }
    await expect.poll(received, { timeout: 10_000 }).toBe(10_000 + 64 * 16 * 1024)
    expect(receiver.bytesWritten - before).toBeGreaterThan(0)
  })
})
