/**
 * Turns what the node does into history: task outcomes and latencies counted as they happen,
 * peers, load and active alerts read at each sample; one point every `sampleMs`, written to the
 * store and handed to the live feed. Runs for as long as the dashboard does, whether or not a page
 * is open, so the history has no holes while nobody looks.
 */
import type { DashboardSource, SourceEvent } from '../source/types.js'
import type { HistoryPoint } from '../wire.js'
import { emptyHistogram, type Histogram, observe, quantile } from './histogram.js'
import type { HistoryStore, Sample } from './store.js'

export interface HistoryRecorderInit {
  readonly source: DashboardSource
  readonly store: HistoryStore
  readonly sampleMs: number
  /** Each point as it is written. */
  readonly onSample: (point: HistoryPoint) => void
  readonly onError: (err: unknown) => void
  /** How often old points are dropped. */
  readonly pruneMs: number
  readonly now?: () => number
}

export class HistoryRecorder {
  readonly #init: HistoryRecorderInit
  readonly #now: () => number
  readonly #stop = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #pruneTimer: NodeJS.Timeout | undefined
  #intervalStart: number
  #counts = { completed: 0, failed: 0, failovers: 0, served: 0 }
  #latency: Histogram = emptyHistogram()

  constructor(init: HistoryRecorderInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
    this.#intervalStart = this.#now()
  }

  start(): void {
    const { source, sampleMs, pruneMs, store } = this.#init
    source.subscribe((event) => this.#count(event), this.#stop.signal)
    this.#intervalStart = this.#now()
    this.#timer = setInterval(() => this.sample(), sampleMs)
    this.#timer.unref()
    this.#guard(() => store.prune(this.#now()))
    this.#pruneTimer = setInterval(() => this.#guard(() => store.prune(this.#now())), pruneMs)
    this.#pruneTimer.unref()
  }

  /** Closes the current interval: writes its point and starts the next. */
  sample(): HistoryPoint | undefined {
    const { source, store } = this.#init
    const at = this.#intervalStart
    this.#intervalStart = this.#now()
    const self = source.self()
    const sample: Sample = {
      at,
      ...this.#counts,
      peers: source.peers().filter((p) => p.status === 'connected').length,
      running: self.load.running,
      queued: self.load.queued,
      alerts: source.alerts().filter((a) => a.active).length,
      latency: this.#latency,
    }
    this.#counts = { completed: 0, failed: 0, failovers: 0, served: 0 }
    this.#latency = emptyHistogram()
    if (!this.#guard(() => store.add(sample))) return undefined
    const { latency, ...rest } = sample
    const p50 = quantile(latency, 0.5)
    const p95 = quantile(latency, 0.95)
    const p99 = quantile(latency, 0.99)
    const point: HistoryPoint = {
      ...rest,
      ...(p50 === undefined ? {} : { p50Ms: p50 }),
      ...(p95 === undefined ? {} : { p95Ms: p95 }),
      ...(p99 === undefined ? {} : { p99Ms: p99 }),
    }
    this.#init.onSample(point)
    return point
  }

  stop(): void {
    this.#stop.abort()
    clearInterval(this.#timer)
    clearInterval(this.#pruneTimer)
  }

  #count(event: SourceEvent): void {
    if (event.type === 'alert') {
      this.#guard(() => this.#init.store.addAlert(event.alert))
      return
    }
    if (event.type !== 'flow') return
    const flow = event.flow
    if (flow.kind === 'answered') {
      this.#counts.completed++
      if (flow.latencyMs !== undefined) observe(this.#latency, flow.latencyMs)
    } else if (flow.kind === 'failed') this.#counts.failed++
    else if (flow.kind === 'failover') this.#counts.failovers++
    else if (flow.kind === 'returned') this.#counts.served++
  }

  /** A failing disk must not take the node down: the error is reported, the point is lost. */
  #guard(fn: () => void): boolean {
    try {
      fn()
      return true
    } catch (err) {
      this.#init.onError(err)
      return false
    }
  }
}
