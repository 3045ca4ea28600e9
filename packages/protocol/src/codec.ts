/**
 * Frames: an unsigned-varint byte length, then that many bytes of UTF-8 JSON.
 *
 * The decoder is a push state machine (usable with event-style streams) wrapped in an async
 * generator (usable with any async-iterable byte stream). The length is checked against
 * `maxFrameBytes` byte by byte while the prefix is still arriving, so an oversize frame is
 * refused before one byte of its body is buffered. A frame that arrives inside one chunk is
 * parsed straight from that chunk, without a copy; a body split across chunks is copied once
 * into a buffer of exactly its size.
 *
 * Errors never throw out of the decoders: they are yielded as `{ ok: false, error, fatal }`.
 * Fatal errors (bad prefix, oversize, truncation, a failing source) end the stream, since
 * frame boundaries are lost; a body that is not UTF-8 or not JSON is skipped and decoding
 * goes on with the next frame.
 */
import { Buffer } from 'node:buffer'
import type { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_MAX_FRAME_BYTES, MAX_FRAME_BYTES_LIMIT, MAX_VARINT_BYTES } from './constants.js'
import {
  AbortedError,
  type FrameError,
  FrameTooLargeError,
  FrameTruncatedError,
  InvalidJsonError,
  InvalidJsonValueError,
  InvalidOptionError,
  InvalidUtf8Error,
  InvalidVarintError,
  StreamFailedError,
} from './errors.js'
import { varintLength, writeVarint } from './varint.js'

export interface FrameCodecInit {
  /**
   * Largest frame body, in bytes, that is produced or accepted.
   *
   * @default 4_194_304 (4 MiB)
   */
  maxFrameBytes?: number
}

export interface EncodeFrameOptions extends FrameCodecInit {}

export interface DecodeFramesOptions extends FrameCodecInit {
  /** Stops decoding: the generator yields an `ERR_ABORTED` error and ends. */
  signal?: AbortSignal
}

/** One decoder output: a parsed JSON value, or a coded error. */
export type DecodedFrame =
  | {
      readonly ok: true
      /** The frame body parsed with JSON.parse: untrusted, validate before use. */
      readonly value: unknown
      /** Size of the frame body in bytes. */
      readonly byteLength: number
      /**
       * The frame body as it arrived: a view into the decoder's input, valid until the caller
       * returns (copy it to keep it). A relay passes a message on unchanged with
       * {@link encodeBodyFrame}, without serializing it again.
       */
      readonly body: Uint8Array
    }
  | {
      readonly ok: false
      readonly error: FrameError
      /** True when the stream cannot go on (the decoder ends after yielding this). */
      readonly fatal: boolean
    }

export interface FrameDecoder {
  /**
   * Feeds bytes and returns the frames they complete, in order. After a fatal error the
   * decoder is spent and returns nothing more.
   */
  push(chunk: Uint8Array): DecodedFrame[]
  /** Signals the end of input: returns a truncation error if a frame was cut short. */
  end(): DecodedFrame | undefined
}

/** Byte sources `decodeFrames` reads: libp2p streams, Node streams, arrays of chunks... */
export type ByteSource = AsyncIterable<Uint8Array | Uint8ArrayList> | Iterable<Uint8Array | Uint8ArrayList>

function maxFrameBytesOf(init: FrameCodecInit): number {
  const max = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  if (!Number.isSafeInteger(max) || max < 1 || max > MAX_FRAME_BYTES_LIMIT) {
    throw new InvalidOptionError(
      `maxFrameBytes must be an integer from 1 to ${MAX_FRAME_BYTES_LIMIT}, got ${String(max)}`,
    )
  }
  return max
}

/**
 * Serializes `value` with JSON.stringify into one frame.
 *
 * @throws {InvalidJsonValueError} if `value` cannot be serialized (undefined, cycles, bigint).
 * @throws {FrameTooLargeError} if the body would exceed `maxFrameBytes`.
 */
export function encodeFrame(value: unknown, options: EncodeFrameOptions = {}): Uint8Array {
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (err) {
    throw new InvalidJsonValueError('', `cannot serialize: ${(err as Error).message}`)
  }
  if (json === undefined) {
    throw new InvalidJsonValueError('', `${typeof value} is not a JSON value`)
  }
  return encodeJsonFrame(json, options)
}

