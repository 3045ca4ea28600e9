/**
 * Float32 values as the shortest decimals that read back as the same float32.
 *
 * `Array.from(float32Array)` widens each value to a double, which JSON then prints with up to 17
 * significant digits (`0.03408772870898247`) although only 24 bits of it carry information. The
 * shortest decimal that rounds back to the same float32 has at most 9 significant digits (most
 * often 7 or 8), so the JSON is about 40 % smaller and `Math.fround` (or `Float32Array.from`) of
 * the number gives back the exact float32 value.
 */

/** Powers of ten exactly representable as doubles: 10^0 … 10^22. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i)

/**
 * The double nearest the p-significant-digit decimal closest to `a` (> 0), whose decimal exponent
 * is `e`. Scaling by an exact power of ten and dividing back is correctly rounded and costs a few
 * nanoseconds against ~400 ns for `Number(a.toPrecision(p))`; the caller checks the round trip, so
 * a rare off-by-one digit from rounding the product only costs one more digit, never a wrong value.
 */
function nearest(a: number, e: number, p: number): number {
  const k = p - 1 - e
  if (k >= 0) return k <= 22 ? Math.round(a * POW10[k]!) / POW10[k]! : Number(a.toPrecision(p))
  return -k <= 22 ? Math.round(a / POW10[-k]!) * POW10[-k]! : Number(a.toPrecision(p))
}

/**
 * The number with the fewest significant digits (at most 9) that `Math.fround` maps back to `x`,
 * which must be a float32 value. Non-finite values and zeros are returned as they are.
 */
export function shortestFloat32(x: number): number {
  const a = Math.abs(x)
  if (a === 0 || !Number.isFinite(a)) return x
  // Decimal exponent: a loop of comparisons beats Math.log10 for the values embeddings hold.
  let e = -1
  if (a < 0.1) {
    e = -2
    for (let t = 0.01; a < t && e > -46; t /= 10) e--
  } else {
    for (let t = 1; a >= t && e < 39; t *= 10) e++
  }
  // Nearest p-digit decimals only get closer as p grows, so the first p that round-trips is the
  // shortest; start at 7 (where most float32 values land) and walk down or up from there.
  let y = nearest(a, e, 7)
  if (Math.fround(y) === a) {
    for (let p = 6; p >= 1; p--) {
      const z = nearest(a, e, p)
      if (Math.fround(z) !== a) break
      y = z
    }
  } else {
    y = nearest(a, e, 8)
    if (Math.fround(y) !== a) y = nearest(a, e, 9)
    // 9 digits always suffice; keep the exact value should that ever not hold.
    if (Math.fround(y) !== a) y = a
  }
  return x < 0 ? -y : y
}

/** `Array.from(v)`, each value written with the fewest digits that keep it the same float32. */
export function float32ToShortestNumbers(v: Float32Array): number[] {
  const out = new Array<number>(v.length)
  for (let i = 0; i < v.length; i++) out[i] = shortestFloat32(v[i]!)
  return out
}
