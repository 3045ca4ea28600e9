/** Bounds and defaults of the debug tools (`p2p-ai-agents debug …`), in one place. */

/** Directory in the data directory where profiles and heap snapshots go unless a path is given. */
export const DEBUG_DIR = 'debug'

/** Log lines the node keeps in memory for snapshots, the newest. */
export const LOG_RING_LINES = 1_000
/** Bytes of log lines kept at most, whatever their number (one huge line cannot fill the memory). */
export const LOG_RING_BYTES = 1024 * 1024
/** Log lines a snapshot carries unless asked for another number. */
export const DEFAULT_SNAPSHOT_LOG_LINES = 200
/** Recent tasks a snapshot carries. */
export const SNAPSHOT_TASKS = 50

/** Round trips timed per peer by `debug network-test`. */
export const RTT_SAMPLES = 5
/** Time box of one round trip. */
export const RTT_TIMEOUT_MS = 3_000
/** Bytes each way of the throughput probe, unless asked for another number. */
export const DEFAULT_PROBE_BYTES = 256 * 1024
/** Most bytes of a throughput probe: it must fit a task frame, with room for the envelope. */
export const MAX_PROBE_BYTES = 1024 * 1024
/** Time box of one throughput probe. */
export const PROBE_TIMEOUT_MS = 20_000

/** Longest stress run. */
export const MAX_STRESS_DURATION_MS = 10 * 60_000
/** Most tasks per second a stress run submits. */
export const MAX_STRESS_RATE = 1_000
/** Tasks of a stress run unfinished at once before new ones are skipped. */
export const DEFAULT_STRESS_MAX_IN_FLIGHT = 1_000
/** Ceiling of `maxInFlight`. */
export const MAX_STRESS_IN_FLIGHT = 10_000
/** How often the stress run's scheduler submits what is due. */
export const STRESS_TICK_MS = 10
/** How long a stress run waits for its last tasks once it stopped submitting. */
export const STRESS_DRAIN_MS = 30_000

/** A CPU profile's length unless asked for another. */
export const DEFAULT_PROFILE_DURATION_MS = 30_000
/** Longest CPU profile. */
export const MAX_PROFILE_DURATION_MS = 10 * 60_000
/** Sampling interval of a CPU profile, µs (V8's default is 1,000). */
export const PROFILE_SAMPLING_INTERVAL_US = 500