/**
 * Frames JSON text that is already serialized, such as `SignedEnvelope.json`. The text is not
 * parsed again: the caller vouches that it is one JSON text.
 *
 * @throws {FrameTooLargeError} if the body would exceed `maxFrameBytes`.
 */
export function encodeJsonFrame(json: string, options: EncodeFrameOptions = {}): Uint8Array {
  const max = maxFrameBytesOf(options)
  const bodyLength = Buffer.byteLength(json, 'utf8')
  if (bodyLength > max) {
    throw new FrameTooLargeError(`frame body of ${bodyLength} bytes exceeds the ${max}-byte limit`)
  }
  // Encode straight into the frame: no intermediate body buffer to copy.
  const prefixLength = varintLength(bodyLength)
  const frame = Buffer.allocUnsafe(prefixLength + bodyLength)
  writeVarint(bodyLength, frame, 0)
  frame.write(json, prefixLength, 'utf8')
  return new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength)
}

/**
 * Frames a body that is already one UTF-8 JSON text, such as a decoded frame's `body` that a relay
 * passes on unchanged: nothing is parsed or serialized, the bytes are copied once.
 *
 * @throws {FrameTooLargeError} if the body exceeds `maxFrameBytes`.
 */
export function encodeBodyFrame(body: Uint8Array, options: EncodeFrameOptions = {}): Uint8Array {
  const max = maxFrameBytesOf(options)
  if (body.byteLength > max) {
    throw new FrameTooLargeError(`frame body of ${body.byteLength} bytes exceeds the ${max}-byte limit`)
  }
  const prefixLength = varintLength(body.byteLength)
  const frame = new Uint8Array(prefixLength + body.byteLength)
  writeVarint(body.byteLength, frame, 0)
  frame.set(body, prefixLength)
  return frame
}

/**
 * Creates a push decoder.
 *
 * @throws {InvalidOptionError} if `maxFrameBytes` is out of range.
 */
