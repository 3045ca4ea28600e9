/**
 * Per-peer track record: decaying success and failure counts, a latency EWMA, misbehaviour
 * (forged or mismatched results), agreement with other providers (for redundant verification),
 * and a circuit breaker. Routing reads it to rank peers; `node.peers()` shows it.
 *
 * Counts decay exponentially (half-life `REPUTATION_HALF_LIFE_MS`), so an old failure weighs
 * less than a new one and an idle peer drifts back towards the prior: reputation is earned
 * continuously, and recovers.
 *
 * It also keeps each peer's conduct towards this node, whichever side of a task it was on:
 * offences (malformed or forged frames, requests sent while told to wait...) cost points by
 * `OFFENCE_POINTS`, and a peer that reaches `BAN_POINTS` is banned: the peer directory hangs up
 * on it and the transport's connection gater refuses it until the ban ends. Bans grow with each
 * repeat; exempt peers are never banned.
 */
import { TypedEventEmitter } from 'main-event'
import {
  BAN_GROWTH,
  BAN_MEMORY_HALF_LIFE_MS,
  BAN_POINTS,
  CIRCUIT_FAILURE_THRESHOLD,
  CIRCUIT_MAX_OPEN_MS,
  CIRCUIT_OPEN_MS,
  DEFAULT_BAN_MS,
  DEFAULT_MAX_BAN_MS,
  LATENCY_EWMA_ALPHA,
  MISBEHAVIOUR_HALF_LIFE_MS,
  OFFENCE_HALF_LIFE_MS,
  OFFENCE_POINTS,
  PRIOR_FAILURES,
  PRIOR_SUCCESSES,
  REPUTATION_HALF_LIFE_MS,
} from './constants.js'

/**
 * `closed`: tasks flow. `open`: the peer failed `CIRCUIT_FAILURE_THRESHOLD` times in a row (or
 * sent a forged result) and gets no tasks until `openUntil`. `half-open`: the wait is over; one
 * trial task may go, and its outcome closes or reopens the circuit.
 */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** A peer's reputation as routing and `node.peers()` see it. */
export interface PeerReputation {
  /** Tasks it completed, decayed. */
  readonly successes: number
  /** Attempts that failed on its side (disconnects, timeouts, internal errors), decayed. */
  readonly failures: number
  /** `(successes + 2) / (successes + failures + 3)`: 2/3 for a peer we know nothing about. */
  readonly successRate: number
  /** EWMA of the network part of a task round trip (round trip − provider's own time), ms. */
  readonly latencyMs?: number
  /** Results that failed verification (bad signature, wrong signer, mismatched request), decayed slowly. */
  readonly misbehaviour: number
  /** Times its result agreed / disagreed with other providers' for the same task (redundant runs). */
  readonly agreements: number
  readonly disagreements: number
  readonly circuit: CircuitState
  /** While `open`: when a trial is allowed again. */
  readonly openUntil?: number
  readonly consecutiveFailures: number
  /** While the peer said it is busy: when to try again. */
  readonly busyUntil?: number
  /** 0..1, what routing multiplies in: success rate, discounted by misbehaviour and disagreement. */
  readonly score: number
  /** Offence points towards this node (decaying); a ban comes at `BAN_POINTS`. */
  readonly offences: number
  /** While banned: `Date.now()` when the ban ends. */
  readonly bannedUntil?: number
  /** While banned: the offence that completed it. */
  readonly banReason?: Offence
}

/** A kind of misbehaviour towards this node (see `OFFENCE_POINTS`). */
export type Offence = keyof typeof OFFENCE_POINTS

/** A ban that just started. */
export interface PeerBan {
  readonly peer: string
  /** `Date.now()` when it ends. */
  readonly until: number
  readonly reason: Offence
  /** Its length; each repeat is longer. */
  readonly durationMs: number
}

/** How the book bans (the `protection.*` settings). */
export interface ConductSettings {
  /** First ban's length; each further one 4 times longer. @default 60_000 */
  banMs?: number
  /** Longest ban. @default 86_400_000 */
  maxBanMs?: number
  /** PeerIds never banned. @default [] */
  exempt?: readonly string[]
}

export interface ReputationBookEvents {
  /** A peer was banned: hang up on it and refuse it until `until`. */
  'peer:banned': CustomEvent<PeerBan>
}

