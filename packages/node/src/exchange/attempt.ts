/**
 * The pieces of a task's attempts that do not need the task itself: where an attempt goes, what
 * a failed one means for the task and for the peer, and how long to wait before the next.
 */
import type { PeerId } from '@libp2p/interface'
import type { TaskEngine, TaskRecord } from '@p2p-ai/engine'
import type { JsonObject, Signer, TaskResult } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import { BUSY_RETRY_AFTER_MS, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS } from './constants.js'
import type { ReputationBook } from './reputation.js'
import type { TaskRequester } from './requester.js'
import type { NetworkTask } from './task.js'
import type { TrackedTask } from './task-registry.js'
import type { TaskTarget } from './types.js'
import { resultVerdict, type Verdict, wireCode } from './wire.js'

/** Where the next attempt goes. */
export type Choice =
  | { readonly local: true }
  | {
      readonly local: false
      readonly peer: string
      readonly peerId: PeerId
      /** Send a `task.forward` (the peer relays it towards a provider) rather than a request. */
      readonly forward?: true
    }

/** What a task needs of the exchange around it. */
export interface TaskContext {
  readonly self: string
  readonly signer: Signer
  readonly requester: TaskRequester
  readonly engine: TaskEngine
  readonly reputation: ReputationBook
  readonly acceptTimeoutMs: number
  readonly maxFrameBytes: number
  readonly log: Logger
  /** Whether the exchange has stopped (tasks submitted now fail at once). */
  readonly stopped: boolean
  /** Whether the access policy lets this node exchange tasks with the peer. */
  allows(peer: string): boolean
  /** A neighbour refused to forward a task of `type` (no route, too far): skip it until it re-announces. */
  routeRefused(peer: string, type: string): void
  /** The next place to try, skipping `tried` while others remain; undefined if none fits now. */
  choose(task: NetworkTask, tried: ReadonlySet<string>): Choice | undefined
  /** The task reached a final status. */
  finished(task: TrackedTask): void
}

/** The settled, validated form of a submission. */
export interface TaskSpec {
  readonly id: string
  readonly type: string
  readonly input: JsonObject
  readonly priority: number
  readonly timeoutMs: number
  readonly target: TaskTarget
  readonly maxAttempts: number
  readonly waitForPeerMs: number
  readonly allowLocal: boolean
  readonly modelSha256: string | undefined
  /** Links the task may travel to its provider (1: connected peers only). */
  readonly maxHops: number
  /** Providers to run it on at once (verification by redundancy); 1 for a plain task. */
  readonly redundancy: number
  /** Providers this task must not use (the others of a redundant run), this node's PeerId included. */
  readonly exclude?: ReadonlySet<string>
}

/** How one attempt ended. */
export type AttemptOutcome =
  | { readonly kind: 'done' }
  | {
      readonly kind: 'failed'
      readonly error: { code: string; message: string }
      readonly verdict: Verdict
      /** For a final verdict: the status the task ends in. */
      readonly status?: 'FAILED' | 'TIMEOUT' | 'CANCELLED'
      readonly retryAfterMs?: number
    }

/** The outcome of a provider's result whose status is not `completed`. */
export function failedResult(result: Exclude<TaskResult, { status: 'completed' }>): AttemptOutcome {
  const status =
    result.status === 'timeout' ? 'TIMEOUT' : result.status === 'cancelled' ? 'CANCELLED' : 'FAILED'
  return {
    kind: 'failed',
    error: result.error,
    verdict: resultVerdict(result.status, result.error.code),
    status,
  }
}

/** A local run that did not complete: always final (a local failure is the task's own). */
export function localFailure(record: TaskRecord): AttemptOutcome {
  const code = wireCode(record.error?.code ?? 'ERR_INTERNAL')
  const error = { code, message: record.error?.message ?? record.status.toLowerCase() }
  const status =
    record.status === 'TIMEOUT' ? 'TIMEOUT' : record.status === 'CANCELLED' ? 'CANCELLED' : 'FAILED'
  return { kind: 'failed', error, verdict: { kind: 'final' }, status }
}

/** Records what a failed attempt says about the peer in its reputation. */
export function blame(
  book: ReputationBook,
  peer: string,
  verdict: Verdict,
  retryAfterMs: number | undefined,
): void {
  if (verdict.kind === 'final') book.recordNeutral(peer)
  else if (verdict.blame === 'busy') book.recordBusy(peer, retryAfterMs ?? BUSY_RETRY_AFTER_MS)
  else if (verdict.blame === 'failure') book.recordFailure(peer, 'failure')
  else if (verdict.blame === 'misbehaviour') book.recordFailure(peer, 'misbehaviour')
  else book.recordNeutral(peer)
}

/** Delay before attempt `n` (2-based): the second goes at once, then exponential with jitter. */
export function backoff(n: number): number {
  if (n <= 2) return 0
  const base = Math.min(RETRY_BASE_DELAY_MS * 2 ** (n - 3), RETRY_MAX_DELAY_MS)
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

/** The house-format code of an error, or `ERR_INTERNAL`. */
export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) ? code : 'ERR_INTERNAL'
}
