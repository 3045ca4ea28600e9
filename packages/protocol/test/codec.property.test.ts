import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeFrame } from '../src/codec.js'
import { collect, concat, FRAME_ERROR_CODES, split } from './helpers.js'

// Every run must end, never throw, and describe every problem with a known code; a fatal error,
// if any, is the last thing yielded.
async function decodesSafely(chunks: Uint8Array[], maxFrameBytes?: number) {
  const frames = await collect(chunks, maxFrameBytes === undefined ? {} : { maxFrameBytes })
  frames.forEach((frame, index) => {
    if (!frame.ok) {
      expect(FRAME_ERROR_CODES.has(frame.error.code)).toBe(true)
      expect(frame.error).toBeInstanceOf(Error)
      if (frame.fatal) {
        expect(index).toBe(frames.length - 1)
      }
    }
  })
  return frames
}

const cuts = fc.array(fc.nat({ max: 4096 }), { maxLength: 8 })
const jsonValues = fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 6 })

describe('frame decoder properties', () => {
  it('round-trips any JSON values however the stream is chunked', async () => {
    await fc.assert(
      fc.asyncProperty(jsonValues, cuts, async (values, points) => {
        const stream = concat(values.map((value) => encodeFrame(value)))
        const frames = await decodesSafely(split(stream, points))
        expect(frames.map((frame) => frame.ok && frame.value)).toEqual(
          values.map((value) => JSON.parse(JSON.stringify(value))),
        )
      }),
      { numRuns: 300 },
    )
  })

  it('never throws on random bytes and codes every error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2048 }),
        cuts,
        fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
        async (bytes, points, max) => {
          await decodesSafely(split(bytes, points), max)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('never throws on mutated valid streams, and keeps frames before the damage', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        bytes: fc.uint8Array({ maxLength: 8 }),
      }),
      fc.record({
        kind: fc.constant('delete' as const),
        at: fc.nat(),
        count: fc.integer({ min: 1, max: 8 }),
      }),
    )
    await fc.assert(
      fc.asyncProperty(
        jsonValues,
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        cuts,
        async (values, edits, points) => {
          const frames = values.map((value) => encodeFrame(value))
          let stream = concat(frames)
          let firstDamage = stream.length
          for (const edit of edits) {
            const at = stream.length === 0 ? 0 : edit.at % (stream.length + 1)
            firstDamage = Math.min(firstDamage, at)
            if (edit.kind === 'flip' && at < stream.length) {
              stream = stream.slice()
              stream[at] = edit.byte
            } else if (edit.kind === 'cut') {
              stream = stream.subarray(0, at)
            } else if (edit.kind === 'insert') {
              stream = concat([stream.subarray(0, at), edit.bytes, stream.subarray(at)])
            } else if (edit.kind === 'delete') {
              stream = concat([stream.subarray(0, at), stream.subarray(at + edit.count)])
            }
          }
          const decoded = await decodesSafely(split(stream, points))
          // Frames that end before the first edit are untouched and must come out intact.
          let end = 0
          values.forEach((value, index) => {
            end += (frames[index] as Uint8Array).length
            if (end <= firstDamage && end <= stream.length) {
              expect(decoded[index]).toMatchObject({ ok: true, value: JSON.parse(JSON.stringify(value)) })
            }
          })
        },
      ),
      { numRuns: 500 },
    )
  })
})
