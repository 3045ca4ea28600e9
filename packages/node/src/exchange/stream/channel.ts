/**
 * A task stream as both ends use it: frames in, frames out, many conversations at once.
 *
 * Reading is event driven: each chunk the muxer delivers goes through the push frame decoder and
 * every complete frame is handed over synchronously, with no async iterator or promise per
 * frame. Writing is batched: frames queued in the same turn of the event loop leave in one
 * `send()` (one Noise message, one syscall for many small frames), and when the muxer signals a
 * full buffer the channel waits for `drain` before sending more, so a slow reader throttles the
 * writer instead of growing libp2p's buffers.
 *
 * Signing is batched too: requests and results are queued prepared (stamped, canonicalized, their
 * digest known) and signed when the queue is flushed. When several leave together and the peer
 * speaks batch signatures (protocol minor 2), one Ed25519 signature over their Merkle root covers
 * them all (docs/protocol.md §4.5), so under load the cost of signing drops from one signature
 * per message to one per write. A single message is signed on its own, exactly as before.
 *
 * A frame can also be queued unbuilt (`sendLater`): it is built when the queue leaves, so whatever
 * accumulated for it until then (a generation's streamed text, while a slow reader holds the
 * stream back) goes out in that one frame.
 */
import { Buffer } from 'node:buffer'
import type { Stream } from '@libp2p/interface'
import {
  encodeJsonFrame,
  type FrameDecoder,
  type FrameError,
  frameDecoder,
  MAX_BATCH_SIZE,
  MAX_FRAME_BYTES_LIMIT,
  type PreparedEnvelope,
  type Signer,
  sealPrepared,
} from '@p2p-ai/protocol'
import type { ProtocolTraffic } from '../../traffic.js'
import { PeerDisconnectedError, ProtocolViolationError } from '../errors.js'

export interface ChannelHandlers {
  /**
   * A decoded frame (untrusted JSON), and its body as it arrived (a view: copy it, or frame it
   * with `encodeBodyFrame`, to pass it on). Called synchronously, in order.
   */
  message(value: unknown, body: Uint8Array): void
  /** A frame that was skipped (not UTF-8, not JSON); the stream goes on. */
  badFrame(error: FrameError): void
  /** The framing itself broke (a length over the limit, a bad varint): the stream is reset next. */
  brokenFrame?(error: FrameError): void
  /** What waits to be sent passed `maxQueuedBytes` (the remote does not read): the stream is reset next. */
  overflow?(bytes: number): void
  /** The remote closed its writing side: no more frames will come. */
  remoteEnd(): void
  /** The stream is gone; `error` is set unless both sides closed cleanly. Called once. */
  close(error: Error | undefined): void
}

export interface ChannelInit {
  maxFrameBytes: number
  /** Reports a handler exception (a bug) without tearing down the stream. */
  onHandlerError(err: unknown): void
  /** Signs what `sendSigned` queued; without it, `sendSigned` throws. */
  signer?: Signer
  /**
   * Whether envelopes that leave together may share a batch signature: the remote announced
   * protocol minor 2 or later. Asked at each flush, since announcements arrive at any time.
   */
  batchSigning?(): boolean
  /**
   * Most bytes waiting to be sent while the muxer's buffer is full; beyond it the remote is not
   * reading, and the stream is reset (`overflow`) rather than buffered without bound.
   *
   * @default unbounded
   */
  maxQueuedBytes?: number
  /** Where the frames and bytes this channel writes and reads are counted. */
  traffic?: ProtocolTraffic
}

/** A queued envelope waiting for its signature, a frame ready to go, or one built when it leaves. */
type Queued = Uint8Array | PreparedEnvelope | (() => Uint8Array)

/** One task stream with batched writes and synchronous, push-decoded reads. */
export class TaskChannel {
  readonly stream: Stream
  readonly remotePeer: string
  /** `performance.now()` when the last bytes arrived from the remote. */
  lastHeard: number
  readonly #handlers: ChannelHandlers
  readonly #decoder: FrameDecoder
  readonly #init: ChannelInit
  #queue: Queued[] = []
  #queuedBytes = 0
  /** Queued items that are not frames yet: envelopes to sign, frames to build. */
  #unbuilt = 0
  #scheduled = false
  #waitingForDrain = false
  #closed = false
  #closing: Promise<void> | undefined

