/** Defaults and fixed names of the CLI. */
import type { JobStatus, TaskStatus } from './control/types.js'

/** The command's name, as typed. */
export const BIN_NAME = 'p2p-ai-agents'

/**
 * Exit codes. Scripts can rely on them; docs/cli.md lists them.
 * 130 is what shells use for a process ended by Ctrl-C.
 */
export const EXIT = Object.freeze({
  OK: 0,
  /** Something failed that is not one of the cases below (the message says what). */
  FAILURE: 1,
  /** The command line (or the configuration) is wrong. */
  USAGE: 2,
  /** No node is running for this data directory. */
  NOT_RUNNING: 3,
  /** The task finished but did not complete (failed, timed out or was cancelled). */
  TASK_FAILED: 4,
  /** Interrupted by Ctrl-C. */
  INTERRUPTED: 130,
})

/** Files the running node keeps in its data directory. */
export const PID_FILE = 'node.pid'
/** Where the control API listens, with the node's pid: `{ pid, url, startedAt, version }`. */
export const CONTROL_FILE = 'control.json'
/** The control API's bearer token: 32 random bytes, hex; mode 0600; new on every start. */
export const TOKEN_FILE = 'control.token'
/** stdout and stderr of a node started with `--detach`. */
export const LOG_FILE = 'node.log'
/** Where the rolled files of node.log live, in the data directory (node.log links to `current.log` there). */
export const LOGS_DIR = 'logs'
/** How often a background node deletes rolled log files older than `log.rotate.maxAgeDays`. */
export const LOG_AGE_SWEEP_MS = 3_600_000
/** The watchdog's state in the data directory: its pid, restarts, and why it gave up. */
export const SUPERVISOR_FILE = 'supervisor.json'
/** Models added with `models add`: `{ models: ModelEntry[] }`. */
export const MODELS_FILE = 'models.json'
/** Directory of pulled models (one sub-directory per model). */
export const MODELS_DIR = 'models'
/** sha256s of model files by file identity, so a restart does not hash them again. */
export const MODEL_HASHES_FILE = 'model-hashes.json'

/** Random bytes in the control token. */
export const TOKEN_BYTES = 32
/** Address the control API binds to; never anything but loopback. */
export const CONTROL_HOST = '127.0.0.1'
/** Version prefix of every control API path. */
export const API_PREFIX = '/v1'
/**
 * Where the control server serves the OpenAI-compatible API (docs/openai.md): its own prefix,
 * since the control API's `GET /v1/models` answers in its own format.
 */
export const OPENAI_PREFIX = '/openai/v1'
/** Largest request body the control API reads. */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024
/** Longest a `wait` request may be held open before it answers with the task as it is. */
export const MAX_WAIT_MS = 60_000
/**
 * How long the control API's close waits for requests still in progress (a slow `/v1/models`,
 * a client that stopped reading) before it closes their connections: a client never holds the
 * node's shutdown hostage.
 */
export const CLOSE_GRACE_MS = 2_000

/** How long `node start --detach` waits for the daemon to become ready. */
export const DETACH_READY_TIMEOUT_MS = 60_000
/** How long `node stop` waits for the node to exit after asking it to. */
export const STOP_TIMEOUT_MS = 20_000
/** Time box of one control API request (besides long-polls). */
export const REQUEST_TIMEOUT_MS = 10_000

/** `task list` page size. */
export const DEFAULT_LIST_LIMIT = 20
/** `node monitor` refresh period in seconds. */
export const DEFAULT_MONITOR_INTERVAL_S = 2

/** Environment variables of the CLI itself (not node settings). */
export const ENV = Object.freeze({
  /** Set in a node started with `--detach` (logs as JSON lines, reports readiness over IPC). */
  DAEMON: 'P2P_AI_CLI_DAEMON',
  /** The watchdog's settings (JSON), from the `node start --detach` that started it. */
  SUPERVISOR: 'P2P_AI_CLI_SUPERVISOR',
  /** Directory of `demo` nodes. */
  DEMO_DIR: 'P2P_AI_DEMO_DIR',
  /** Data directory (also a node setting). */
  DATA_DIR: 'P2P_AI_DATA_DIR',
  /** Config file (also read by the node). */
  CONFIG: 'P2P_AI_CONFIG',
})

/** Every task status, in the order a task goes through them: the node's `NetworkTaskStatus`. */
export const TASK_STATUSES = [
  'PENDING',
  'QUEUED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'CANCELLED',
] as const satisfies readonly TaskStatus[]

// Fails to compile if the node gains a status this list lacks.
const _everyStatus: readonly (typeof TASK_STATUSES)[number][] = [] as TaskStatus[]
void _everyStatus

/** Every job status: the node's `JobStatus`. */
export const JOB_STATUSES = [
  'RUNNING',
  'INTERRUPTED',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
] as const satisfies readonly JobStatus[]

// Fails to compile if the node gains a job status this list lacks.
const _everyJobStatus: readonly (typeof JOB_STATUSES)[number][] = [] as JobStatus[]
void _everyJobStatus

/** How often `job submit` and `job status --follow` ask the node how the job stands. */
export const JOB_POLL_MS = 250

/** How often a stopped node checks that its output is written, so it can leave (ms). */
export const LEAVE_CHECK_MS = 20