/**
 * What a failed attempt says about the peer that was asked (the failure policy table decides it
 * by error code): nothing, that it is at capacity, that it failed, or that it lied.
 */
export type Blame = 'none' | 'busy' | 'failure' | 'misbehaviour'

/** What an attempt's failure says about the peer. */
export type FailureKind =
  /** It did not do its part: disconnected, unresponsive, internal error. Counts towards the circuit. */
  | 'failure'
  /** It sent a result that does not verify. Opens the circuit at once. */
  | 'misbehaviour'

interface Entry {
  successes: number
  failures: number
  misbehaviour: number
  /** When the three counts above were last decayed. */
  decayedAt: number
  latencyMs: number | undefined
  agreements: number
  disagreements: number
  consecutiveFailures: number
  circuit: CircuitState
  openUntil: number
  openMs: number
  trialInFlight: boolean
  busyUntil: number
  /** Offence points, decayed up to `decayedAt` like the counts. */
  offences: number
  /** Earlier bans, decayed: each makes the next one longer. */
  bans: number
  bannedUntil: number
  banReason: Offence | undefined
  snapshot: PeerReputation | undefined
}

export interface ReputationBookInit {
  /** @default Date.now */
  now?: () => number
  /** @default REPUTATION_HALF_LIFE_MS (10 minutes) */
  halfLifeMs?: number
  /** How bans work. */
  conduct?: ConductSettings
}

/** Reputation of every peer this node has sent tasks to, and the conduct of every peer towards it. */
export class ReputationBook extends TypedEventEmitter<ReputationBookEvents> {
  readonly #entries = new Map<string, Entry>()
  readonly #now: () => number
  readonly #halfLifeMs: number
  #banMs = DEFAULT_BAN_MS
  #maxBanMs = DEFAULT_MAX_BAN_MS
  #exempt: ReadonlySet<string> = new Set()

  constructor(init: ReputationBookInit = {}) {
    super()
    this.#now = init.now ?? Date.now
    this.#halfLifeMs = init.halfLifeMs ?? REPUTATION_HALF_LIFE_MS
    this.configure(init.conduct ?? {})
  }