  constructor(stream: Stream, remotePeer: string, handlers: ChannelHandlers, init: ChannelInit) {
    this.stream = stream
    this.remotePeer = remotePeer
    this.#handlers = handlers
    this.#init = init
    this.#decoder = frameDecoder({ maxFrameBytes: init.maxFrameBytes })
    this.lastHeard = performance.now()
    stream.addEventListener('message', (evt) => this.#onData(evt.data))
    stream.addEventListener('remoteCloseWrite', () => this.#onRemoteEnd())
    stream.addEventListener('close', (evt) => this.#onClose(evt.error))
    if (stream.status !== 'open')
      queueMicrotask(() => this.#onClose(new PeerDisconnectedError('stream closed')))
  }

  /** Whether the stream is gone (frames can no longer be sent). */
  get closed(): boolean {
    return this.#closed
  }

  /** Whether this side may still write. */
  get writable(): boolean {
    return !this.#closed && this.#closing === undefined && this.stream.writeStatus === 'writable'
  }

  /** Bytes waiting to be handed to the muxer. */
  get queuedBytes(): number {
    return this.#queuedBytes
  }

  /**
   * Queues one encoded frame. Returns false (and drops it) when the stream can no longer be
   * written; the caller learns why through `close`.
   */
  send(frame: Uint8Array): boolean {
    if (!this.writable) return false
    this.#queue.push(frame)
    this.#queuedBytes += frame.byteLength
    if (this.#overflowed()) return false
    this.#schedule()
    return true
  }

  /**
   * Queues a frame that `build` makes when the queue leaves (in order with everything else), for
   * content that keeps growing until then. Returns false when the stream can no longer be written.
   */
  sendLater(build: () => Uint8Array): boolean {
    if (!this.writable) return false
    this.#queue.push(build)
    this.#unbuilt++
    this.#schedule()
    return true
  }

  /**
   * Queues an envelope to be signed when it leaves (see the module comment). Its size must have
   * been checked against the frame limit with room for a signature (`MAX_SIGNATURE_JSON_BYTES`).
   * Returns false (and drops it) when the stream can no longer be written.
   */
  sendSigned(prepared: PreparedEnvelope): boolean {
    if (this.#init.signer === undefined) throw new TypeError('this channel has no signer')
    if (!this.writable) return false
    this.#queue.push(prepared)
    this.#queuedBytes += prepared.byteLength
    this.#unbuilt++
    if (this.#overflowed()) return false
    this.#schedule()
    return true
  }

  /**
   * Sends what is queued now instead of after the turn's I/O (still never past a full buffer): for
   * a frame whose latency matters more than sharing a write, such as a generation's first text.
   */
  flushNow(): void {
    if (this.#scheduled) this.#flush()
  }

  /** Resets the stream if the remote let too much pile up unread. */
  #overflowed(): boolean {
    const max = this.#init.maxQueuedBytes
    if (max === undefined || this.#queuedBytes <= max || !this.#waitingForDrain) return false
    const bytes = this.#queuedBytes
    try {
      this.#handlers.overflow?.(bytes)
    } catch (err) {
      this.#init.onHandlerError(err)
    }
    this.abort(new ProtocolViolationError(`${bytes} bytes of answers went unread`))
    return true
  }

  #schedule(): void {
    if (!this.#scheduled && !this.#waitingForDrain) {
      this.#scheduled = true
      // After the current turn's I/O callbacks rather than after the current callback: a
      // provider's accept and a quick result, or a requester's burst of submissions, then leave in
      // one write (one Noise message, one syscall) instead of one each.
      setImmediate(this.#flushSoon)
    }
  }

  readonly #flushSoon = (): void => this.#flush()

  /** Sends what is queued, closes this side for writing and waits for the muxer to take it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        while (this.#queue.length > 0 || this.#waitingForDrain) {
          if (this.#waitingForDrain) await this.stream.onDrain()
          this.#flush()
        }
        await this.stream.close()
      } catch (err) {
        this.abort(err instanceof Error ? err : new Error(String(err)))
      }
    })()
    return this.#closing
  }

  /** Resets the stream: both ends fail whatever was pending on it. */
  abort(err: Error): void {
    if (this.#closed) return
    this.stream.abort(err)
    // libp2p dispatches 'close' synchronously from abort; this covers streams that do not.
    this.#onClose(err)
  }

  #flush(): void {
    this.#scheduled = false
    if (this.#waitingForDrain || this.#queue.length === 0 || this.#closed) return
    let frames: Uint8Array[]
    try {
      frames = this.#unbuilt === 0 ? (this.#queue as Uint8Array[]) : this.#build(this.#queue)
    } catch (err) {
      // Only a bug gets here (envelopes were validated when prepared); fail loudly, not silently.
      this.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    const data = frames.length === 1 ? (frames[0] as Uint8Array) : Buffer.concat(frames)
    this.#queue = []
    this.#queuedBytes = 0
    this.#unbuilt = 0
    const traffic = this.#init.traffic
    if (traffic !== undefined) {
      traffic.messagesOut += frames.length
      traffic.bytesOut += data.byteLength
    }
    let more: boolean
    try {
      more = this.stream.send(data)
    } catch (err) {
      this.abort(err instanceof Error ? err : new Error(String(err)))
      return
    }
    if (!more) {
      this.#waitingForDrain = true
      this.stream.onDrain().then(
        () => {
          this.#waitingForDrain = false
          this.#flush()
        },
        (err: unknown) => this.abort(err instanceof Error ? err : new Error(String(err))),
      )
    }
  }

  /**
   * The queue as frames: frames queued unbuilt built now, prepared envelopes signed, in batches
   * when the peer takes them.
   */
  #build(queue: readonly Queued[]): Uint8Array[] {
    const frames = new Array<Uint8Array>(queue.length)
    const waiting: number[] = []
    queue.forEach((item, index) => {
      if (item instanceof Uint8Array) frames[index] = item
      else if (typeof item === 'function') frames[index] = item()
      else waiting.push(index)
    })
    if (waiting.length === 0) return frames
    const signer = this.#init.signer as Signer
    const size = waiting.length > 1 && this.#init.batchSigning?.() === true ? MAX_BATCH_SIZE : 1
    // The size was checked with room for any signature when the envelope was queued.
    const limit = { maxFrameBytes: MAX_FRAME_BYTES_LIMIT }
    for (let start = 0; start < waiting.length; start += size) {
      const indices = waiting.slice(start, start + size)
      const signed = sealPrepared(
        signer,
        indices.map((index) => queue[index] as PreparedEnvelope),
      )
      for (const [j, index] of indices.entries()) {
        frames[index] = encodeJsonFrame((signed[j] as { json: string }).json, limit)
      }
    }
    return frames
  }

  #onData(data: Uint8Array | Iterable<Uint8Array>): void {
    this.lastHeard = performance.now()
    if (data instanceof Uint8Array) this.#decode(data)
    else for (const chunk of data) this.#decode(chunk)
  }

  #decode(chunk: Uint8Array): void {
    const traffic = this.#init.traffic
    if (traffic !== undefined) traffic.bytesIn += chunk.byteLength
    for (const frame of this.#decoder.push(chunk)) {
      if (this.#closed) return
      if (traffic !== undefined) traffic.messagesIn++
      if (frame.ok) {
        try {
          this.#handlers.message(frame.value, frame.body)
        } catch (err) {
          this.#init.onHandlerError(err)
        }
      } else if (frame.fatal) {
        // Frame boundaries are lost: nothing more on this stream can be trusted.
        try {
          this.#handlers.brokenFrame?.(frame.error)
        } catch (err) {
          this.#init.onHandlerError(err)
        }
        this.abort(frame.error)
        return
      } else {
        this.#handlers.badFrame(frame.error)
      }
    }
  }

  #onRemoteEnd(): void {
    const tail = this.#decoder.end()
    if (tail !== undefined && !tail.ok) {
      this.abort(tail.error)
      return
    }
    try {
      this.#handlers.remoteEnd()
    } catch (err) {
      this.#init.onHandlerError(err)
    }
  }

  #onClose(error: Error | undefined): void {
    if (this.#closed) return
    this.#closed = true
    this.#queue = []
    this.#queuedBytes = 0
    this.#unbuilt = 0
    try {
      this.#handlers.close(error)
    } catch (err) {
      this.#init.onHandlerError(err)
    }
  }
}
