/**
 * The event loop's delay, measured once per process: every node in a process shares one
 * `monitorEventLoopDelay` histogram (a process with a hundred nodes would otherwise wake a hundred
 * native timers every 20 ms to measure the same loop). Each reading is the 99th percentile since
 * the previous reading by any node, then the histogram starts over.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks'

/** Resolution of the monitor, in milliseconds. */
const RESOLUTION_MS = 20
const NS_PER_MS = 1e6

let histogram: IntervalHistogram | undefined
let users = 0

/** A handle on the shared monitor; `release` when done (the last one stops it). */
export interface LoopDelay {
  /** p99 delay in milliseconds since the previous reading (0 before the monitor has samples). */
  read(): number
  release(): void
}

export function loopDelay(): LoopDelay {
  if (histogram === undefined) {
    histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
    histogram.enable()
  }
  users++
  let released = false
  return {
    read() {
      const h = histogram
      // No samples yet: the percentiles of an empty histogram mean nothing.
      if (h === undefined || h.count === 0) return 0
      const ms = h.percentile(99) / NS_PER_MS
      h.reset()
      return ms
    },
    release() {
      if (released) return
      released = true
      users--
      if (users === 0) {
        histogram?.disable()
        histogram = undefined
      }
    },
  }
}