  /** Sets how bans work (a config reload); bans in force keep their end. */
  configure(settings: ConductSettings): void {
    this.#banMs = settings.banMs ?? DEFAULT_BAN_MS
    this.#maxBanMs = Math.max(this.#banMs, settings.maxBanMs ?? DEFAULT_MAX_BAN_MS)
    this.#exempt = new Set(settings.exempt ?? [])
    // An exempt peer banned before is let back in at once.
    for (const peer of this.#exempt) this.unban(peer)
  }

  /** Whether the peer is never banned (nor rate limited: the provider asks here). */
  isExempt(peer: string): boolean {
    return this.#exempt.has(peer)
  }

  /**
   * The peer misbehaved towards this node `count` times: its offence points grow, and at
   * `BAN_POINTS` it is banned (`peer:banned`). Ignored for exempt and already banned peers.
   */
  recordOffence(peer: string, offence: Offence, count = 1): void {
    if (this.#exempt.has(peer) || this.isBanned(peer)) return
    const entry = this.#entry(peer)
    entry.offences += OFFENCE_POINTS[offence] * count
    entry.snapshot = undefined
    if (entry.offences < BAN_POINTS) return
    const durationMs = Math.min(this.#maxBanMs, this.#banMs * BAN_GROWTH ** Math.round(entry.bans))
    entry.bans += 1
    entry.offences = 0
    entry.bannedUntil = this.#now() + durationMs
    entry.banReason = offence
    this.safeDispatchEvent('peer:banned', {
      detail: { peer, until: entry.bannedUntil, reason: offence, durationMs },
    })
  }

  /** Whether the peer is banned now. */
  isBanned(peer: string): boolean {
    const entry = this.#entries.get(peer)
    return entry !== undefined && entry.bannedUntil > this.#now()
  }

  /** Peers banned now. */
  banned(): PeerBan[] {
    const now = this.#now()
    const out: PeerBan[] = []
    for (const [peer, entry] of this.#entries) {
      if (entry.bannedUntil > now) {
        out.push({
          peer,
          until: entry.bannedUntil,
          reason: entry.banReason as Offence,
          durationMs: entry.bannedUntil - now,
        })
      }
    }
    return out
  }

  /** Ends the peer's ban now (its earlier bans still count towards the next one's length). */
  unban(peer: string): void {
    const entry = this.#entries.get(peer)
    if (entry === undefined || entry.bannedUntil === 0) return
    entry.bannedUntil = 0
    entry.banReason = undefined
    entry.snapshot = undefined
  }

  /** The peer's reputation now; a neutral one for a peer never seen. */
  get(peer: string): PeerReputation {
    const entry = this.#entries.get(peer)
    if (entry === undefined) return NEUTRAL
    this.#advance(entry)
    entry.snapshot ??= snapshot(entry)
    return entry.snapshot
  }

  /** Whether routing may send the peer a task now (circuit not open, not busy, not banned). */
  isAvailable(peer: string): boolean {
    const entry = this.#entries.get(peer)
    if (entry === undefined) return true
    this.#advance(entry)
    if (entry.busyUntil > this.#now() || entry.bannedUntil > this.#now()) return false
    if (entry.circuit === 'open') return false
    return entry.circuit === 'closed' || !entry.trialInFlight
  }

  /** Routing picked the peer: in half-open state this is the one trial allowed. */
  dispatched(peer: string): void {
    const entry = this.#entries.get(peer)
    if (entry === undefined) return
    this.#advance(entry)
    if (entry.circuit === 'half-open') entry.trialInFlight = true
  }

  /** The peer returned a verified result. `latencyMs`: the network part of the round trip. */
  recordSuccess(peer: string, latencyMs?: number): void {
    const entry = this.#entry(peer)
    entry.successes += 1
    if (latencyMs !== undefined && Number.isFinite(latencyMs) && latencyMs >= 0) {
      entry.latencyMs =
        entry.latencyMs === undefined
          ? latencyMs
          : entry.latencyMs + LATENCY_EWMA_ALPHA * (latencyMs - entry.latencyMs)
    }
    entry.consecutiveFailures = 0
    entry.circuit = 'closed'
    entry.openMs = CIRCUIT_OPEN_MS
    entry.trialInFlight = false
    entry.snapshot = undefined
  }

  /** An attempt on the peer failed through the peer's fault. */
  recordFailure(peer: string, kind: FailureKind = 'failure'): void {
    const entry = this.#entry(peer)
    entry.failures += 1
    entry.consecutiveFailures += 1
    if (kind === 'misbehaviour') entry.misbehaviour += 1
    const trialFailed = entry.circuit === 'half-open'
    if (kind === 'misbehaviour' || trialFailed || entry.consecutiveFailures >= CIRCUIT_FAILURE_THRESHOLD) {
      if (trialFailed) entry.openMs = Math.min(entry.openMs * 2, CIRCUIT_MAX_OPEN_MS)
      entry.circuit = 'open'
      entry.openUntil = this.#now() + entry.openMs
    }
    entry.trialInFlight = false
    entry.snapshot = undefined
  }

  /** The peer is at capacity: not a failure, but no tasks for it until `retryAfterMs` passed. */
  recordBusy(peer: string, retryAfterMs: number): void {
    const entry = this.#entry(peer)
    entry.busyUntil = Math.max(entry.busyUntil, this.#now() + Math.max(0, retryAfterMs))
    entry.trialInFlight = false
    entry.snapshot = undefined
  }

  /** The peer said it has room again (it resumed): its `busy` wait is over. */
  clearBusy(peer: string): void {
    const entry = this.#entries.get(peer)
    if (entry === undefined || entry.busyUntil === 0) return
    entry.busyUntil = 0
    entry.snapshot = undefined
  }

  /**
   * Records a failed attempt by what it says about the peer; `retryAfterMs` is the peer's own
   * estimate for `busy`.
   */
  recordBlame(peer: string, blame: Blame, retryAfterMs: number): void {
    if (blame === 'busy') this.recordBusy(peer, retryAfterMs)
    else if (blame === 'none') this.recordNeutral(peer)
    else {
      this.recordFailure(peer, blame)
      // A lie is also an offence: enough of them, and the peer is refused altogether.
      if (blame === 'misbehaviour') this.recordOffence(peer, 'misbehaviour')
    }
  }

  /** The attempt ended without telling anything about the peer (we cancelled it). */
  recordNeutral(peer: string): void {
    const entry = this.#entries.get(peer)
    if (entry === undefined) return
    entry.trialInFlight = false
  }

  /**
   * The peer's result for a task agreed (or not) with other providers' results for the same task.
   * Verification by redundancy (`redundancy: k`) records this for every answer once a majority agreed.
   */
  recordAgreement(peer: string, agreed: boolean): void {
    const entry = this.#entry(peer)
    if (agreed) entry.agreements += 1
    else entry.disagreements += 1
    entry.snapshot = undefined
  }

  /** Every peer with a record. */
  peers(): string[] {
    return [...this.#entries.keys()]
  }

  /** Forgets a peer. */
  delete(peer: string): void {
    this.#entries.delete(peer)
  }

  #entry(peer: string): Entry {
    let entry = this.#entries.get(peer)
    if (entry === undefined) {
      entry = {
        successes: 0,
        failures: 0,
        misbehaviour: 0,
        decayedAt: this.#now(),
        latencyMs: undefined,
        agreements: 0,
        disagreements: 0,
        consecutiveFailures: 0,
        circuit: 'closed',
        openUntil: 0,
        openMs: CIRCUIT_OPEN_MS,
        trialInFlight: false,
        busyUntil: 0,
        offences: 0,
        bans: 0,
        bannedUntil: 0,
        banReason: undefined,
        snapshot: undefined,
      }
      this.#entries.set(peer, entry)
    } else {
      this.#advance(entry)
    }
    return entry
  }

  /** Applies decay and the open → half-open transition up to now. */
  #advance(entry: Entry): void {
    const now = this.#now()
    const elapsed = now - entry.decayedAt
    // Decaying on every call would cost an exponentiation per routed task; 1 s steps are plenty.
    if (elapsed >= 1_000) {
      const factor = 0.5 ** (elapsed / this.#halfLifeMs)
      entry.successes *= factor
      entry.failures *= factor
      entry.misbehaviour *= 0.5 ** (elapsed / MISBEHAVIOUR_HALF_LIFE_MS)
      entry.offences *= 0.5 ** (elapsed / OFFENCE_HALF_LIFE_MS)
      entry.bans *= 0.5 ** (elapsed / BAN_MEMORY_HALF_LIFE_MS)
      entry.decayedAt = now
      entry.snapshot = undefined
    }
    if (entry.circuit === 'open' && now >= entry.openUntil) {
      entry.circuit = 'half-open'
      entry.trialInFlight = false
      entry.snapshot = undefined
    }
    if (entry.busyUntil !== 0 && entry.busyUntil <= now) {
      entry.busyUntil = 0
      entry.snapshot = undefined
    }
    if (entry.bannedUntil !== 0 && entry.bannedUntil <= now) {
      entry.bannedUntil = 0
      entry.banReason = undefined
      entry.snapshot = undefined
    }
  }
}

function successRate(successes: number, failures: number): number {
  return (successes + PRIOR_SUCCESSES) / (successes + failures + PRIOR_SUCCESSES + PRIOR_FAILURES)
}

function snapshot(entry: Entry): PeerReputation {
  const rate = successRate(entry.successes, entry.failures)
  // Each verified lie halves trust; disagreement discounts it like failures do a success rate.
  const honesty = 0.5 ** entry.misbehaviour
  const agreement = (entry.agreements + 1) / (entry.agreements + entry.disagreements + 1)
  return Object.freeze({
    successes: round(entry.successes),
    failures: round(entry.failures),
    successRate: round(rate),
    ...(entry.latencyMs === undefined ? {} : { latencyMs: round(entry.latencyMs) }),
    misbehaviour: round(entry.misbehaviour),
    agreements: entry.agreements,
    disagreements: entry.disagreements,
    circuit: entry.circuit,
    ...(entry.circuit === 'open' ? { openUntil: entry.openUntil } : {}),
    consecutiveFailures: entry.consecutiveFailures,
    ...(entry.busyUntil === 0 ? {} : { busyUntil: entry.busyUntil }),
    score: round(rate * honesty * agreement),
    offences: round(entry.offences),
    ...(entry.bannedUntil === 0
      ? {}
      : { bannedUntil: entry.bannedUntil, banReason: entry.banReason as Offence }),
  })
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}

const NEUTRAL: PeerReputation = Object.freeze({
  successes: 0,
  failures: 0,
  successRate: round(successRate(0, 0)),
  misbehaviour: 0,
  agreements: 0,
  disagreements: 0,
  circuit: 'closed',
  consecutiveFailures: 0,
  score: round(successRate(0, 0)),
  offences: 0,
})
