// Small byte helpers shared by the modules of this package (not exported from the package).

/** Concatenates byte arrays (and plain number arrays for fixed headers). */
export function concatBytes(...parts: ReadonlyArray<Uint8Array | readonly number[]>): Uint8Array {
  let length = 0
  for (const p of parts) length += p.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/**
 * Compares two byte arrays in time that depends only on their lengths, so comparing secrets
 * leaks nothing about where they differ.
 */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** True when `bytes` starts with `prefix`. */
export function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false
  return true
}

/** A plain `Uint8Array` view of a Node `Buffer` (no copy), so callers never see Buffer-only behaviour. */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** True for a `Uint8Array` (including Node Buffers) of exactly `length` bytes. */
export function isBytes(value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length)
}

/** `Uint8Array(12)`, `string`, `null`...: what a wrong argument was, for error messages. */
export function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`
  if (value === null) return 'null'
  return typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value
}
