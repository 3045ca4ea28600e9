import * as lp from 'it-length-prefixed'
import { Uint8ArrayList } from 'uint8arraylist'
import { describe, expect, it } from 'vitest'
import { decodeFrames, encodeFrame, encodeJsonFrame, frameDecoder } from '../src/codec.js'
import { DEFAULT_MAX_FRAME_BYTES } from '../src/constants.js'
import { FrameTooLargeError, InvalidJsonValueError, InvalidOptionError } from '../src/errors.js'
import { codes, collect, concat } from './helpers.js'

const utf8 = (text: string) => new TextEncoder().encode(text)
const frameOf = (body: Uint8Array) => concat([Uint8Array.of(body.length), body])

describe('encodeFrame', () => {
  it('writes an unsigned-varint length and the UTF-8 JSON body', () => {
    expect(Buffer.from(encodeFrame({ a: 'é' })).toString('hex')).toBe('0a7b2261223a22c3a9227d')
    const long = encodeFrame('x'.repeat(300))
    // 302 body bytes (quotes included) = 0xae 0x02 as a varint.
    expect([long[0], long[1], long.length]).toEqual([0xae, 0x02, 304])
  })

  it('refuses bodies over maxFrameBytes and values JSON cannot carry', () => {
    expect(() => encodeFrame('x'.repeat(100), { maxFrameBytes: 101 })).toThrow(FrameTooLargeError)
    expect(encodeFrame('x'.repeat(99), { maxFrameBytes: 101 }).length).toBe(102)
    expect(() => encodeFrame(undefined)).toThrow(InvalidJsonValueError)
    expect(() => encodeFrame({ n: 1n })).toThrow(InvalidJsonValueError)
  })

  it('frames JSON text as it is, with the same limit', () => {
    expect(encodeJsonFrame('{"b": 1, "a": "é"}')).toEqual(
      concat([Uint8Array.of(19), utf8('{"b": 1, "a": "é"}')]),
    )
    expect(() => encodeJsonFrame('"toolong"', { maxFrameBytes: 8 })).toThrow(FrameTooLargeError)
  })

  it('validates maxFrameBytes', () => {
    for (const maxFrameBytes of [0, -1, 1.5, Number.NaN, 2 ** 40]) {
      expect(() => encodeFrame(1, { maxFrameBytes })).toThrow(InvalidOptionError)
      expect(() => decodeFrames([], { maxFrameBytes })).toThrow(InvalidOptionError)
    }
  })
})

