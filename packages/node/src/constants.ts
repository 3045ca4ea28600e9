/**
 * Defaults for every setting of a node. The configuration schema, `createNode` and the docs
 * (docs/configuration.md) all take their defaults from here.
 */

/** Heartbeat (libp2p ping) interval per connected peer. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000
/** How long a heartbeat may take before the peer counts as failed. Interval + timeout = 13 s detection. */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 3_000

/** First delay before redialling a failed peer's known addresses. */
export const DEFAULT_RECONNECT_INITIAL_DELAY_MS = 1_000
/** Upper bound of the exponential backoff between redials. */
export const DEFAULT_RECONNECT_MAX_DELAY_MS = 30_000
/**
 * Dials of a failed peer, the first included, before it is forgotten (about 31 s after it failed:
 * at once, then 1 + 2 + 4 + 8 + 16 s apart); mDNS, bootstrap or the DHT can still bring it back.
 */
export const DEFAULT_RECONNECT_MAX_ATTEMPTS = 6

/** Period of the health checks. */
export const DEFAULT_HEALTH_INTERVAL_MS = 30_000
/** Time box of one component's health check; a check that takes longer is `unhealthy`. */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 2_000

/** The Prometheus endpoint (product documents: `http://localhost:9100/metrics`), loopback only by default. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'
export const DEFAULT_METRICS_PORT = 9100

/** The dashboard (product documents FR20.1: `localhost:8080`), on the loopback address only. */
export const DEFAULT_DASHBOARD_PORT = 8080
/** Days of metrics history the dashboard keeps, downsampled (product documents: 30). */
export const DEFAULT_DASHBOARD_HISTORY_DAYS = 30

/** Alert thresholds (product documents: peer count < 2, memory > 85 %, task failures > 10 %). */
export const DEFAULT_ALERT_PEERS_MIN = 2
export const DEFAULT_ALERT_MEMORY_PERCENT = 85
export const DEFAULT_ALERT_TASK_FAILURE_PERCENT = 10
/** The window the task failure rate is measured over. */
export const DEFAULT_ALERT_TASK_FAILURE_WINDOW_MS = 5 * 60_000
/** Fewer tasks finished in the window give no verdict: 1 failure in 3 tasks is not a trend. */
export const DEFAULT_ALERT_TASK_FAILURE_MIN_TASKS = 20
export const DEFAULT_ALERT_EVENT_LOOP_LAG_MS = 500
export const DEFAULT_ALERT_QUEUE_PERCENT = 90
/** How often the alert conditions are evaluated. */
export const DEFAULT_ALERT_INTERVAL_MS = 5_000
/** How long a condition must hold before its alert is raised, and its clearing before it clears. */
export const DEFAULT_ALERT_FOR_MS = 30_000
/** Hysteresis band: an alert clears only once its value is this share of the threshold back inside. */
export const DEFAULT_ALERT_HYSTERESIS_PERCENT = 10

/** Graceful shutdown deadline: everything, including cancelling in-flight work, happens within it. */
export const DEFAULT_SHUTDOWN_DEADLINE_MS = 8_000

/** Percentage of new traces recorded: all of them (tracing costs under 5 % of throughput, docs/benchmarks). */
export const DEFAULT_TRACE_SAMPLE_PERCENT = 100

/** Hours spans are kept (the product documents: 48). */
export const DEFAULT_TRACE_RETENTION_HOURS = 48
/** Part of the shutdown deadline kept for closing the transport after the engine drained. */
export const TRANSPORT_STOP_RESERVE_MS = 1_000
/** Time box for sending goodbye messages to all peers, in parallel. */
export const GOODBYE_TIMEOUT_MS = 1_000

/**
 * Default listen addresses: every IPv4 interface, TCP, WebSockets and QUIC (UDP), ports chosen by
 * the OS. The transport drops the QUIC one where QUIC cannot be loaded.
 */
