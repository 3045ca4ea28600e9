import { totalmem } from 'node:os'

/** Tasks that run at the same time, across all backends. */
export const DEFAULT_CONCURRENCY = 4
/** Upper bound on `concurrency`; more would only oversubscribe the CPU. */
export const MAX_CONCURRENCY = 1024
/** Tasks that may wait in the queue; one more is rejected with `ERR_QUEUE_FULL`. */
export const DEFAULT_MAX_QUEUE_LENGTH = 1000
/**
 * Priority of a task that names none (higher runs first). The middle of the network's range, 0 to
 * 9 (`DEFAULT_PRIORITY` of @p2p-ai/protocol, which a test holds equal): a task can be ranked below
 * the default as well as above it, and one submitted straight to the engine ranks with those that
 * come through a node's task exchange.
 */
export const DEFAULT_PRIORITY = 5
/** Execution time limit of one task, from start to result, in milliseconds. */
export const DEFAULT_TASK_TIMEOUT_MS = 30_000
/** Largest `timeoutMs` a request may ask for unless the engine allows more. */
export const DEFAULT_MAX_TASK_TIMEOUT_MS = 600_000
/**
 * After a task is cancelled or times out, how long its backend gets to stop before the engine
 * reclaims the slot (a worker thread is terminated and replaced). Together with the worker's own
 * exit this keeps cancellation cleanup under 2 s.
 */
export const DEFAULT_CANCEL_GRACE_MS = 1000
/**
 * How long the engine may settle tasks back-to-back in one chain of microtasks before it lets the
 * event loop turn (timers, sockets), in milliseconds. Bounds how long fast in-process backends can
 * starve the rest of the node.
 */
export const SETTLE_SYNC_BUDGET_MS = 2
/** Finished task records kept in memory when the engine has no result store. */
export const DEFAULT_HISTORY_LIMIT = 1000
/** Most estimated bytes of output in that in-memory history: 64 MiB. */
export const DEFAULT_HISTORY_MAX_BYTES = 64 * 1024 * 1024
/** How long `stop()` lets running tasks finish before cancelling them, in milliseconds. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000
/** The engine forwards at most one progress report per task per interval, in milliseconds. */
export const PROGRESS_INTERVAL_MS = 100
/** Queue fill ratio from which `health()` reports `degraded`. */
export const HEALTH_QUEUE_DEGRADED_RATIO = 0.8
/** Longest `flow` of a request, in characters (a PeerId has 52). */
export const MAX_FLOW_LENGTH = 128
/** Longest caller-supplied task id, in characters. */
export const MAX_TASK_ID_LENGTH = 128
/** Most schema issues reported for one input (in `InvalidInputError.issues` and its message). */
export const MAX_INPUT_ISSUES = 20
/** Longest error message kept in a task record; longer ones are truncated. */
export const MAX_ERROR_MESSAGE_LENGTH = 2000
/** Most `meta` entries on one request, and the longest key and value. */
export const MAX_META_ENTRIES = 32
export const MAX_META_KEY_LENGTH = 64
export const MAX_META_VALUE_LENGTH = 1024
/** Default and largest page size of `list()`. */
export const DEFAULT_LIST_LIMIT = 20
export const MAX_LIST_LIMIT = 1000
/** Largest `offset + limit` of `list()`: deep pages cost memory proportional to the offset. */
export const MAX_LIST_WINDOW = 100_000
/**
 * For tasks in worker threads: extra time after the grace period before the engine gives a slot
 * back on its own, should terminating the worker itself hang.
 */
export const WORKER_TERMINATE_BACKSTOP_MS = 1000
/**
 * Longest `process.exit()` waits, in all, for pool workers to return from native calls
 * (`nativeCall`) before Node.js terminates them: an ONNX Runtime session creation or inference
 * cannot be interrupted, and terminating a thread inside one aborts the process. One minute covers
 * loading the largest models seen here several times over.
 */
export const NATIVE_CALL_EXIT_WAIT_MS = 60_000

