/**
 * Whether a provider takes a request from a peer, before it spends anything on it: the one place
 * for the per-peer limits of serving (docs/delivery.md, "Rate limits, quotas and bans").
 *
 * - **Input size**, per task type: a request larger than the cap is refused with
 *   `ERR_INPUT_TOO_LARGE` (another provider may take it).
 * - **Rate**, per sender (the peer on the stream, whose CPU it is that the frames cost): a token
 *   bucket of `burst` requests refilled at `tasksPerSecond`; beyond it `ERR_RATE_LIMITED` with a
 *   `retryAfterMs`, checked before the request's signature is, so that a flood costs little.
 * - **Open tasks**, per requester (who signed the request): at most `maxOpenTasks` conversations
 *   at once across all its streams and relays; beyond it `ERR_BUSY`.
 *
 * A sender told to wait (any reject with `retryAfterMs`) that keeps sending after the requests
 * already on their way had time to arrive commits an offence with each request
 * (`ignored-retry-after`), dropped unread and unanswered; enough of them and the reputation book
 * bans it. How the slots are shared between requesters once admitted is the
 * engine's scheduler's business (fair queueing by requester, weighted by priority); the weight a
 * requester's priority earns is decided here (`weight`).
 *
 * A banned requester's tasks are refused (`ERR_ACCESS_DENIED`) also when a relay brings them.
 *
 * Exempt peers (`protection.exempt`) skip the rate limit and the open-task quota, and their
 * priorities weigh in full.
 */
import { weightOf } from '@p2p-ai/engine'
import { DEFAULT_PRIORITY, TASK_ERROR_CODES, type WireError } from '@p2p-ai/protocol'
import { PeerRate } from '../../peers/rate.js'
import type { Offence } from '../../peers/reputation.js'
import {
  BUSY_RETRY_AFTER_MS,
  RATE_LIMIT_MIN_RETRY_AFTER_MS,
  RETRY_AFTER_GRACE_MIN_MS,
  RETRY_AFTER_GRACE_RTTS,
  RETRY_AFTER_GRACE_UNKNOWN_RTT_MS,
} from '../constants.js'

/** The serving limits in force (the `protection.*` settings). */
export interface ServingLimits {
  /** Requests per second one sender may make, on average. */
  readonly tasksPerSecond: number
  /** Requests one sender may make at once above that rate. */
  readonly burst: number
  /** Conversations one requester may have open at once. */
  readonly maxOpenTasks: number
  /** Largest request, in bytes as it arrived, of a task type without a cap of its own. */
  readonly maxInputBytes: number
  /** Caps of their own, by task type. */
  readonly maxInputBytesByType: ReadonlyMap<string, number>
}

/** Why a request is refused, and when to try again. */
export interface Refusal {
  readonly error: WireError
  readonly retryAfterMs?: number
  /**
   * Sent after the peer was told to wait: it goes unanswered (answering a flood would only add to
   * it; the peer knows when to come back).
   */
  readonly unanswered?: true
}

export interface AdmissionInit {
  limits: ServingLimits
  /** Whether a peer skips the rate limit and the quota. */
  isExempt(peer: string): boolean
  /** Whether a peer is banned (the reputation book). @default none is */
  isBanned?(peer: string): boolean
  /** Records misbehaviour (the reputation book). */
  offence(peer: string, offence: Offence): void
  /** The round-trip time to a peer, if measured (the peer directory's). */
  rttOf?(peer: string): number | undefined
  /** @default performance.now */
  now?: () => number
}

/** A sender told to wait (a reject with `retryAfterMs`). */
interface Told {
  /** When the reject left. */
  at: number
  /** Until when it should send nothing new. */
  until: number
  /** The code it was told to wait with, sent again to what it sends meanwhile. */
  code: WireError['code']
}

/** Senders told to wait before a sweep of those whose wait ended. */
const SWEEP_ABOVE = 256

export class Admission {
  #limits: ServingLimits
  readonly #isExempt: (peer: string) => boolean
  readonly #isBanned: (peer: string) => boolean
  readonly #offence: (peer: string, offence: Offence) => void
  readonly #rttOf: (peer: string) => number | undefined
  readonly #now: () => number
  readonly #rate: PeerRate
  readonly #told = new Map<string, Told>()
  readonly #open = new Map<string, number>()
  #sweepAt = SWEEP_ABOVE

