/**
 * What the node knows of the machine it runs on, and of the limits its owner set.
 */

/** The battery, where the OS tells. */
export interface BatteryState {
  /** The machine runs on its battery (no mains power). */
  readonly onBattery: boolean
  /** Charge in percent, when known. */
  readonly percent?: number
  /** Whether it is charging, when known. */
  readonly charging?: boolean
}

/**
 * Whether this OS can tell the battery state: `supported` (Linux's `/sys/class/power_supply`,
 * macOS's `pmset`), `unsupported` (any other OS: the node cannot pause on battery there).
 */
export type BatterySupport = 'supported' | 'unsupported'

/** One reading of the machine's counters; rates come from two readings. */
export interface RawSample {
  /** Monotonic time of the reading, in milliseconds (`performance.now()`). */
  readonly at: number
  /** CPU time of all cores since boot, in milliseconds: spent busy, and in all. */
  readonly machineCpu: { readonly busyMs: number; readonly totalMs: number }
  /** CPU time this process has used, all threads, user and system, in milliseconds. */
  readonly processCpuMs: number
  /** Logical cores. */
  readonly cores: number
  readonly memory: {
    readonly totalBytes: number
    /** What the OS could give programs without swapping (Linux's MemAvailable). */
    readonly availableBytes: number
    /** This process's resident memory. */
    readonly rssBytes: number
  }
  /** 1, 5 and 15 minute load averages (zeros where the OS has none). */
  readonly loadAverage: readonly [number, number, number]
  /** The file system of the data directory, and what the directory takes (when measured). */
  readonly disk:
    | {
        readonly freeBytes: number
        readonly totalBytes: number
        readonly dataDirBytes?: number
      }
    | undefined
  readonly battery: BatteryState | undefined
  readonly batterySupport: BatterySupport
}

/** Reads the machine's counters: the real OS by default, a fake in tests. */
export interface Sampler {
  sample(): Promise<RawSample>
}

/** The machine over the last measuring period. Fractions are of the whole machine, 0 to 1. */
export interface ResourceSnapshot {
  /** `Date.now()` of the reading. */
  readonly at: number
  /** Milliseconds the CPU figures cover. */
  readonly periodMs: number
  readonly cores: number
  readonly cpu: {
    /** All processes. */
    readonly machine: number
    /** This node (its worker and native threads included). */
    readonly node: number
    /** Everything else: what the machine's owner is doing. */
    readonly others: number
  }
  readonly memory: {
    readonly totalBytes: number
    readonly availableBytes: number
    /** This node's resident memory. */
    readonly nodeBytes: number
  }
  readonly load: readonly [number, number, number]
  readonly disk:
    | {
        readonly freeBytes: number
        readonly totalBytes: number
        /** What the data directory holds, free pages of its stores not counted (measured every minute). */
        readonly dataDirBytes?: number
      }
    | undefined
  readonly battery: BatteryState | undefined
  readonly batterySupport: BatterySupport
}

/** Why the node takes no tasks from peers right now. */
export type PauseReason =
  /** `limits.idleOnly`: the machine's owner is using it (or has not been away long enough). */
  | 'in-use'
  /** `limits.windows`: outside every window. */
  | 'outside-window'
  /** `limits.pauseOnBattery`: on battery. */
  | 'on-battery'

/** The limits in force, resolved to numbers for this machine. */
export interface ResolvedLimits {
  /** Share of the machine's CPU for tasks, 0 to 1. */
  readonly cpu: number
  /** Memory for models and running tasks, in bytes; undefined: no limit of the owner's. */
  readonly memoryBytes: number | undefined
  /** Disk space of the data directory, in bytes; undefined: none. */
  readonly diskBytes: number | undefined
  readonly idleOnly: boolean
  readonly windows: readonly string[]
  readonly pauseOnBattery: boolean
}

/** What `node status` and `node.resources.status()` say. */
export interface ResourceStatus {
  /** The latest reading; undefined until the first period has passed. */
  readonly snapshot: ResourceSnapshot | undefined
  readonly limits: ResolvedLimits
  /** The node takes no tasks from peers now; `pauseReasons` say why. */
  readonly paused: boolean
  readonly pauseReasons: readonly PauseReason[]
  /** `Date.now()` since when it is paused (or runs). */
  readonly since: number
  /** The CPU limit is holding queued tasks back right now (its duty cycle). */
  readonly throttled: boolean
  /** The node uses more memory than `limits.memory`: no task starts until it uses less. */
  readonly overMemory: boolean
  /** The data directory takes more than `limits.disk`, even after deleting old results. */
  readonly overDisk: boolean
  /** Bytes the engine's loaded models hold, and their budget. */
  readonly models: { readonly usedBytes: number; readonly limitBytes: number }
}
