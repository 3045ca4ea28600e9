/**
 * A node's resources: it measures the machine every `resources.intervalMs` and keeps within what
 * its owner lends (`limits.*`, changeable while it runs).
 *
 * - **CPU** (`limits.cpu`): fewer tasks at once (the engine's slots: the limit's cores, rounded
 *   up), fewer threads per model (the engine spreads the limit's cores over its backends), and a
 *   duty cycle that holds queued tasks back while the node has used more than its share.
 * - **Memory** (`limits.memory`): the engine's budget for loaded models (the limit less what the
 *   rest of the node uses), and no task starts while the node's resident memory is over the limit.
 * - **Disk** (`limits.disk`): the oldest stored results are deleted when the data directory takes
 *   more.
 * - **When** (`limits.idleOnly`, `limits.windows`, `limits.pauseOnBattery`): the node pauses, and
 *   its exchange refuses, hands back and announces (see `TaskExchange.setAvailability`).
 */
import { statfsSync } from 'node:fs'
import { availableParallelism, totalmem } from 'node:os'
import { defaultMemoryLimitBytes, type ResultStore, type TaskEngine } from '@p2p-ai/engine'
import type { ResourceFigures } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import { parseSize, sizeBytes } from '../config/size.js'
import type { NodeConfig } from '../config/types.js'
import { ANNOUNCED_CPU_STEP, ANNOUNCED_MEMORY_STEP, MODEL_BUDGET_STEP } from './constants.js'
import { CpuGate } from './cpu-gate.js'
import { PauseGovernor } from './governor.js'
import { ResourceMonitor } from './monitor.js'
import { describePause } from './pause-reasons.js'
import type { PauseReason, ResolvedLimits, ResourceSnapshot, ResourceStatus, Sampler } from './types.js'

/** The settings resources follow: the `resources` and `limits` sections, and the engine's concurrency. */
export interface ResourceSettings {
  readonly intervalMs: number
  readonly limits: NodeConfig['limits']
  /** `engine.concurrency`: the most tasks at once without a CPU limit. */
  readonly concurrency: number
}

export interface NodeResourcesInit {
  readonly engine: TaskEngine
  readonly sampler: Sampler
  /** The data directory (for a disk limit given as a share of its disk). */
  readonly dataDir: string
  /** The result stores in the data directory, which the disk limit trims, oldest records first. */
  readonly stores: () => readonly ResultStore[]
  readonly log: Logger
  readonly settings: ResourceSettings
  /** Wall clock. @default Date.now */
  readonly now?: () => number
  /** This process's CPU time in milliseconds, for the duty cycle. @default process.cpuUsage */
  readonly cpuMs?: () => number
  /** Run the duty cycle on a timer (tests tick it). @default true */
  readonly gateTimer?: boolean
  /** What peers should know changed: a new snapshot, a pause or a resume. */
  readonly onChange: (status: ResourceStatus, change: { readonly paused: boolean }) => void
}

export class NodeResources {
  readonly #init: NodeResourcesInit
  readonly #now: () => number
  readonly #monitor: ResourceMonitor
  readonly #governor: PauseGovernor
  readonly #gate: CpuGate
  #settings: ResourceSettings
  #limits: ResolvedLimits
  #reasons: readonly PauseReason[] = []
  #since: number
  #overMemory = false
  #overDisk = false
  #started = false