describe('decodeFrames', () => {
  const values = [{ type: 'task.request', n: 1 }, [1, 2, 3], 'é😀', null, { big: 'y'.repeat(5000) }]
  const stream = concat(values.map((value) => encodeFrame(value)))

  it('decodes frames from one chunk, from single bytes and from Uint8ArrayLists', async () => {
    const whole = await collect([stream])
    expect(whole.map((frame) => frame.ok && frame.value)).toEqual(values)
    const bytes = await collect([...stream].map((byte) => Uint8Array.of(byte)))
    expect(bytes.map((frame) => frame.ok && frame.value)).toEqual(values)
    const lists = await collect(
      (async function* () {
        yield new Uint8ArrayList(stream.subarray(0, 7), stream.subarray(7, 5000)) as unknown as Uint8Array
        yield new Uint8ArrayList(stream.subarray(5000)) as unknown as Uint8Array
      })(),
    )
    expect(lists.map((frame) => frame.ok && frame.value)).toEqual(values)
  })

  it('reports each body size', async () => {
    const [frame] = await collect([encodeFrame({ a: 1 })])
    expect(frame).toMatchObject({ ok: true, value: { a: 1 }, byteLength: 7 })
    expect(frame?.ok === true && new TextDecoder().decode(frame.body)).toBe('{"a":1}')
  })

  it('reads frames written by it-length-prefixed, and it reads ours', async () => {
    const bodies = values.map((value) => utf8(JSON.stringify(value)))
    const theirs: Uint8Array[] = []
    for await (const chunk of lp.encode(bodies)) {
      theirs.push(chunk.slice())
    }
    expect((await collect(theirs)).map((frame) => frame.ok && frame.value)).toEqual(values)
    const ours: unknown[] = []
    for await (const body of lp.decode([stream])) {
      ours.push(JSON.parse(new TextDecoder().decode(body.subarray())))
    }
    expect(ours).toEqual(values)
  })

  it('refuses an oversize frame from its prefix, before reading the body', async () => {
    let pulls = 0
    async function* source() {
      pulls++
      // A 5 MiB announcement: 0x80 0x80 0xc0 0x02.
      yield Uint8Array.of(0x80, 0x80, 0xc0, 0x02)
      pulls++
      yield new Uint8Array(1024)
      pulls++
    }
    const frames = await collect(source())
    expect(frames).toHaveLength(1)
    expect(frames[0]).toMatchObject({ ok: false, fatal: true, error: { code: 'ERR_FRAME_TOO_LARGE' } })
    expect(frames[0]?.ok === false && frames[0].error.message).toContain(
      `${DEFAULT_MAX_FRAME_BYTES}-byte limit`,
    )
    expect(pulls).toBe(1)
  })

  it('refuses as soon as a partial prefix already exceeds the limit', async () => {
    const decoder = frameDecoder({ maxFrameBytes: 100 })
    // 0xe5 alone says "at least 101, more to come".
    expect(codes(decoder.push(Uint8Array.of(0xe5)))).toEqual(['ERR_FRAME_TOO_LARGE'])
    expect(decoder.push(Uint8Array.of(0x00))).toEqual([])
  })

  it('accepts a frame of exactly maxFrameBytes', async () => {
    const frame = encodeFrame('z'.repeat(98))
    expect(codes(await collect([frame], { maxFrameBytes: 100 }))).toEqual(['ok'])
    expect(codes(await collect([frame], { maxFrameBytes: 99 }))).toEqual(['ERR_FRAME_TOO_LARGE'])
  })

  it('reports a stream cut inside a body or inside a prefix as truncated', async () => {
    const frame = encodeFrame({ hello: 'world' })
    expect(codes(await collect([frame.subarray(0, frame.length - 1)]))).toEqual(['ERR_FRAME_TRUNCATED'])
    expect(codes(await collect([frame, Uint8Array.of(0x81)]))).toEqual(['ok', 'ERR_FRAME_TRUNCATED'])
    expect(codes(await collect([]))).toEqual([])
  })

  it('refuses non-minimal and overlong varints', async () => {
    expect(codes(await collect([Uint8Array.of(0x81, 0x00, 0x7b)]))).toEqual(['ERR_INVALID_VARINT'])
    expect(codes(await collect([new Uint8Array(9).fill(0x80)]))).toEqual(['ERR_INVALID_VARINT'])
  })

  it('skips a body that is not UTF-8 or not JSON and goes on', async () => {
    const frames = await collect([
      frameOf(Uint8Array.of(0x22, 0xff, 0x22)),
      frameOf(utf8('{"a":')),
      frameOf(new Uint8Array(0)),
      frameOf(utf8('\uFEFF{}')),
      frameOf(utf8('{} {}')),
      encodeFrame({ still: 'here' }),
    ])
    expect(codes(frames)).toEqual([
      'ERR_INVALID_UTF8',
      'ERR_INVALID_JSON',
      'ERR_INVALID_JSON',
      'ERR_INVALID_JSON',
      'ERR_INVALID_JSON',
      'ok',
    ])
    expect(frames.every((frame) => frame.ok || !frame.fatal)).toBe(true)
    expect(frames[5]).toMatchObject({ ok: true, value: { still: 'here' } })
  })

  it('turns a failing source into a coded error instead of throwing', async () => {
    const reset = new Error('stream reset')
    const frames = await collect(
      (async function* () {
        yield encodeFrame(1)
        throw reset
      })(),
    )
    expect(codes(frames)).toEqual(['ok', 'ERR_STREAM_FAILED'])
    expect(frames[1]).toMatchObject({ fatal: true, error: { cause: reset } })
  })

  it('stops with ERR_ABORTED while waiting on a silent source', async () => {
    const controller = new AbortController()
    let closed = false
    async function* silent() {
      try {
        yield encodeFrame('first')
        await new Promise(() => {})
      } finally {
        closed = true
      }
    }
    const frames: string[] = []
    for await (const frame of decodeFrames(silent(), { signal: controller.signal })) {
      frames.push(frame.ok ? 'ok' : frame.error.code)
      setTimeout(() => controller.abort(), 5)
    }
    expect(frames).toEqual(['ok', 'ERR_ABORTED'])
    // Its pending next() never settles, so closing is requested but not awaited.
    expect(closed).toBe(false)
  })

  it('stops with ERR_ABORTED between chunks and when aborted up front, closing the source', async () => {
    const controller = new AbortController()
    let closed = false
    async function* source() {
      try {
        yield encodeFrame(1)
        yield encodeFrame(2)
      } finally {
        closed = true
      }
    }
    const frames: string[] = []
    for await (const frame of decodeFrames(source(), { signal: controller.signal })) {
      frames.push(frame.ok ? 'ok' : frame.error.code)
      controller.abort()
    }
    expect(frames).toEqual(['ok', 'ERR_ABORTED'])
    expect(closed).toBe(true)
    expect(codes(await collect([encodeFrame(1)], { signal: AbortSignal.abort() }))).toEqual(['ERR_ABORTED'])
  })

  it('closes the source when the consumer stops early', async () => {
    let closed = false
    async function* source() {
      try {
        yield concat([encodeFrame(1), encodeFrame(2)])
        yield encodeFrame(3)
      } finally {
        closed = true
      }
    }
    for await (const frame of decodeFrames(source())) {
      expect(frame.ok).toBe(true)
      break
    }
    expect(closed).toBe(true)
  })
  it('ignores a source that fails to close', async () => {
    const frames = [encodeFrame(1), encodeFrame(2)]
    const source: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ done: false, value: frames.shift() ?? encodeFrame(0) }),
        return: () => {
          throw new Error('cannot close')
        },
      }),
    }
    for await (const frame of decodeFrames(source)) {
      expect(frame).toMatchObject({ ok: true, value: 1 })
      break
    }
  })
})

describe('frameDecoder', () => {
  it('returns the frames each push completes and nothing after a fatal error', () => {
    const decoder = frameDecoder()
    const frame = encodeFrame({ a: 1 })
    expect(decoder.push(frame.subarray(0, 3))).toEqual([])
    expect(decoder.push(concat([frame.subarray(3), frame]))).toHaveLength(2)
    expect(codes(decoder.push(Uint8Array.of(0x80, 0x00)))).toEqual(['ERR_INVALID_VARINT'])
    expect(decoder.push(frame)).toEqual([])
    expect(decoder.end()).toBeUndefined()
  })

  it('reports truncation at end()', () => {
    const decoder = frameDecoder()
    decoder.push(Uint8Array.of(5, 0x7b))
    expect(decoder.end()).toMatchObject({ ok: false, fatal: true, error: { code: 'ERR_FRAME_TRUNCATED' } })
  })
})
