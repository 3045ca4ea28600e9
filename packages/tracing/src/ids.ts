/**
 * Trace and span ids: random bytes from the operating system, drawn a few kilobytes at a time and
 * handed out as hex. One `randomFillSync` per 256 spans instead of a call per id keeps an id at a
 * slice of a buffer, and the ids stay as unpredictable as the kernel's randomness.
 */
import { randomFillSync } from 'node:crypto'

const POOL_BYTES = 4096
const pool = Buffer.allocUnsafe(POOL_BYTES)
let used = POOL_BYTES

function hex(bytes: number, zero: string): string {
  for (;;) {
    if (used + bytes > POOL_BYTES) {
      randomFillSync(pool)
      used = 0
    }
    const id = pool.toString('hex', used, used + bytes)
    used += bytes
    // All zeros is the invalid id of W3C Trace Context: drawn again (once in 2^64 spans).
    if (id !== zero) return id
  }
}

const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)

/** A new trace id: 16 random bytes as 32 lowercase hex digits, never all zero. */
export function newTraceId(): string {
  return hex(16, ZERO_TRACE)
}

/** A new span id: 8 random bytes as 16 lowercase hex digits, never all zero. */
export function newSpanId(): string {
  return hex(8, ZERO_SPAN)
}
