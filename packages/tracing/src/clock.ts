/**
 * The spans' clock: wall-clock milliseconds (with fractions) from the monotonic clock plus an
 * offset to the wall clock. The offset is checked once a second and moves only when the two
 * clocks drifted a millisecond apart, so spans of one process agree to the microsecond while they
 * stay anchored to the wall clock (other nodes' spans are compared against it) across clock
 * adjustments and a laptop's sleep.
 */

const RESYNC_MS = 1_000

let offset = Date.now() - performance.now()
let syncedAt = performance.now()

/** The wall-clock time of a monotonic instant (a `performance.now()` value of this process). */
export function wallOf(monotonic: number): number {
  if (monotonic - syncedAt >= RESYNC_MS) {
    const now = performance.now()
    const next = Date.now() - now
    // `Date.now()` counts whole milliseconds: a difference below one is its rounding, not drift.
    if (Math.abs(next - offset) >= 1) offset = next
    syncedAt = now
  }
  return monotonic + offset
}
