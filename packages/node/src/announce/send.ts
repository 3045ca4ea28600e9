/**
 * Sending on the announce protocol: one envelope per stream, then the sender waits for the
 * receiver to close its side, which the receiver does only once it has handled the announcement.
 * That close is the acknowledgement (docs/protocol.md §2.2).
 */
import type { Stream } from '@libp2p/interface'
import type { ProtocolTraffic } from '../traffic.js'

/**
 * Writes one framed envelope on `stream`, closes this side and waits until the receiver closes
 * its side (its acknowledgement), within `signal`; a stream reset or the signal rejects. The
 * frame is counted in `traffic` as it is written.
 */
export async function announceOn(
  stream: Stream,
  frame: Uint8Array,
  signal: AbortSignal,
  traffic?: ProtocolTraffic,
): Promise<void> {
  if (traffic !== undefined) {
    traffic.messagesOut++
    traffic.bytesOut += frame.byteLength
  }
  const onAbort = (): void => stream.abort(new Error('announcement timed out'))
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (!stream.send(frame)) await stream.onDrain({ signal })
    await stream.close({ signal })
    for await (const _ of stream) {
      // nothing is expected back: only the end of the stream
    }
    signal.throwIfAborted()
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
