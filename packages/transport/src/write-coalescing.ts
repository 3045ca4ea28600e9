/**
 * Fewer, larger writes on a connection, without changing a byte of what is written.
 *
 * - **TCP writes.** Noise writes each message as two chunks (its 2-byte length, then the
 *   ciphertext), and libp2p's TCP connection hands every chunk to the socket on its own: one
 *   `write` system call each, and on loopback every call also runs the receiver's TCP stack. The
 *   socket is corked on the first write of a turn of the event loop and uncorked at the end of the
 *   turn, so what a turn writes leaves in one `writev`.
 * - **Yamux window updates.** `@chainsafe/libp2p-yamux` answers every data frame with a window
 *   update, one more frame (and, on TCP, one more write) per message. A receiver only needs to
 *   grow the window before the sender runs out of it: go-yamux and rust-yamux send an update once
 *   at least half of the window is used, and so does this node (the Yamux spec leaves the choice
 *   to the receiver). Handshake flags and a paused stream still go through yamux's own logic.
 *
 * Both reach into how the libraries work inside (a connection's `maConn.socket` and `sendData`,
 * `YamuxStream.prototype.sendWindowUpdate`): they check that what they rely on is there and leave
 * anything else alone, so a library update can make them do nothing, never break a connection.
 */
import type { Socket } from 'node:net'
import type { Connection } from '@libp2p/interface'

/** The bits of libp2p's TCP connection (`socket-to-conn`) coalescing relies on. */
interface TcpMaConn {
  socket?: Socket
  sendData?: (data: Iterable<Uint8Array>) => unknown
  [COALESCED]?: true
}

const COALESCED = Symbol.for('@p2p-ai/transport:coalesced')

/**
 * Makes the writes one turn of the event loop makes on `connection` leave in one system call.
 * Returns whether it could (a TCP connection of a libp2p version it knows).
 */
export function coalesceWrites(connection: Connection): boolean {
  const maConn = (connection as unknown as { maConn?: TcpMaConn }).maConn
  const socket = maConn?.socket
  const sendData = maConn?.sendData
  if (maConn === undefined || socket === undefined || typeof sendData !== 'function') return false
  if (typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return false
  if (maConn[COALESCED] === true) return true
  maConn[COALESCED] = true
  let corked = false
  const uncork = (): void => {
    corked = false
    if (!socket.destroyed) socket.uncork()
  }
  maConn.sendData = function (this: unknown, data: Iterable<Uint8Array>) {
    if (!corked && !socket.destroyed) {
      corked = true
      socket.cork()
      process.nextTick(uncork)
    }
    return sendData.call(this, data)
  }
  return true
}

/** The bits of `YamuxStream` lazy window updates rely on. */
interface YamuxStreamLike {
  state: unknown
  recvWindow: unknown
  recvWindowCapacity: unknown
  sendWindowUpdate: () => void
}

/** `StreamState.Established` of `@chainsafe/libp2p-yamux`. */
const ESTABLISHED = 3
let windowUpdatesPatched = false

/**
 * Window updates once half of a stream's receive window is used, for every yamux stream of this
 * process. Idempotent; returns whether it applies.
 */
export async function lazyWindowUpdates(): Promise<boolean> {
  if (windowUpdatesPatched) return true
  let proto: YamuxStreamLike
  try {
    const { YamuxStream } = await import('@chainsafe/libp2p-yamux/stream')
    proto = YamuxStream.prototype as unknown as YamuxStreamLike
  } catch {
    return false
  }
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function') return false
  windowUpdatesPatched = true
  proto.sendWindowUpdate = function (this: YamuxStreamLike) {
    const { state, recvWindow, recvWindowCapacity } = this
    if (
      state === ESTABLISHED &&
      typeof recvWindow === 'number' &&
      typeof recvWindowCapacity === 'number' &&
      recvWindowCapacity > recvWindow / 2
    ) {
      return
    }
    original.call(this)
  }
  return true
}
