/** Defaults of the tracing plug-in. */

/** Fraction of new traces (those no upstream span decided on) that are recorded. */
export const DEFAULT_SAMPLE_RATE = 1

/** How long spans are kept in the data directory (the product documents: 48 hours). */
export const DEFAULT_TRACE_RETENTION_MS = 48 * 60 * 60 * 1000

/** The span store's file in the directory it is given. */
export const TRACE_STORE_FILE_NAME = 'traces.db'

/**
 * Ended spans wait in memory at most this long before they are written, so a burst of tasks costs
 * one transaction instead of one per span; reading the store writes what waits first.
 */
export const STORE_FLUSH_INTERVAL_MS = 250

/** Ended spans written at once when this many wait, whatever the interval. */
export const STORE_FLUSH_BATCH = 1024

/** How often expired spans are deleted. */
export const STORE_PURGE_INTERVAL_MS = 10 * 60 * 1000

/** `service.name` of every span a node records. */
export const SERVICE_NAME = 'p2p-ai-agent'

/** How long one OTLP export may take before it is given up. */
export const DEFAULT_OTLP_TIMEOUT_MS = 10_000

/** Ended spans queued for OTLP export at most; more are dropped (and counted) while the collector is slow or away. */
export const OTLP_MAX_QUEUE = 8192

/** Spans per OTLP export request. */
export const OTLP_MAX_BATCH = 512

/** A batch of spans leaves for the collector at least this often. */
export const OTLP_EXPORT_DELAY_MS = 1_000

/** Task ids whose trace the store remembers in memory, for `traceOf` (the newest win). */
export const REMEMBERED_TASKS = 10_000

/**
 * Slots of the table in which the store remembers which batches hold its newest traces (a power of
 * two), so reading one reads only those batches: about 100,000 traces, some of the older ones
 * displaced by newer ones of the same slot. A trace it does not remember is found by a scan.
 */
export const REMEMBERED_TRACE_SLOTS = 131_072
