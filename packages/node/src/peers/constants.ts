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

// ---- conduct: offences and bans ---------------------------------------------------------------

/**
 * What each kind of misbehaviour towards this node costs, in points. A peer whose points (decaying
 * with `OFFENCE_HALF_LIFE_MS`) reach `BAN_POINTS` is banned: disconnected and refused for a while.
 * The one table of what counts as abuse (docs/delivery.md explains it).
 */
export const OFFENCE_POINTS = Object.freeze({
  /** A frame that is not UTF-8 or not JSON (skipped). */
  'malformed-frame': 1,
  /**
   * A frame that breaks the framing itself (a length over the limit, a bad varint): the stream is
   * reset. Not at once a ban: a peer configured for larger frames than this node sends one honestly.
   */
  'broken-framing': 4,
  /** A message that fails its schema, or of a type the sender does not send. */
  'invalid-message': 1,
  /** A request whose signature does not verify, or whose signer is not the sender. */
  forged: 5,
  /** A request replaying a nonce that joins no known run. */
  replayed: 2,
  /** A request sent while told to wait (`retryAfterMs` of `ERR_BUSY` or `ERR_RATE_LIMITED`). */
  'ignored-retry-after': 0.05,
  /** Answers left unread until this node's send buffer for the stream overflowed: the stream is reset. */
  'unread-answers': 5,
  /** An announcement beyond `ANNOUNCE_BURST` and `ANNOUNCE_RATE_PER_SECOND` (announce/constants.ts), dropped unread. */
  'announce-flood': 0.5,
  /** As a provider: an answer that did not verify, or a claim that our request did not (failures.ts `misbehaviour`). */
  misbehaviour: 5,
} as const)

/**
 * What a frame or message refused with each error code says about the peer that sent it, on the
 * task and the announce protocols alike. Codes not here (a stream cut short, a message too old)
 * happen to honest peers and say nothing.
 */
export const OFFENCE_OF_ERROR: Readonly<Record<string, keyof typeof OFFENCE_POINTS>> = Object.freeze({
  ERR_INVALID_UTF8: 'malformed-frame',
  ERR_INVALID_JSON: 'malformed-frame',
  ERR_FRAME_TOO_LARGE: 'broken-framing',
  ERR_INVALID_VARINT: 'broken-framing',
  ERR_INVALID_MESSAGE: 'invalid-message',
  ERR_UNSUPPORTED_VERSION: 'invalid-message',
  ERR_BAD_SIGNATURE: 'forged',
  ERR_SIGNER_MISMATCH: 'forged',
  ERR_REPLAYED_NONCE: 'replayed',
})

/** Points that get a peer banned. */
export const BAN_POINTS = 10
/** Offence points halve every this many milliseconds. */
export const OFFENCE_HALF_LIFE_MS = 10 * 60 * 1000
/** A peer's first ban lasts this long; each further one 4 times the one before, up to the maximum. */
export const DEFAULT_BAN_MS = 60_000
export const DEFAULT_MAX_BAN_MS = 24 * 60 * 60 * 1000
/** Growth of the ban length per earlier ban. */
export const BAN_GROWTH = 4
/** The count of earlier bans halves every this many milliseconds: a peer that behaves is forgiven. */
export const BAN_MEMORY_HALF_LIFE_MS = 24 * 60 * 60 * 1000
