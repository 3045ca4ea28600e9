import { describe, expect, it } from 'vitest'
import { float32ToShortestNumbers, shortestFloat32 } from '../src/embed/float32-decimal.js'

/** The obvious (slow) definition: the first precision whose nearest decimal reads back as `x`. */
function byToPrecision(x: number): number {
  if (x === 0) return x // keeps -0, which toPrecision would print as "0"
  for (let p = 1; p <= 9; p++) {
    const y = Number(x.toPrecision(p))
    if (Math.fround(y) === x) return y
  }
  throw new Error(`${x} is not a float32 value`)
}

/** Deterministic float32 values from every part of the range, by their bit patterns. */
function float32Samples(count: number): Float32Array {
  const bits = new Uint32Array(count)
  let s = 0x9e3779b9
  for (let i = 0; i < count; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    bits[i] = s >>> 0
  }
  return new Float32Array(bits.buffer)
}

describe('shortestFloat32', () => {
  it('gives the shortest decimal that reads back as the same float32, across the whole range', () => {
    let checked = 0
    for (const x of float32Samples(200_000)) {
      if (!Number.isFinite(x)) continue
      const y = shortestFloat32(x)
      if (Math.fround(y) !== x || y !== byToPrecision(x)) expect.fail(`${x} gave ${y}`)
      checked++
    }
    expect(checked).toBeGreaterThan(190_000)
  })

  it('handles the edges: zeros, extremes, subnormals, non-finite values', () => {
    const cases = [
      0,
      -0,
      1,
      -1,
      0.1,
      2 ** -149, // smallest subnormal
      2 ** -126, // smallest normal
      Math.fround(3.4028234663852886e38), // largest float32
      Math.fround(0.03408772870898247),
      Math.fround(-1e-7),
    ].map(Math.fround)
    for (const x of cases) {
      const y = shortestFloat32(x)
      expect(Math.fround(y)).toBe(x)
      expect(y).toBe(byToPrecision(x))
    }
    expect(Object.is(shortestFloat32(-0), -0)).toBe(true)
    expect(shortestFloat32(Math.fround(0.03408772870898247))).toBe(0.03408773)
    expect(shortestFloat32(Number.NaN)).toBeNaN()
    expect(shortestFloat32(Number.NEGATIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY)
  })

  it('converts a whole vector, which Float32Array.from turns back into the same bits', () => {
    const v = float32Samples(4096).map((x) => (Number.isFinite(x) ? x : 0))
    const numbers = float32ToShortestNumbers(v)
    expect(numbers).toHaveLength(v.length)
    expect(Buffer.from(Float32Array.from(numbers).buffer).equals(Buffer.from(v.buffer))).toBe(true)
  })
})
