/** Defaults and bounds of `node.jobs` (docs/jobs.md). */

/** How often results that arrived are committed to the job store and the output file. */
export const JOB_COMMIT_INTERVAL_MS = 50
/** Results that arrive together commit at once rather than wait for the interval. */
export const JOB_COMMIT_BATCH = 256
/**
 * With `order: 'input'`, tasks are started at most this many items past the first one whose result
 * is not written yet: the results that wait for it (in the store and in memory) stay bounded.
 */
export const JOB_REORDER_WINDOW = 2048
/** A job asks again (as a new task) for an item whose task found no way to run, this many times in all. */
export const DEFAULT_JOB_ITEM_ATTEMPTS = 3
/** Longest JSONL line read as an item; a longer line fails its item without being held in memory. */
export const MAX_JOB_LINE_BYTES = 16 * 1024 * 1024
/** How the input file is read: bytes per read. */
export const JOB_READ_CHUNK_BYTES = 1024 * 1024
/** A job id the caller chooses: like a task id, shorter, since item task ids are built from it. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_-]{8,32}$/
/**
 * A job of short tasks queues deeper at each provider than `jobs.queuePerPeer`: about this much
 * of their run time beyond its free slots (by the runs measured so far), so tasks go out and come
 * back many to a write, under one batch signature, rather than one each. Long tasks keep the
 * configured depth: a queue measured in time, not count, never holds much work back from failover.
 */
export const JOB_QUEUED_WORK_MS = 20
/** The deepest queue per provider a job of short tasks reaches (see `JOB_QUEUED_WORK_MS`). */
export const JOB_MAX_QUEUE_PER_PEER = 8
/** Weight of each new run time in a job's running average of them. */
export const JOB_RUN_MS_WEIGHT = 0.1
/** While nothing could be sent (no free slot), the job looks again this often (load elsewhere changes silently). */
export const JOB_IDLE_POLL_MS = 200
/** The window throughput and the ETA are measured over. */
export const JOB_RATE_WINDOW_MS = 10_000
/** The job store's SQLite file, under `<dataDir>/store/jobs/`. */
export const JOB_STORE_DIR_NAME = 'jobs'
export const JOB_STORE_FILE_NAME = 'jobs.db'
/** `PRAGMA application_id` of a job store ("p2pj"), so no other database is taken for one. */
export const JOB_STORE_APPLICATION_ID = 0x7032706a
/** 2: results kept as content by CID (`items.result_cid`, `items.result_size`); 1 is migrated. */
export const JOB_STORE_SCHEMA_VERSION = 2
/** How often finished jobs past their time to live are deleted. */
export const JOB_PURGE_INTERVAL_MS = 60 * 60 * 1000
