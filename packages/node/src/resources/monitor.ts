/**
 * Resource monitoring: a reading of the machine every `resources.intervalMs` (5 s), turned into
 * CPU shares over the period since the previous one. The period and the sampler are injectable, so
 * tests feed it readings and never burn CPU.
 */
import { DEFAULT_RESOURCES_INTERVAL_MS, FIRST_SNAPSHOT_MS } from './constants.js'
import type { RawSample, ResourceSnapshot, Sampler } from './types.js'

export interface ResourceMonitorInit {
  readonly sampler: Sampler
  /** @default 5000 */
  readonly intervalMs?: number
  /** Wall clock for snapshots' `at`. @default Date.now */
  readonly now?: () => number
  /** Called with every snapshot. */
  readonly onSnapshot?: (snapshot: ResourceSnapshot) => void
  /** Called when a reading fails (the next period tries again). */
  readonly onError?: (err: unknown) => void
}

/** The CPU shares between two readings, each 0 to 1. */
export function cpuShares(
  before: RawSample,
  after: RawSample,
): { machine: number; node: number; others: number; periodMs: number } {
  const periodMs = Math.max(0, after.at - before.at)
  const total = after.machineCpu.totalMs - before.machineCpu.totalMs
  const busy = after.machineCpu.busyMs - before.machineCpu.busyMs
  const machine = total > 0 ? clamp01(busy / total) : 0
  // The process's CPU time against what all cores could have given in the period.
  const capacity = periodMs * after.cores
  const node = capacity > 0 ? clamp01((after.processCpuMs - before.processCpuMs) / capacity) : 0
  // The two clocks are read a moment apart: the node's share may come out a little above the machine's.
  return { machine: Math.max(machine, node), node, others: clamp01(machine - node), periodMs }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0
}

/** Turns a pair of readings into a snapshot. */
export function snapshotOf(before: RawSample, after: RawSample, at: number): ResourceSnapshot {
  const { machine, node, others, periodMs } = cpuShares(before, after)
  return {
    at,
    periodMs,
    cores: after.cores,
    cpu: { machine, node, others },
    memory: {
      totalBytes: after.memory.totalBytes,
      availableBytes: after.memory.availableBytes,
      nodeBytes: after.memory.rssBytes,
    },
    load: after.loadAverage,
    disk: after.disk,
    battery: after.battery,
    batterySupport: after.batterySupport,
  }
}

export class ResourceMonitor {
  readonly #init: ResourceMonitorInit
  #intervalMs: number
  #timer: NodeJS.Timeout | undefined
  #first: NodeJS.Timeout | undefined
  #previous: RawSample | undefined
  #last: ResourceSnapshot | undefined
  #measuring: Promise<ResourceSnapshot | undefined> | undefined

  constructor(init: ResourceMonitorInit) {
    this.#init = init
    this.#intervalMs = init.intervalMs ?? DEFAULT_RESOURCES_INTERVAL_MS
  }

  /** The latest snapshot; undefined until two readings were taken. */
  get last(): ResourceSnapshot | undefined {
    return this.#last
  }

  get intervalMs(): number {
    return this.#intervalMs
  }

  /**
   * Takes the first reading now, the second within a second (a first snapshot soon after start),
   * and one every period after.
   */
  start(): void {
    this.stop()
    void this.measure()
    this.#first = setTimeout(() => void this.measure(), Math.min(this.#intervalMs, FIRST_SNAPSHOT_MS))
    this.#first.unref()
    this.#timer = setInterval(() => void this.measure(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearTimeout(this.#first)
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** A new period; a running monitor starts counting it now. */
  configure(intervalMs: number): void {
    if (intervalMs === this.#intervalMs) return
    this.#intervalMs = intervalMs
    if (this.#timer !== undefined) {
      clearInterval(this.#timer)
      this.#timer = setInterval(() => void this.measure(), intervalMs)
      this.#timer.unref()
    }
  }

  /**
   * Takes a reading now; resolves with the snapshot over the period since the previous reading
   * (undefined for the very first). Concurrent calls share one reading.
   */
  measure(): Promise<ResourceSnapshot | undefined> {
    this.#measuring ??= this.#measure().finally(() => {
      this.#measuring = undefined
    })
    return this.#measuring
  }

  async #measure(): Promise<ResourceSnapshot | undefined> {
    let sample: RawSample
    try {
      sample = await this.#init.sampler.sample()
    } catch (err) {
      this.#init.onError?.(err)
      return undefined
    }
    const previous = this.#previous
    this.#previous = sample
    if (previous === undefined) return undefined
    const snapshot = snapshotOf(previous, sample, (this.#init.now ?? Date.now)())
    this.#last = snapshot
    this.#init.onSnapshot?.(snapshot)
    return snapshot
  }
}
