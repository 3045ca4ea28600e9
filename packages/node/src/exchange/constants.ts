/**
 * Defaults of the task exchange: serving, routing, failover, reputation and capability
 * announcements. Every number the exchange uses lives here, so docs/delivery.md and the code
 * cannot disagree.
 */

// ---- attempts and failover ------------------------------------------------------------------

/** Attempts per task (the first one included) before it fails with `ERR_RETRIES_EXHAUSTED`. */
export const DEFAULT_MAX_ATTEMPTS = 4
/**
 * Delay before attempt n ≥ 3 (the second attempt goes out at once, to another peer):
 * `min(RETRY_BASE_DELAY_MS × 2^(n−3), RETRY_MAX_DELAY_MS)`, ±20 % jitter.
 */
export const RETRY_BASE_DELAY_MS = 200
export const RETRY_MAX_DELAY_MS = 2_000
/**
 * Time a requester waits, beyond the task's `timeoutMs`, for a result before it counts the
 * attempt as lost (the provider itself sends a `timeout` result at `timeoutMs`).
 */
export const RESULT_GRACE_MS = 1_000
/**
 * How long a checkpoint sent by CID (protocol minor 7) is kept beyond the time its task may still
 * need it: the provider's copy past the task's `timeoutMs`, the requester's past every attempt's.
 */
export const CHECKPOINT_KEEP_GRACE_MS = 60_000
/**
 * Time a provider has to answer a request with accept or reject. An unanswered request means
 * a stuck or overloaded peer: the task moves on. Well under the 5 s failover target.
 */
export const DEFAULT_ACCEPT_TIMEOUT_MS = 3_000
/**
 * How long `submit` waits for a capable peer to appear (a node that just started has not heard
 * any capability announcement yet) before failing with `ERR_NO_CAPABLE_PEER`.
 */
export const DEFAULT_WAIT_FOR_PEER_MS = 5_000
/** Poll period while waiting for a capable peer or a free slot. */
export const PEER_WAIT_POLL_MS = 100
/**
 * After a DHT lookup connected providers, how long a task waits for their capability
 * announcements (beyond `waitForPeerMs` if need be): a round trip or two, through a relay.
 */
export const DISCOVERED_PEER_GRACE_MS = 3_000

// ---- liveness -------------------------------------------------------------------------------

/**
 * While tasks are outstanding on a peer and nothing arrived from it for this long, the requester
 * pings it; no answer within `LIVENESS_PING_TIMEOUT_MS` closes the task stream and fails its tasks
 * over. Together: a silent death is noticed within about 3 s, not at the next 10 s heartbeat.
 * These are the defaults of the exchange's `livenessIdleMs` and `livenessTimeoutMs` (the
 * `liveness.idleMs` and `liveness.timeoutMs` settings): a network of loaded, slow agents needs more.
 */
export const LIVENESS_IDLE_MS = 1_500
export const LIVENESS_PING_TIMEOUT_MS = 1_500
/** Period of the liveness sweep over peers with outstanding tasks. */
export const LIVENESS_SWEEP_MS = 500

// ---- streams --------------------------------------------------------------------------------

/** An outbound task stream with nothing outstanding for this long is closed. */
export const DEFAULT_STREAM_IDLE_MS = 60_000
/** Time to open a task stream (dial included) before the attempt fails over. */
export const STREAM_OPEN_TIMEOUT_MS = 3_000
/**
 * Largest frame on the task protocol. Requests and results carry task input and output (texts to
 * embed, vectors), so this is the protocol's default, not the small announce limit.
 */
export const DEFAULT_TASK_MAX_FRAME_BYTES = 4 * 1024 * 1024
// ---- provider -------------------------------------------------------------------------------

/** `retryAfterMs` sent with `ERR_BUSY` when the engine's queue is full. */
export const BUSY_RETRY_AFTER_MS = 1_000
/** `retryAfterMs` sent with `ERR_BUSY` by a paused node (its resume is announced at once). */
export const PAUSED_RETRY_AFTER_MS = 5_000
/** Tasks one requester may have outstanding on this provider at once (its fair share). */
export const DEFAULT_MAX_TASKS_PER_PEER = 1_024

// ---- per-peer limits of serving (serve/admission.ts) ------------------------------------------

/**
 * Requests one sender may make per second on average, and at once above that: far beyond what a
 * requester that routes by free slots sends (the exchange benchmark peaks near 4,000 a second),
 * so only a flood meets it.
 */
