/**
 * Reading the real machine: CPU times of every core (`os.cpus()`), this process's CPU time (all its
 * threads), memory, load, the data directory's file system and size, and the battery. The
 * expensive readings (walking the data directory, starting `pmset`) run in the background at their
 * own slower pace; a sample uses the latest of them.
 */
import { statfs } from 'node:fs/promises'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import { batterySupport, readBattery } from './battery.js'
import { BATTERY_INTERVAL_MS, DISK_SCAN_INTERVAL_MS } from './constants.js'
import { directorySize } from './disk-usage.js'
import type { BatteryState, RawSample, Sampler } from './types.js'

export interface SystemSamplerInit {
  /** The data directory, whose file system and size are measured. */
  readonly dataDir: string
  /**
   * Bytes inside the data directory that are free for reuse (a store's free pages): not counted
   * as used.
   */
  readonly reusableBytes?: () => number
  /** @default process.platform */
  readonly platform?: NodeJS.Platform
  /** @default DISK_SCAN_INTERVAL_MS (60 s) */
  readonly diskScanIntervalMs?: number
  /** @default BATTERY_INTERVAL_MS (30 s) */
  readonly batteryIntervalMs?: number
}

/** A slow reading kept fresh in the background. */
class Periodic<T> {
  value: T | undefined
  #at = Number.NEGATIVE_INFINITY
  #running: Promise<void> | undefined

  constructor(
    readonly read: () => Promise<T>,
    readonly intervalMs: number,
  ) {}

  /** Starts a reading if one is due; resolves once the first one exists. */
  refresh(): Promise<void> {
    const now = performance.now()
    if (this.#running === undefined && now - this.#at >= this.intervalMs) {
      this.#at = now
      this.#running = this.read().then(
        (value) => {
          this.value = value
          this.#running = undefined
        },
        () => {
          this.#running = undefined
        },
      )
    }
    return this.value === undefined ? (this.#running ?? Promise.resolve()) : Promise.resolve()
  }
}

/** Samples the machine the node runs on. */
export function systemSampler(init: SystemSamplerInit): Sampler {
  const platform = init.platform ?? process.platform
  const support = batterySupport(platform)
  const dataDir = new Periodic(
    () => directorySize(init.dataDir).then((s) => s.bytes),
    init.diskScanIntervalMs ?? DISK_SCAN_INTERVAL_MS,
  )
  const battery = new Periodic<BatteryState | null>(
    () => readBattery(platform).then((b) => b ?? null),
    init.batteryIntervalMs ?? BATTERY_INTERVAL_MS,
  )
  return {
    async sample(): Promise<RawSample> {
      const slow = Promise.all([dataDir.refresh(), support === 'supported' ? battery.refresh() : undefined])
      let busyMs = 0
      let totalMs = 0
      const cores = cpus()
      for (const core of cores) {
        const t = core.times
        const busy = t.user + t.nice + t.sys + t.irq
        busyMs += busy
        totalMs += busy + t.idle
      }
      const usage = process.cpuUsage()
      const load = loadavg()
      const fs = await statfs(init.dataDir).catch(() => undefined)
      await slow
      const used =
        dataDir.value === undefined ? undefined : Math.max(0, dataDir.value - (init.reusableBytes?.() ?? 0))
      return {
        at: performance.now(),
        machineCpu: { busyMs, totalMs },
        processCpuMs: (usage.user + usage.system) / 1000,
        cores: Math.max(1, cores.length),
        memory: { totalBytes: totalmem(), availableBytes: freemem(), rssBytes: process.memoryUsage.rss() },
        loadAverage: [load[0] ?? 0, load[1] ?? 0, load[2] ?? 0],
        disk:
          fs === undefined
            ? undefined
            : {
                freeBytes: fs.bavail * fs.bsize,
                totalBytes: fs.blocks * fs.bsize,
                ...(used === undefined ? {} : { dataDirBytes: used }),
              },
        battery: battery.value ?? undefined,
        batterySupport: support,
      }
    },
  }
}