  constructor(init: NodeResourcesInit) {
    this.#init = init
    this.#now = init.now ?? Date.now
    this.#since = this.#now()
    this.#settings = init.settings
    this.#limits = this.#resolve(init.settings.limits)
    this.#monitor = new ResourceMonitor({
      sampler: init.sampler,
      intervalMs: init.settings.intervalMs,
      now: this.#now,
      onSnapshot: (snapshot) => this.#onSnapshot(snapshot),
      onError: (err) => init.log.debug({ err }, 'reading the machine failed'),
    })
    this.#governor = new PauseGovernor(governorSettings(init.settings.limits))
    const cpuMs =
      init.cpuMs ??
      (() => {
        const u = process.cpuUsage()
        return (u.user + u.system) / 1000
      })
    this.#gate = new CpuGate({
      cpuMs,
      ...(init.gateTimer === undefined ? {} : { timer: init.gateTimer }),
      onChange: () => this.#applyHold(),
    })
    this.#reasons = this.#governor.reasons(this.#now())
    this.#applyLimits()
  }

  /** Starts measuring (the first snapshot within a second) and applies the limits. */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#monitor.start()
    this.#gate.configure(this.#cpuCores())
    this.#notify(false)
  }

  stop(): void {
    this.#started = false
    this.#monitor.stop()
    this.#gate.stop()
  }

  /** New settings (a reloaded config file): applied at once. */
  configure(settings: ResourceSettings): void {
    this.#settings = settings
    this.#limits = this.#resolve(settings.limits)
    this.#monitor.configure(settings.intervalMs)
    this.#governor.configure(governorSettings(settings.limits))
    this.#applyLimits()
    if (this.#started) this.#gate.configure(this.#cpuCores())
    this.#evaluate()
  }

  /** Takes a reading now (and acts on it); resolves with the snapshot. */
  measure(): Promise<ResourceSnapshot | undefined> {
    return this.#monitor.measure()
  }

  /** The duty cycle, advanced by hand (tests without its timer). */
  get gate(): CpuGate {
    return this.#gate
  }

  status(): ResourceStatus {
    const memory = this.#init.engine.memory()
    return {
      snapshot: this.#monitor.last,
      limits: this.#limits,
      paused: this.#reasons.length > 0,
      pauseReasons: this.#reasons,
      since: this.#since,
      throttled: this.#gate.holding,
      overMemory: this.#overMemory,
      overDisk: this.#overDisk,
      models: { usedBytes: memory.usedBytes, limitBytes: memory.limitBytes },
    }
  }

  /** Why the node is paused, in words; undefined while it takes tasks. */
  get pausedBecause(): string | undefined {
    return this.#reasons.length === 0 ? undefined : describePause(this.#reasons)
  }

  /** What capability announcements carry (minor 4), rounded so that noise does not re-announce. */
  figures(): ResourceFigures | undefined {
    const s = this.#monitor.last
    const paused = this.#reasons.length > 0
    if (s === undefined && !paused) return undefined
    const step = (share: number): number =>
      Math.min(100, Math.round((share * 100) / ANNOUNCED_CPU_STEP) * ANNOUNCED_CPU_STEP)
    let free = s?.memory.availableBytes ?? 0
    const limit = this.#limits.memoryBytes
    if (limit !== undefined && s !== undefined) free = Math.min(free, Math.max(0, limit - s.memory.nodeBytes))
    return {
      cpu: s === undefined ? 0 : step(s.cpu.machine),
      nodeCpu: s === undefined ? 0 : step(s.cpu.node),
      memoryFree: Math.floor(free / ANNOUNCED_MEMORY_STEP) * ANNOUNCED_MEMORY_STEP,
      ...(paused ? { paused: true as const } : {}),
      ...(s?.battery?.onBattery === true ? { onBattery: true as const } : {}),
    }
  }

  #onSnapshot(snapshot: ResourceSnapshot): void {
    this.#governor.observe(snapshot)
    const limit = this.#limits.memoryBytes
    if (limit !== undefined) this.#fitModels(limit, snapshot.memory.nodeBytes)
    const overMemory = limit !== undefined && snapshot.memory.nodeBytes > limit
    if (overMemory !== this.#overMemory) {
      this.#overMemory = overMemory
      const log = this.#init.log
      if (overMemory)
        log.warn({ rss: snapshot.memory.nodeBytes, limit }, 'over the memory limit: no task starts')
      else log.info({ rss: snapshot.memory.nodeBytes, limit }, 'back within the memory limit')
      this.#applyHold()
    }
    this.#keepDiskLimit(snapshot)
    this.#evaluate(true)
  }

  /** Pauses or resumes as the governor says, and tells the node. */
  #evaluate(snapshot = false): void {
    const reasons = this.#governor.reasons(this.#now())
    const changed = reasons.length > 0 !== this.#reasons.length > 0
    const reasonsChanged = reasons.join() !== this.#reasons.join()
    this.#reasons = reasons
    if (changed) {
      this.#since = this.#now()
      if (reasons.length > 0) this.#init.log.info({ reasons }, `paused: ${describePause(reasons)}`)
      else this.#init.log.info('resumed: taking tasks from peers again')
    }
    if (this.#started && (snapshot || changed || reasonsChanged)) this.#notify(changed)
  }

  #notify(pausedChanged: boolean): void {
    this.#init.onChange(this.status(), { paused: pausedChanged })
  }

  /**
   * Models get what the rest of the node does not use of `limits.memory`: the engine's model budget
   * is the limit less the node's memory outside its models (its baseline and running tasks), so
   * that models alone never keep it over the limit. A smaller budget unloads idle models at once.
   */
  #fitModels(limit: number, rssBytes: number): void {
    const { engine } = this.#init
    const rest = Math.max(0, rssBytes - engine.memory().usedBytes)
    const budget = Math.max(1, limit - rest)
    if (Math.abs(budget - engine.limits.memoryBytes) >= MODEL_BUDGET_STEP)
      engine.setLimits({ memoryBytes: budget })
  }

  /** Deletes the oldest stored results while the data directory takes more than `limits.disk`. */
  #keepDiskLimit(snapshot: ResourceSnapshot): void {
    const limit = this.#limits.diskBytes
    const used = snapshot.disk?.dataDirBytes
    if (limit === undefined || used === undefined || used <= limit) {
      this.#overDisk = false
      return
    }
    let over = used - limit
    let deleted = 0
    for (const store of this.#init.stores()) {
      if (over <= 0) break
      try {
        store.purge()
        const records = store.count()
        if (records === 0) continue
        const perRecord = Math.max(1, store.usage().usedBytes / records)
        const n = store.deleteOldest(Math.min(records, Math.ceil(over / perRecord)))
        deleted += n
        over -= n * perRecord
      } catch (err) {
        this.#init.log.warn({ err }, 'could not trim a result store to the disk limit')
      }
    }
    if (deleted > 0) {
      this.#init.log.info({ deleted, limit, used }, 'over the disk limit: deleted the oldest stored results')
    }
    const overDisk = over > 0
    if (overDisk && !this.#overDisk) {
      this.#init.log.warn(
        { limit, used },
        'the data directory is over the disk limit with no stored results left to delete: remove models, or raise limits.disk',
      )
    }
    this.#overDisk = overDisk
  }

  /** The CPU the node may use, in cores; undefined without a limit. */
  #cpuCores(): number | undefined {
    return this.#limits.cpu >= 1 ? undefined : availableParallelism() * this.#limits.cpu
  }

  #applyLimits(): void {
    const { engine } = this.#init
    const cores = this.#cpuCores()
    const concurrency = this.#settings.concurrency
    engine.setLimits({
      slots: cores === undefined ? concurrency : Math.min(concurrency, Math.max(1, Math.ceil(cores))),
      cores,
      memoryBytes: this.#limits.memoryBytes ?? defaultMemoryLimitBytes(),
    })
    this.#applyHold()
  }

  #applyHold(): void {
    const hold = this.#gate.holding || this.#overMemory
    if (this.#init.engine.limits.hold !== hold) this.#init.engine.setLimits({ hold })
  }

  #resolve(limits: NodeConfig['limits']): ResolvedLimits {
    const memory = limits.memory === '' ? undefined : parseSize(limits.memory)
    const disk = limits.disk === '' ? undefined : parseSize(limits.disk)
    let diskTotal = this.#monitor?.last?.disk?.totalBytes
    if (disk !== undefined && 'percent' in disk && diskTotal === undefined) {
      try {
        const fs = statfsSync(this.#init.dataDir)
        diskTotal = fs.blocks * fs.bsize
      } catch {
        diskTotal = 0
      }
    }
    return {
      cpu: limits.cpu / 100,
      memoryBytes: memory === undefined ? undefined : sizeBytes(memory, totalmem()),
      diskBytes: disk === undefined ? undefined : sizeBytes(disk, diskTotal ?? 0),
      idleOnly: limits.idleOnly,
      windows: limits.windows,
      pauseOnBattery: limits.pauseOnBattery,
    }
  }
}

function governorSettings(limits: NodeConfig['limits']) {
  return {
    idleOnly: limits.idleOnly,
    idleThreshold: limits.idleThreshold / 100,
    idleAfterMs: limits.idleAfterMs,
    windows: limits.windows,
    pauseOnBattery: limits.pauseOnBattery,
  }
}