/** How long results stay in the store after the task finished: 24 hours. */
export const DEFAULT_RESULT_TTL_MS = 24 * 60 * 60 * 1000
/** How often the store deletes expired results in the background: every 10 minutes. */
export const DEFAULT_PURGE_INTERVAL_MS = 10 * 60 * 1000
/** Rows deleted per purge statement, so a large purge never blocks the event loop for long. */
export const PURGE_BATCH_SIZE = 1000
/** File name of the result store inside the directory the caller gives. */
export const STORE_FILE_NAME = 'results.db'
/** `PRAGMA application_id` of a p2p-ai result store ("p2pr"), to refuse foreign databases. */
export const STORE_APPLICATION_ID = 0x70327072
/** Schema version in `PRAGMA user_version`. */
export const STORE_SCHEMA_VERSION = 1
/** How long SQLite waits for a lock held by another connection, in milliseconds. */
export const STORE_BUSY_TIMEOUT_MS = 5000

/** `chunk`: default chunk size in characters. */
export const DEFAULT_CHUNK_SIZE = 1000
/** `chunk`: default overlap between consecutive chunks in characters. */
export const DEFAULT_CHUNK_OVERLAP = 100
/** `chunk`: largest accepted text, in characters (UTF-16 code units): 64 Mi. */
export const MAX_CHUNK_TEXT_LENGTH = 64 * 1024 * 1024
/** `chunk`: largest chunk size in characters. */
export const MAX_CHUNK_SIZE = 1_000_000
/** `chunk`: most chunks one task may produce, which bounds its output's memory. */
export const MAX_CHUNKS = 1_000_000
/**
 * `chunk`: a chunk ends at a boundary only if that keeps at least this fraction of `size`;
 * otherwise the boundary is too early and a lower-ranked one (or a hard cut) is used.
 */
export const CHUNK_MIN_FILL = 0.5

/** `mock`: longest simulated latency or CPU time a task may ask for, in milliseconds. */
export const MOCK_MAX_SIMULATED_MS = 60_000
/** `mock`: a CPU-busy mock task yields to its event loop this often, so it can see cancellation. */
export const MOCK_CPU_SLICE_MS = 5
/** Most steps of a checkpointing `mock` task (`steps`). */
export const MOCK_MAX_STEPS = 100_000

/** Registry names: lower case, digits, `.`, `_`, `-`, at most 128 characters. */
export const MODEL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/
/** Manifest `pullModel` writes last into a model directory; a directory without it is incomplete. */
export const MANIFEST_FILE = 'p2p-ai-model.json'
/** Where `pullModel` downloads from unless told otherwise. */
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co'
/** Git revision `pullModel` resolves unless told otherwise. */
export const DEFAULT_REVISION = 'main'
/** A download with no bytes for this long fails with reason `timeout`. */
export const DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS = 30_000
/** Redirects followed per file (the Hub redirects LFS files to its CDN). */
export const MAX_REDIRECTS = 5
/**
 * A file being downloaded is written to `<file>.partial` and renamed when complete; an
 * interrupted download leaves it, and the next one continues from its end.
 */
export const PARTIAL_SUFFIX = '.partial'
/** `<file>.lock` names the process downloading a file, so no second one writes the same partial. */
export const LOCK_SUFFIX = '.lock'
/** Pages of a repository's file listing followed at most (the Hub pages large listings). */
export const MAX_LISTING_PAGES = 100
/** Largest listing page read, in bytes. */
export const MAX_LISTING_BYTES = 16 * 1024 * 1024
/** Files a hash cache remembers at most; the least recently hashed are forgotten first. */
export const MAX_HASH_CACHE_ENTRIES = 1024

/**
 * How long a backend may take to answer the memory budget's request to free idle models before
 * the budget asks the next one (a worker inside a long native call answers only after it).
 */
export const MEMORY_PRESSURE_TIMEOUT_MS = 2_000
/**
 * A load waiting for memory held by models in use asks again this often: a model in use becomes
 * idle without releasing anything, and could be unloaded then.
 */
export const MEMORY_RETRY_MS = 1_000

/**
 * Memory the loaded models (and their contexts) of all backends may take together when the
 * engine is given no `memoryLimitBytes`: half the machine's RAM.
 */
export function defaultMemoryLimitBytes(): number {
  return Math.floor(totalmem() / 2)
}