  constructor(init: AdmissionInit) {
    this.#limits = init.limits
    this.#isExempt = init.isExempt
    this.#isBanned = init.isBanned ?? (() => false)
    this.#offence = init.offence
    this.#rttOf = init.rttOf ?? (() => undefined)
    this.#now = init.now ?? (() => performance.now())
    this.#rate = new PeerRate({
      perSecond: init.limits.tasksPerSecond,
      burst: init.limits.burst,
      now: this.#now,
    })
  }

  get limits(): ServingLimits {
    return this.#limits
  }

  /** New limits (a config reload); buckets keep their tokens, up to the new burst. */
  configure(limits: ServingLimits): void {
    this.#limits = limits
    this.#rate.configure(limits.tasksPerSecond, limits.burst)
  }

  /**
   * A request (or forward) of `taskType` and `bytes` arrived from `sender`, not yet verified.
   * Undefined when it may go on; else the refusal to send. Spends one of the sender's tokens.
   */
  arrive(sender: string, taskType: string | undefined, bytes: number): Refusal | undefined {
    const cap =
      (taskType === undefined ? undefined : this.#limits.maxInputBytesByType.get(taskType)) ??
      this.#limits.maxInputBytes
    if (bytes > cap) {
      return {
        error: {
          code: TASK_ERROR_CODES.inputTooLarge,
          message: `the request is ${bytes} bytes; this node takes at most ${cap} for ${taskType ?? 'this task type'}`,
        },
      }
    }
    if (this.#isExempt(sender)) return undefined
    const now = this.#now()
    const told = this.#told.get(sender)
    if (told !== undefined && now < told.until) {
      const refusal: Refusal = {
        error: { code: told.code, message: 'told to wait: retry after the time given' },
        retryAfterMs: Math.ceil(told.until - now),
      }
      // Requests already on their way when it was told are expected, and answered; later ones are not.
      if (now - told.at <= this.#grace(sender, told.until - told.at)) return refusal
      this.#offence(sender, 'ignored-retry-after')
      return { ...refusal, unanswered: true }
    }
    const waitMs = this.#rate.take(sender)
    if (waitMs === 0) return undefined
    const { tasksPerSecond, burst } = this.#limits
    const refusal: Refusal = {
      error: {
        code: TASK_ERROR_CODES.rateLimited,
        message: `more than ${tasksPerSecond} requests a second (bursts of ${burst}) from one peer`,
      },
      retryAfterMs: Math.max(RATE_LIMIT_MIN_RETRY_AFTER_MS, Math.ceil(waitMs)),
    }
    this.told(sender, refusal)
    return refusal
  }

  /**
   * Any other message from `sender` (a cancel, a type nobody sends a provider): it costs one of
   * the sender's tokens; false when it has none left (the message is dropped, unanswered).
   */
  spend(sender: string): boolean {
    return this.#isExempt(sender) || this.#rate.take(sender) === 0
  }

  /**
   * Whether a request signed by `requester` is refused for its ban. The connection gater keeps a
   * banned peer's own connections out; this refuses its tasks when a relay brings them.
   */
  refuseBanned(requester: string): WireError | undefined {
    if (!this.#isBanned(requester)) return undefined
    return {
      code: TASK_ERROR_CODES.accessDenied,
      message: `requester ${requester} is banned on this node for a while`,
    }
  }

  /**
   * A conversation for `requester` opens (after its request verified). Undefined when it may;
   * else the refusal (`ERR_BUSY`). Each one opened must be `closed` once.
   */
  open(requester: string): Refusal | undefined {
    const open = this.#open.get(requester) ?? 0
    if (open >= this.#limits.maxOpenTasks && !this.#isExempt(requester)) {
      return {
        error: {
          code: TASK_ERROR_CODES.busy,
          message: `at most ${this.#limits.maxOpenTasks} open tasks per requester`,
        },
        retryAfterMs: BUSY_RETRY_AFTER_MS,
      }
    }
    this.#open.set(requester, open + 1)
    return undefined
  }

  /** A conversation `open` admitted ended. */
  closed(requester: string): void {
    const open = (this.#open.get(requester) ?? 0) - 1
    if (open > 0) this.#open.set(requester, open)
    else this.#open.delete(requester)
  }

  /**
   * The weight of a task of `requester` at `priority` in its share of the slots. A priority above
   * the default counts as the default, except from an exempt peer: priority orders a requester's
   * own tasks, but a stranger does not get a larger share of this node by marking every task urgent.
   */
  weight(requester: string, priority: number): number {
    return weightOf(this.#isExempt(requester) ? priority : Math.min(priority, DEFAULT_PRIORITY))
  }

  /** Conversations open for `requester`. */
  openOf(requester: string): number {
    return this.#open.get(requester) ?? 0
  }

  /** `sender` was sent a reject with a `retryAfterMs`: it should send nothing new until then. */
  told(sender: string, refusal: Refusal): void {
    if (refusal.retryAfterMs === undefined || this.#isExempt(sender)) return
    const now = this.#now()
    const until = now + refusal.retryAfterMs
    const told = this.#told.get(sender)
    // A second reject within the window (one of the requests on their way) does not move its start.
    if (told !== undefined && now < told.until) {
      told.until = Math.max(told.until, until)
      told.code = refusal.error.code
      return
    }
    if (this.#told.size >= this.#sweepAt) this.#sweep(now)
    this.#told.set(sender, { at: now, until, code: refusal.error.code })
  }

  /** How long after a reject the requests already on their way may still arrive from `peer`. */
  #grace(peer: string, waitMs: number): number {
    const rtt = this.#rttOf(peer)
    const onTheirWay = rtt === undefined ? RETRY_AFTER_GRACE_UNKNOWN_RTT_MS : RETRY_AFTER_GRACE_RTTS * rtt
    return Math.min(waitMs / 2, Math.max(RETRY_AFTER_GRACE_MIN_MS, onTheirWay))
  }

  /** Forgets senders whose wait ended. */
  #sweep(now: number): void {
    for (const [peer, told] of this.#told) if (now >= told.until) this.#told.delete(peer)
    this.#sweepAt = Math.max(SWEEP_ABOVE, 2 * this.#told.size)
  }
}
