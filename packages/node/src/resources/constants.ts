/** Defaults and timings of resource monitoring and the contributor's limits (docs/contributing-resources.md). */

/** How often the machine is measured: every 5 s (the product documents' figure). */
export const DEFAULT_RESOURCES_INTERVAL_MS = 5_000
/**
 * Other processes' CPU, in percent of the machine, below which it counts as idle: BOINC's default
 * for "suspend when non-BOINC CPU usage is above".
 */
export const DEFAULT_IDLE_THRESHOLD = 25
/** How long the machine must have been idle before an idle-only node takes tasks: 3 minutes, as BOINC. */
export const DEFAULT_IDLE_AFTER_MS = 3 * 60_000
/** Peers' tasks still running this long after the node paused are handed back. */
export const DEFAULT_PAUSE_GRACE_MS = 10_000

/** The first snapshot after start comes this soon (a CPU share needs two readings). */
export const FIRST_SNAPSHOT_MS = 1_000

/** The data directory's size is measured (a walk of its files) at most this often. */
export const DISK_SCAN_INTERVAL_MS = 60_000
/** Battery state is read at most this often (on macOS it takes starting `pmset`). */
export const BATTERY_INTERVAL_MS = 30_000
/** Most files a data directory walk counts before it stops (and says the size is a lower bound). */
export const DISK_SCAN_MAX_FILES = 100_000

/** Period of the CPU limit's duty cycle: how often the node's CPU use is read while limited. */
export const CPU_GATE_TICK_MS = 100
/**
 * Unused CPU the duty cycle lets the node save up, in seconds of its whole allowance: a burst after
 * a quiet spell, never more.
 */
export const CPU_GATE_MAX_CREDIT_S = 1
/**
 * CPU used beyond the allowance the duty cycle remembers, in seconds of the allowance: it holds new
 * tasks back until that is paid back, so the average over tens of seconds meets the limit.
 */
export const CPU_GATE_MAX_DEBT_S = 5

/** Announced CPU figures are rounded to this many percentage points, so noise does not re-announce. */
export const ANNOUNCED_CPU_STEP = 10
/** Announced free memory is rounded down to this many bytes. */
export const ANNOUNCED_MEMORY_STEP = 256 * 1024 * 1024

/** The model budget under `limits.memory` follows the node's memory in steps of at least this. */
export const MODEL_BUDGET_STEP = 16 * 1024 * 1024