export function frameDecoder(init: FrameCodecInit = {}): FrameDecoder {
  return new PushFrameDecoder(maxFrameBytesOf(init))
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

class PushFrameDecoder implements FrameDecoder {
  readonly #max: number
  #spent = false
  // Length prefix in progress.
  #length = 0
  #prefixBytes = 0
  #multiplier = 1
  // Body in progress, when it spans chunks.
  #body: Uint8Array | undefined
  #filled = 0

  constructor(max: number) {
    this.#max = max
  }

  push(chunk: Uint8Array): DecodedFrame[] {
    const frames: DecodedFrame[] = []
    if (this.#spent) {
      return frames
    }
    let offset = 0
    while (offset < chunk.length) {
      const body = this.#body
      if (body !== undefined) {
        const take = Math.min(chunk.length - offset, body.length - this.#filled)
        body.set(chunk.subarray(offset, offset + take), this.#filled)
        this.#filled += take
        offset += take
        if (this.#filled === body.length) {
          this.#body = undefined
          frames.push(parseBody(body))
        }
        continue
      }
      const byte = chunk[offset++] as number
      this.#length += (byte & 0x7f) * this.#multiplier
      this.#prefixBytes++
      if (this.#length > this.#max) {
        const atLeast = (byte & 0x80) !== 0 ? 'at least ' : ''
        const message = `frame of ${atLeast}${this.#length} bytes exceeds the ${this.#max}-byte limit`
        frames.push(this.#fail(new FrameTooLargeError(message)))
        return frames
      }
      if ((byte & 0x80) !== 0) {
        if (this.#prefixBytes === MAX_VARINT_BYTES) {
          frames.push(this.#fail(new InvalidVarintError('length prefix is longer than 9 bytes')))
          return frames
        }
        this.#multiplier *= 0x80
        continue
      }
      if (byte === 0 && this.#prefixBytes > 1) {
        frames.push(this.#fail(new InvalidVarintError('length prefix is not minimally encoded')))
        return frames
      }
      const length = this.#length
      this.#length = 0
      this.#prefixBytes = 0
      this.#multiplier = 1
      if (chunk.length - offset >= length) {
        frames.push(parseBody(chunk.subarray(offset, offset + length)))
        offset += length
      } else {
        this.#body = new Uint8Array(length)
        this.#filled = 0
      }
    }
    return frames
  }

  end(): DecodedFrame | undefined {
    if (this.#spent) {
      return undefined
    }
    if (this.#body !== undefined) {
      return this.#fail(
        new FrameTruncatedError(
          `stream ended ${this.#body.length - this.#filled} bytes short of a ${this.#body.length}-byte frame`,
        ),
      )
    }
    if (this.#prefixBytes > 0) {
      return this.#fail(new FrameTruncatedError('stream ended inside a length prefix'))
    }
    this.#spent = true
    return undefined
  }

  #fail(error: FrameError): DecodedFrame {
    this.#spent = true
    this.#body = undefined
    return { ok: false, error, fatal: true }
  }
}

function parseBody(body: Uint8Array): DecodedFrame {
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return { ok: false, error: new InvalidUtf8Error('frame body is not valid UTF-8'), fatal: false }
  }
  try {
    return { ok: true, value: JSON.parse(text), byteLength: body.length, body }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err)
    return { ok: false, error: new InvalidJsonError(`frame body is not JSON: ${reason}`), fatal: false }
  }
}

const ABORTED = Symbol('aborted')

/**
 * Decodes frames from a byte stream. Yields every frame's parsed value or a coded error, and
 * never throws: a failing source becomes an `ERR_STREAM_FAILED` error with the original as
 * `cause`. Ending the loop early (break, return) closes the source.
 *
 * @throws {InvalidOptionError} (synchronously) if `maxFrameBytes` is out of range.
 */
export function decodeFrames(
  source: ByteSource,
  options: DecodeFramesOptions = {},
): AsyncGenerator<DecodedFrame, void, undefined> {
  return run(frameDecoder(options), source, options.signal)
}

async function* run(
  decoder: FrameDecoder,
  source: ByteSource,
  signal: AbortSignal | undefined,
): AsyncGenerator<DecodedFrame, void, undefined> {
  const iterator: AsyncIterator<Uint8Array | Uint8ArrayList> | Iterator<Uint8Array | Uint8ArrayList> =
    Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : source[Symbol.iterator]()
  // Whether the source still needs closing when we stop early, and whether it is safe to wait
  // for that (not while an abandoned next() is still pending).
  let open = true
  let waitForClose = true
  try {
    while (true) {
      if (signal?.aborted === true) {
        yield abortedFrame()
        return
      }
      let next: IteratorResult<Uint8Array | Uint8ArrayList>
      try {
        next = signal === undefined ? await iterator.next() : await raceAbort(iterator.next(), signal)
      } catch (err) {
        if (err === ABORTED) {
          waitForClose = false
          yield abortedFrame()
          return
        }
        open = false
        const reason = err instanceof Error ? err.message : String(err)
        yield {
          ok: false,
          error: new StreamFailedError(`byte stream failed: ${reason}`, { cause: err }),
          fatal: true,
        }
        return
      }
      if (next.done === true) {
        open = false
        const tail = decoder.end()
        if (tail !== undefined) {
          yield tail
        }
        return
      }
      const chunks: Iterable<Uint8Array> = next.value instanceof Uint8Array ? [next.value] : next.value
      for (const chunk of chunks) {
        for (const frame of decoder.push(chunk)) {
          yield frame
          if (!frame.ok && frame.fatal) {
            return
          }
        }
      }
    }
  } finally {
    if (open && iterator.return !== undefined) {
      // Closing is best effort: a source that fails to close has nothing more to tell us.
      const closing = new Promise((resolve) => resolve(iterator.return?.())).catch(() => {})
      if (waitForClose) {
        await closing
      }
    }
  }
}

function abortedFrame(): DecodedFrame {
  return { ok: false, error: new AbortedError('frame decoding was aborted'), fatal: true }
}

function raceAbort<T>(promise: Promise<T> | T, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(ABORTED)
    signal.addEventListener('abort', onAbort, { once: true })
    Promise.resolve(promise).then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
