import { type DecodedFrame, type DecodeFramesOptions, decodeFrames } from '../src/codec.js'
import { type OpenEnvelopeOptions, openEnvelope } from '../src/envelope.js'
import { replayCache } from '../src/replay-cache.js'

/** The clock of the envelope tests: messages are sealed and opened at this time. */
export const NOW = 1_767_225_600_000

/** `openEnvelope` at {@link NOW} with a fresh replay cache, unless the options say otherwise. */
export const open = (value: unknown, options: Partial<OpenEnvelopeOptions> = {}) =>
  openEnvelope(value, { replayCache: replayCache(), now: NOW, ...options })

/** Every code the frame decoders may yield. */
export const FRAME_ERROR_CODES = new Set([
  'ERR_FRAME_TOO_LARGE',
  'ERR_FRAME_TRUNCATED',
  'ERR_INVALID_VARINT',
  'ERR_INVALID_UTF8',
  'ERR_INVALID_JSON',
  'ERR_STREAM_FAILED',
  'ERR_ABORTED',
])

export async function collect(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options?: DecodeFramesOptions,
): Promise<DecodedFrame[]> {
  const out: DecodedFrame[] = []
  for await (const frame of decodeFrames(chunks, options)) {
    out.push(frame)
  }
  return out
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/** Splits `bytes` at the given cut points (any order, out-of-range ones ignored). */
export function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.filter((cut) => cut > 0 && cut < bytes.length))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const point of points) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  chunks.push(bytes.subarray(start))
  return chunks
}

export function codes(frames: readonly DecodedFrame[]): string[] {
  return frames.map((frame) => (frame.ok ? 'ok' : frame.error.code))
}
