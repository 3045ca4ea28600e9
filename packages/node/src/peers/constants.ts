/**
 * Defaults of the peer directory: how reputations learn and forget, and the circuit breaker. The
 * liveness and redial settings are node settings (src/constants.ts).
 */

// ---- reputation -----------------------------------------------------------------------------

/** Weight of the newest sample in the latency EWMA. */
export const LATENCY_EWMA_ALPHA = 0.2
/** Success and failure counts halve every this many milliseconds (reputation decays). */
export const REPUTATION_HALF_LIFE_MS = 10 * 60 * 1000
/** Misbehaviour (forged or mismatched results) is remembered longer than plain failures. */
export const MISBEHAVIOUR_HALF_LIFE_MS = 60 * 60 * 1000
/** Prior of the success rate (Laplace smoothing): a new peer starts at 2/3. */
export const PRIOR_SUCCESSES = 2
export const PRIOR_FAILURES = 1

// ---- circuit breaker ------------------------------------------------------------------------

/** Consecutive failures that open a peer's circuit (no tasks are routed to it). */
export const CIRCUIT_FAILURE_THRESHOLD = 3
/** First open period; doubles on each failure in half-open state, up to the maximum. */
export const CIRCUIT_OPEN_MS = 30_000
export const CIRCUIT_MAX_OPEN_MS = 5 * 60 * 1000

// ---- what routing learns --------------------------------------------------------------------

/** Recent-dispatch counts (the routing tie-breaker) halve every this many milliseconds. */
export const DISPATCH_HALF_LIFE_MS = 30_000
/**
 * How long a neighbour that refused to forward a task type (`ERR_NO_ROUTE`, `ERR_TTL_EXPIRED`) is
 * skipped for that type, unless it announces anew before: its route may have come back before its
 * next announcement was due, and then no new announcement ever says so.
 */
export const ROUTE_REFUSED_MS = 2_000
