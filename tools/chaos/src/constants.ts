/** Defaults of a chaos run (`ChaosInit`); the long soak of `pnpm bench chaos` overrides some. */

/** Seed of the fault schedule and the workload. */
export const DEFAULT_SEED = 1
/** How long faults are injected, after the warm-up. */
export const DEFAULT_DURATION_MS = 60_000
/** Provider nodes besides the requester. */
export const DEFAULT_PROVIDERS = 3
/** Clients looping submit + wait against the requester's control API (as in issue 11). */
export const DEFAULT_CLIENTS = 24
/** Workload before the first fault; memory is measured at its end. */
export const DEFAULT_WARMUP_MS = 3_000
/** Time between the end of one fault and the start of the next: [min, max]. */
export const DEFAULT_GAP_MS: readonly [number, number] = [1_000, 3_000]
/** How long a fault holds (a node frozen, down, cut off): [min, max]. */
export const DEFAULT_HOLD_MS: readonly [number, number] = [1_000, 3_000]
/** Work per task (the mock backend's `latencyMs`): [min, max]. */
export const DEFAULT_TASK_LATENCY_MS: readonly [number, number] = [0, 300]
/** After the last fault: how long acknowledged tasks have to become final before they count as stuck. */
export const DEFAULT_SETTLE_MS = 45_000
/** Nodes' graceful shutdown deadline (`shutdown.deadlineMs`): shorter than the default 8 s, so stops in a short run stay short. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 3_000
/** A surviving node's resident memory at the end may exceed its start by this fraction... */
export const MEMORY_GROWTH_FRACTION = 0.5
/** ...or by this many bytes, whichever is more (a short run's start is still warming up). */
export const MEMORY_GROWTH_BYTES = 96 * 2 ** 20

/** Engine settings of the provider nodes: a small queue, so that `fill-queue` fills it. */
export const PROVIDER_CONCURRENCY = 2
export const PROVIDER_MAX_QUEUE = 16
/** Tasks `fill-queue` submits to a provider's own queue (concurrency + queue + a few refused) and their work. */
export const FILL_TASKS = PROVIDER_CONCURRENCY + PROVIDER_MAX_QUEUE + 4
export const FILL_LATENCY_MS = 300

/** How long a node may take to start (write its control files) before the run fails. */
export const NODE_START_TIMEOUT_MS = 60_000
/** How long a stopped node may take to exit (its shutdown deadline and some) before it is killed. */
export const NODE_EXIT_TIMEOUT_MS = 20_000
/** How long the requester may take to see every provider with its capabilities at start. */
export const MESH_TIMEOUT_MS = 60_000
/** TCP port of every node on a test host (each host has its own address). */
export const TESTNET_PORT = 4001