export const DEFAULT_LISTEN: readonly string[] = Object.freeze([
  '/ip4/0.0.0.0/tcp/0',
  '/ip4/0.0.0.0/tcp/0/ws',
  '/ip4/0.0.0.0/udp/0/quic-v1',
])
/** The standard libp2p mDNS service name (the transport's default). */
export const DEFAULT_MDNS_SERVICE_TAG = '_p2p._udp.local'
/** Default maximum number of open connections (peers). */
export const DEFAULT_MAX_CONNECTIONS = 32

/** Engine defaults (the engine's own; repeated here so the config docs can show them). */
export const ENGINE_DEFAULT_CONCURRENCY = 4
export const ENGINE_DEFAULT_MAX_QUEUE_LENGTH = 1000
export const ENGINE_DEFAULT_TASK_TIMEOUT_MS = 30_000
export const ENGINE_DEFAULT_RESULT_TTL_MS = 24 * 60 * 60 * 1000

/**
 * Content by CID (`@p2p-ai/content`, docs/content.md): a task request or result whose signed
 * envelope is larger than this carries its input or output by CID to peers that take content.
 * 1 MiB: well under a 4 MiB frame, and the size of one block, so anything sent inline fits a block.
 */
export const DEFAULT_CONTENT_INLINE_MAX_BYTES = 1024 * 1024
/** Largest content fetched for one task input or output, or stored by `put`. */
export const DEFAULT_CONTENT_MAX_BYTES = 1024 * 1024 * 1024
/** How long stored content is kept: that of a task expires with its result (`engine.resultTtlMs`). */
export const DEFAULT_CONTENT_TTL_MS = ENGINE_DEFAULT_RESULT_TTL_MS

/** Default log level of a node created from a configuration (the CLI). Library users get `silent`. */
export const DEFAULT_LOG_LEVEL = 'info'

/** Config file reload: changes within this window are applied once. */
export const DEFAULT_RELOAD_DEBOUNCE_MS = 250
/** Config file reload: polling period, a fallback for file systems where fs.watch misses events. */
export const DEFAULT_RELOAD_POLL_INTERVAL_MS = 2_000

/** Prefix of environment overrides; `__` separates path segments (`P2P_AI_NETWORK__LISTEN_PORT`). */
export const ENV_PREFIX = 'P2P_AI_'
/** Environment variable naming the config file when `loadConfig` gets no `file`. */
export const ENV_CONFIG_FILE = 'P2P_AI_CONFIG'

/** Name of the directory under the user's data directory. */
export const APP_DIR_NAME = 'p2p-ai'
/** Identity key file name inside the data directory. */
export const IDENTITY_FILE_NAME = 'identity.json'
/** Result store directory inside the data directory. */
export const STORE_DIR_NAME = 'store'
/** Store of the final records of tasks this node submitted to the network, inside `STORE_DIR_NAME`. */
export const SUBMITTED_STORE_DIR_NAME = 'submitted'

/** `jobs.maxInFlight`: most tasks of all running jobs out at once, whatever the free slots. */
export const DEFAULT_JOB_MAX_IN_FLIGHT = 256
/**
 * `jobs.queuePerPeer`: tasks a job queues at each provider beyond its concurrency, so a slot that
 * frees is filled at once instead of after a round trip.
 */
export const DEFAULT_JOB_QUEUE_PER_PEER = 1
/** `jobs.resumeOnStart`: a node that starts resumes the jobs it left unfinished. */
export const DEFAULT_JOB_RESUME_ON_START = true

// ---- a node run in the background (the CLI's watchdog reads these settings) -------------------

/** `node.log` rolls over at this size (and at midnight). */
export const DEFAULT_LOG_MAX_BYTES = 100 * 1024 * 1024
/** Rolled log files kept: a week of daily files. */
export const DEFAULT_LOG_MAX_AGE_DAYS = 7
/** First wait before restarting a crashed node; doubles with each crash in the window. */
export const DEFAULT_RESTART_DELAY_MS = 1_000
export const DEFAULT_MAX_RESTART_DELAY_MS = 60_000
/** The watchdog gives up after this many crashes within `DEFAULT_CRASH_WINDOW_MS`. */
export const DEFAULT_MAX_CRASHES = 5
export const DEFAULT_CRASH_WINDOW_MS = 60_000