export const DEFAULT_RATE_LIMIT_PER_SECOND = 5_000
export const DEFAULT_RATE_LIMIT_BURST = 10_000
/** `retryAfterMs` of `ERR_RATE_LIMITED`, at least. */
export const RATE_LIMIT_MIN_RETRY_AFTER_MS = 1_000
/**
 * After a reject with `retryAfterMs`, requests may still arrive that were on their way: for
 * `RETRY_AFTER_GRACE_RTTS` round trips to the peer (its heartbeat's; `RETRY_AFTER_GRACE_UNKNOWN_RTT_MS`
 * when not measured yet), at least `RETRY_AFTER_GRACE_MIN_MS` and at most half the wait. Later ones
 * were sent after the peer was told, and are offences.
 */
export const RETRY_AFTER_GRACE_RTTS = 4
export const RETRY_AFTER_GRACE_MIN_MS = 100
export const RETRY_AFTER_GRACE_UNKNOWN_RTT_MS = 250
/** A provider's unsent answers on one stream may hold this many frames' worth before the stream is reset. */
export const UNREAD_ANSWERS_FRAMES = 2
/** Progress messages per task per second at most (the engine throttles too; this bounds the wire). */
export const PROGRESS_MIN_INTERVAL_MS = 100

// ---- routing -----------------------------------------------------------------

/**
 * Latency at which a peer's score doubles: the PRD asks to prefer peers under 50 ms when there
 * are any, without starving slower ones when they are the only ones free.
 */
export const LATENCY_SCALE_MS = 50
/** Latency below which peers count as equally close (loopback, one LAN). */
export const LATENCY_FREE_MS = 10
/** Routing costs within this fraction of the lowest count as a tie (see router.ts). */
export const COST_TIE_MARGIN = 0.1
/**
 * A peer reached only through a circuit relay costs this many times more than the same peer
 * reached directly: on top of its measured latency (which the relay's detour already raises),
 * a relayed path shares the relay's bandwidth and byte caps with every other circuit on it.
 */
export const RELAYED_COST_FACTOR = 3
/**
 * Largest task request (its input, as JSON) sent over a relayed connection. Relays cap what one
 * circuit carries (8 MiB each way by default, `network.relay.circuitBytes`), so small tasks go
 * through them while a hole punch is tried; larger ones wait for a direct connection, or go to a
 * provider that has one.
 */
export const DEFAULT_RELAYED_TASK_MAX_BYTES = 64 * 1024

// ---- bookkeeping ----------------------------------------------------------------------------

/** Finished tasks kept for `node.tasks` (oldest dropped first). */
export const DEFAULT_TASK_HISTORY = 1_000
/** Prefix of engine backends created by `registerTask`. */
export const CUSTOM_BACKEND_PREFIX = 'task-'

// ---- forwarding, redundancy, access (docs/delivery.md) ---------------------------------------

/** Links a task may travel from requester to provider, the first included (a direct request is 1). */
export const DEFAULT_MAX_HOPS = 10
/** `retryAfterMs` of a relay that already relays a task with the same id to the same next hop. */
export const RELAY_ID_BUSY_RETRY_AFTER_MS = 500
/** Most providers one redundant task runs on. */
export const MAX_REDUNDANCY = 16
/** Embedding outputs agree when every pair of vectors has at least this cosine similarity. */
export const DEFAULT_EMBED_MIN_COSINE = 0.999
/** OCR outputs agree when the edit distance of their texts is at most this fraction of the longer. */
export const DEFAULT_OCR_MAX_EDIT_DISTANCE = 0.1

/**
 * Final records of submitted tasks are handed to the result store in bursts at most this old: a
 * record is on disk within about this long of its task finishing (`node.stop()` writes the rest),
 * and under load the store commits many per transaction instead of one each.
 */
export const SUBMITTED_WRITE_DELAY_MS = 20
/**
 * The acceptance of a submitted task (what lets a crash resume it) is written this long after
 * submission unless asked for at once (`tasks.durable`, which the control API awaits before it
 * answers): a task that ends sooner is written once, final, which keeps a store write off most
 * tasks' path. A crash loses the acceptances younger than this of tasks nobody asked about.
 */
export const ACCEPTANCE_WRITE_DELAY_MS = 250

/**
 * Times a task interrupted by a crash of its node (stored as accepted, never finished) is resumed
 * at the next start. One interrupted more often than this fails with `ERR_EXCHANGE_STOPPED`
 * instead: it may be what brings the node down.
 */
export const MAX_RESUMES = 3
