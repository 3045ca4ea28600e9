/**
 * Peer selection for `target: 'auto'`. Pure functions over a snapshot of the candidates, so the
 * policy can be tested without a network.
 *
 * Policy:
 * 1. Only peers that can run the task (task type, and the model when one is asked for), whose
 *    circuit is not open, that did not just say they are busy, and that this task has not
 *    already failed on (unless no other is left).
 * 2. Peers with a free slot come first: a peer whose estimated load fills its concurrency is
 *    skipped while any other has room. Only when every candidate is full does the task queue,
 *    on the least loaded one (its provider answers `ERR_BUSY` if its queue is full too).
 * 3. Among those, the lowest cost wins:
 *    `(load + 1) / concurrency × (1 + max(0, latency − 10 ms) / 50 ms) / reputation score
 *    × (1 + others' CPU)`, where others' CPU (0 to 1) is the share of the provider's machine its
 *    owner's own programs use (announced in `resources`, minor 4; 0 when unknown): a task there
 *    shares the cores with them, and with the scheduler splitting a contended core evenly, runs up
 *    to twice as long. Gentle on purpose: readings of equally busy machines differ by noise, which
 *    must not starve one of them (differences under the tie margin count as ties). Three times
 *    that for a peer reached only through a circuit relay (`RELAYED_COST_FACTOR`).
 *    Costs within 10 % of the lowest count as ties, which go to the peer this node sent the
 *    fewest tasks recently (then to chance). Without that margin, the small differences between
 *    equal peers (a latency average, a success count) would send every task to the same one.
 */
import { COST_TIE_MARGIN, LATENCY_FREE_MS, LATENCY_SCALE_MS, RELAYED_COST_FACTOR } from '../constants.js'

/** One peer (or this node) that could run the task, as routing sees it right now. */
export interface Candidate {
  readonly peer: string
  /** Tasks it runs at once. */
  readonly concurrency: number
  /** Estimated tasks running or queued there now, this node's own outstanding ones included. */
  readonly load: number
  /** Network latency estimate in ms (0 for this node itself); unknown counts as close. */
  readonly latencyMs: number | undefined
  /** Reputation score, 0..1. */
  readonly score: number
  /** Tasks this node routed to it recently (a decaying count): the tie-breaker. */
  readonly recentDispatches: number
  /** Share of its machine (0 to 1) its owner's other processes use; unknown counts as 0. */
  readonly othersCpu?: number
  /** Reached only through a circuit relay (no direct connection yet). */
  readonly relayed?: boolean
}

/** Cost of sending one more task to `c`; lower is better. */
export function cost(c: Candidate): number {
  const fill = (c.load + 1) / Math.max(1, c.concurrency)
  // Unknown latency counts as close: a new peer gets its chance to be measured.
  const latency = 1 + Math.max(0, (c.latencyMs ?? 0) - LATENCY_FREE_MS) / LATENCY_SCALE_MS
  // Sharing the cores with the owner's work: the task runs slower there.
  const contention = 1 + Math.min(1, Math.max(0, c.othersCpu ?? 0))
  const path = c.relayed === true ? RELAYED_COST_FACTOR : 1
  // A floor keeps a peer with a terrible record selectable when it is the only one left.
  return ((fill * latency * path) / Math.max(c.score, 0.05)) * contention
}

/** Whether the candidate has a free slot by our estimate. */
export function hasFreeSlot(c: Candidate): boolean {
  return c.load < c.concurrency
}

/**
 * Picks the candidate to send the next task to, or undefined if there is none.
 *
 * @param random a source of uniform numbers in [0, 1), for tie-breaking (injectable for tests)
 */
export function pickCandidate(
  candidates: readonly Candidate[],
  random: () => number = Math.random,
): Candidate | undefined {
  if (candidates.length === 0) return undefined
  const free = candidates.filter(hasFreeSlot)
  const pool = free.length > 0 ? free : candidates
  const costs = pool.map(cost)
  const lowest = Math.min(...costs)
  const tied = pool.filter((_, i) => (costs[i] as number) <= lowest * (1 + COST_TIE_MARGIN))
  const fewest = Math.min(...tied.map((c) => c.recentDispatches))
  const best = tied.filter((c) => c.recentDispatches <= fewest + 1e-6)
  return best[Math.min(best.length - 1, Math.floor(random() * best.length))]
}
