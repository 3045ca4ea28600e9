/** Measured rounds per case when neither the case nor the command line says otherwise. */
export const DEFAULT_ROUNDS = 5
/** Time budget of one throughput round, in milliseconds. */
export const DEFAULT_BUDGET_MS = 1000
/** Untimed warm-up before a throughput case's first round (lets the JIT settle), in milliseconds. */
export const DEFAULT_WARMUP_MS = 300
/** Untimed warm-up rounds before a measurement case's first round. */
export const DEFAULT_WARMUP_ROUNDS = 1

/** `--quick`: at most this many rounds per case. */
export const QUICK_MAX_ROUNDS = 2
/** `--quick`: time budget of one throughput round, in milliseconds. */
export const QUICK_BUDGET_MS = 100
/** `--quick`: warm-up of a throughput case, in milliseconds. */
export const QUICK_WARMUP_MS = 20
/** `--quick`: warm-up rounds of a measurement case. */
export const QUICK_WARMUP_ROUNDS = 0

/**
 * A throughput round checks the clock once per batch of calls; batches grow until one takes about
 * this fraction of the round budget, so the clock costs nothing measurable and the round overruns
 * its budget by at most this fraction.
 */
export const BATCH_FRACTION_OF_BUDGET = 1 / 200

/** Version of the JSON written by the CLI; bump on incompatible changes. */
export const RESULTS_SCHEMA_VERSION = 1
