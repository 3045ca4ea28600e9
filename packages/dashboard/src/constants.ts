/**
 * Defaults and bounds of the dashboard, in one place. Its port and history length are settings of
 * the node (`dashboard.*`): their defaults come from there.
 */
export {
  DEFAULT_DASHBOARD_HISTORY_DAYS as DEFAULT_HISTORY_DAYS,
  DEFAULT_DASHBOARD_PORT,
} from '@p2p-ai/node/control'

/** The dashboard listens on the loopback address only: reach it from elsewhere through an SSH tunnel. */
export const DASHBOARD_HOST = '127.0.0.1'
export const MAX_HISTORY_DAYS = 365
/** One history sample (and one live chart point) this often. */
export const DEFAULT_SAMPLE_MS = 5_000
/** The topology is recomputed this often while a page listens (and soon after a peer event). */
export const DEFAULT_TOPOLOGY_MS = 1_000
/** A burst of peer events is gathered this long before the topology is recomputed. */
export const TOPOLOGY_DEBOUNCE_MS = 100
/** Task flow events are sent to pages in batches, at most this often. */
export const FLOW_BATCH_MS = 100
/** A comment on every live stream this often, so proxies and browsers keep it open. */
export const HEARTBEAT_MS = 15_000
/** A page that reads slower than this many bytes behind is dropped; its browser reconnects afresh. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024

/** A login token (the one in the printed URL) is good once, within this time. */
export const LOGIN_TOKEN_TTL_MS = 60 * 60 * 1000
/** A session ends after this long without a request. */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000
/** Outstanding login tokens and sessions kept at most (the oldest go first). */
export const MAX_LOGIN_TOKENS = 64
export const MAX_SESSIONS = 64
/** Random bytes of a login token and of a session id. */
export const SECRET_BYTES = 32

/** Tasks a table shows at most. */
export const MAX_TASK_ROWS = 500
/** Largest request body the dashboard reads (a task's input). */
export const MAX_BODY_BYTES = 1024 * 1024

/** The history database in the node's data directory. */
export const HISTORY_FILE = 'dashboard-history.db'
/** Points a history answer holds at most: a longer range is read from a coarser tier. */
export const MAX_HISTORY_POINTS = 2_000

/**
 * Upper bounds of the latency histogram kept per history point, in milliseconds (the last bucket
 * holds everything slower). Buckets add up exactly when points are downsampled, so percentiles of
 * a day or a month are as true as those of five seconds.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000,
]

const MINUTE = 60_000
const HOUR = 60 * MINUTE
export const DAY = 24 * HOUR

/**
 * The tiers of the history: each keeps points of its step for its time (capped by the configured
 * history). The finest is the sample itself.
 */
export function historyTiers(
  sampleMs: number,
  keepMs: number,
): readonly { stepMs: number; keepMs: number }[] {
  return [
    { stepMs: sampleMs, keepMs: Math.min(DAY, keepMs) },
    { stepMs: MINUTE, keepMs: Math.min(7 * DAY, keepMs) },
    { stepMs: 10 * MINUTE, keepMs },
  ].filter((tier, i, all) => i === 0 || tier.stepMs > all[0]!.stepMs)
}
