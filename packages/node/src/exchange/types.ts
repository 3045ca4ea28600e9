/**
 * Public types of the task exchange: what `node.submit` takes and returns, and what
 * `node.tasks` lists.
 */
import type { ContentRef, TaskErrorCode, TaskTimings } from '@p2p-ai/protocol'
import type { TypedEventTarget } from 'main-event'
import type { AttemptInfo, RedundantAnswer, TaskRecordError } from './errors.js'
import type { AgreementRule } from './trust/agreement.js'

/** Where a task runs: chosen by the network (`'auto'`), on this node (`'local'`), or on one peer (its PeerId). */
export type TaskTarget = 'auto' | 'local' | (string & {})

/** A task to run somewhere on the network. */
export interface TaskSubmission<Input = Record<string, unknown>> {
  /** Task type, such as `embed`, `chunk` or one registered with `registerTask`. */
  type: string
  /** Task-type specific input: a JSON object. */
  input: Input
  /**
   * Task id, 8 to 64 characters from `A–Z a–z 0–9 _ -`. Submitting an id this node already
   * knows returns that task's handle; providers run a given id at most once per requester. An id
   * known only from the store of submitted tasks (a task of before a restart) runs again, and its
   * new final record replaces the stored one.
   *
   * @default a random UUID
   */
  id?: string
  /**
   * 0 (lowest) to 9 (highest).
   *
   * @default 5
   */
  priority?: number
  /**
   * Time the provider may take, queueing included, per attempt.
   *
   * @default 30_000
   */
  timeoutMs?: number
}

/** Per-call options of `submit`. */
export interface SubmitOptions {
  /**
   * `'auto'`: the best capable peer (or this node) by free capacity, latency and track record,
   * with failover. `'local'`: this node's engine. A PeerId: that peer only (retried on it, never
   * moved elsewhere).
   *
   * @default 'auto'
   */
  target?: TaskTarget
  /**
   * Attempts in all, the first included, before the task fails with `ERR_RETRIES_EXHAUSTED`.
   *
   * @default 4
   */
  maxAttempts?: number
  /**
   * How long to wait for a capable peer (or for the target peer to connect) before failing with
   * `ERR_NO_CAPABLE_PEER`.
   *
   * @default 5_000
   */
  waitForPeerMs?: number
  /**
   * With `target: 'auto'`, whether this node itself may run the task.
   *
   * @default true
   */
  allowLocal?: boolean
  /** Only peers that announce a model with this SHA-256 (64 lowercase hex digits) for the task type. */
  modelSha256?: string
  /**
   * Only peers (and this node) that announce a model for the task type that is all of this: a
   * generative model's family, quantization, context length. With `input.model` and
   * `modelSha256`, one announced model must meet them all.
   */
  model?: ModelRequirement
  /**
   * Verification by redundancy: run the task on this many distinct providers (this node may be
   * one) and accept the output once more than half of them agree (`agreement`); without such a
   * majority the task fails with `ERR_NO_AGREEMENT`. Only with `target: 'auto'`.
   *
   * @default 1
   */
  redundancy?: number
  /**
   * When two outputs agree, for `redundancy` > 1.
   *
   * @default the task type's rule: cosine ≥ 0.999 for `embed`, edit distance ≤ 10 % for `ocr`, the
   * rule given to `registerTask` or `setAgreementRule`, else exact equality
   */
  agreement?: AgreementRule
  /**
   * Links the task may travel to its provider: 1 keeps it to connected peers; more lets it be
   * forwarded through peers to one this node is not connected to (docs/protocol.md §2.5).
   *
   * @default 10 (the exchange's `maxHops`)
   */
  maxHops?: number
  /** Aborting cancels the task (like `handle.cancel()`). */
  signal?: AbortSignal
  /**
   * `false`: the task is not kept in `node.tasks` (nor in the store of submitted tasks), for a
   * caller that keeps its own record of many tasks, as `node.jobs` does. It still fails over, is
   * stopped with the node and counts in `tasks.pending`.
   *
   * @default true
   */
  listed?: boolean
}

/**
 * What a task's model must be, as providers announce their generative models (docs/protocol.md
 * §5.7): routing skips peers whose models do not meet every field given.
 */
export interface ModelRequirement {
  /** Architecture, as the GGUF file names it: `llama`, `qwen2`, `phi3`... */
  family?: string
  /** How the weights are stored: `Q4_K_M`, `Q8_0`, `F16`... */
  quantization?: string
  /** At least this many tokens of context the model was trained with. */
  minContextLength?: number
}

/** How a redundant task's vote went. */
export interface RedundancyReport {
  /** Providers asked. */
  readonly k: number
  /** Agreeing answers needed: more than half of `k`. */
  readonly required: number
  /** Each completed answer, in arrival order: who signed it and whether it agrees with the accepted one. */
  readonly answers: readonly RedundantAnswer[]
}

/**
 * `PENDING`: choosing a peer, or waiting to retry. `QUEUED`/`RUNNING`: a provider (or this node)
 * accepted it. The last four are final.
 */
export type NetworkTaskStatus =
  | 'PENDING'
  | 'QUEUED'
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'TIMEOUT'
  | 'CANCELLED'

const FINAL_STATUSES: ReadonlySet<string> = new Set<NetworkTaskStatus>([
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'CANCELLED',
])

/** Whether a task in `status` is done for good (the same four names as the engine's final statuses). */
export function isFinalStatus(status: string): status is 'COMPLETED' | 'FAILED' | 'TIMEOUT' | 'CANCELLED' {
  return FINAL_STATUSES.has(status)
}

/** Progress as the provider reports it. */
export interface NetworkTaskProgress {
  /** 0..1 */
  readonly fraction: number
  readonly message?: string
  /**
   * Output the task produced since the previous progress (a generation's text): never dropped,
   * in order; the deltas of one attempt concatenate to the output's `text` (docs/protocol.md §2.6).
   * Only on `progress` events, never in a record.
   */
  readonly delta?: string
  /**
   * The task's state as of `fraction`, reported by a task type that checkpoints (the `mock` task's
   * `steps`, a registered task's `context.checkpoint()`): when the provider fails, the next attempt
   * starts from the latest one (docs/protocol.md §2.8). Only on `progress` events, never in a record.
   */
  readonly checkpoint?: unknown
  /**
   * A checkpoint too large to travel inline, as the provider sent it: content by CID (protocol
   * minor 7). The requester fetches its blocks and holds them, and the next attempt's provider
   * fetches them from it (docs/protocol.md §2.8). Only on `progress` events, never in a record.
   */
  readonly checkpointRef?: ContentRef
}

/** The latest checkpoint a task reported (its state stays with the task, not in its record). */
export interface CheckpointInfo {
  /** 0..1: how much of the work it covers. */
  readonly fraction: number
  /** Who reported it (this node's own PeerId for a local run). */
  readonly peer: string
  /** `Date.now()` when it arrived (for one by CID: when its blocks were all here). */
  readonly at: number
  /**
   * For a checkpoint that came by CID (protocol minor 7): its CID, whose blocks this node holds;
   * the next attempt's provider fetches them from here.
   */
  readonly cid?: string
}

/** A snapshot of one submitted task. */
export interface NetworkTaskRecord<Output = unknown> {
  readonly id: string
  readonly type: string
  readonly status: NetworkTaskStatus
  readonly priority: number
  readonly timeoutMs: number
  readonly target: TaskTarget
  /**
   * Who runs (or ran) it: a provider's PeerId, or this node's own for a local run. For a
   * forwarded task, the neighbour it was sent to; for a redundant one, the accepted answer's signer.
   */
  readonly peer?: string
  /** For a forwarded task: the node that ran it and signed the result. */
  readonly provider?: string
  /** For a redundant task (`redundancy` > 1): the vote. */
  readonly redundancy?: RedundancyReport
  /** `Date.now()` values. */
  readonly submittedAt: number
  readonly startedAt?: number
  readonly finishedAt?: number
  readonly progress?: NetworkTaskProgress
  /**
   * The latest checkpoint the task reported, if its type checkpoints: a failover resumes from it
   * (on a peer that speaks protocol minor 6, or on this node).
   */
  readonly checkpoint?: CheckpointInfo
  /** Only when `COMPLETED`: the output, from a result verified against the request. */
  readonly output?: Output
  /** When not completed: why (for `ERR_RETRIES_EXHAUSTED`, `attempts` has each attempt's reason). */
  readonly error?: TaskRecordError
  /** Every attempt so far, in order. */
  readonly attempts: readonly AttemptInfo[]
  /** The provider's own timings of the attempt that produced the result. */
  readonly timings?: TaskTimings
  /**
   * The trace this task is recorded in (32 hex digits), when the node traces and sampled it:
   * `node.traces.get(id)` and `p2p-ai-agents task trace` show it.
   */
  readonly traceId?: string
  /**
   * How many times the node stopped without a graceful shutdown (a crash, a kill) while this task
   * was unfinished, and resumed it when it started again (docs/delivery.md). Absent when never.
   */
  readonly resumed?: number
}

/** Events of a task handle. */
export interface NetworkTaskEvents {
  /** The status changed (or a new attempt started); `detail` is a snapshot. */
  status: CustomEvent<NetworkTaskRecord>
  progress: CustomEvent<NetworkTaskProgress>
  /** An attempt ended without the result (the task moves on, or fails if it was the last). */
  attempt: CustomEvent<AttemptInfo>
}

/**
 * What `handle.stream()` yields, in order:
 *
 * - `delta`: text the task produced, to append to what came before (a generation's tokens);
 * - `restart`: the provider failed and the task goes on elsewhere (failover): the next attempt
 *   starts from the beginning, so discard the `discarded` characters streamed since the last
 *   restart (0 when that attempt streamed nothing); `reason` says why it failed;
 * - `mismatch`: what streamed differs from the text the provider signed in its result; `text` is
 *   the signed text, which is the answer (docs/protocol.md §2.6).
 */
export type TaskStreamEvent =
  | { readonly type: 'delta'; readonly text: string }
  | {
      readonly type: 'restart'
      readonly reason: { readonly code: TaskErrorCode; readonly message: string }
      /** The provider that failed (this node's own PeerId for a local run). */
      readonly peer: string
      readonly discarded: number
    }
  | { readonly type: 'mismatch'; readonly streamed: string; readonly text: string }

/** Per-call options of `handle.stream()`. */
export interface TaskStreamOptions {
  /**
   * Stops reading: the iteration rejects with the signal's reason. The task goes on; cancel it with
   * `handle.cancel()` or the `signal` given to `submit`.
   */
  signal?: AbortSignal
}

/** A task submitted with `node.submit`. */
export interface NetworkTaskHandle<Output = unknown> extends TypedEventTarget<NetworkTaskEvents> {
  readonly id: string
  readonly type: string
  readonly status: NetworkTaskStatus
  /** A snapshot now. */
  record(): NetworkTaskRecord<Output>
  /** Resolves with the final record, whatever the outcome (check `status`). Never rejects. */
  result(): Promise<NetworkTaskRecord<Output>>
  /** Resolves with the output, or rejects with a `TaskFailedError` (its `code` says why). */
  output(): Promise<Output>
  /** Cancels the task (telling the provider) unless it already finished; returns whether it did. */
  cancel(reason?: string): boolean
  /**
   * The text the task streams, as it arrives: for a `generate` task, its tokens. Every iteration
   * starts at the beginning, whenever it starts; it ends when the task completes (having yielded
   * the whole text, as one delta at the end when the provider streamed none), and rejects like
   * `output()` when the task fails. A task whose output has no `text` yields nothing.
   *
   * ```ts
   * for await (const event of handle.stream()) {
   *   if (event.type === 'delta') process.stdout.write(event.text)
   * }
   * ```
   */
  stream(options?: TaskStreamOptions): AsyncIterableIterator<TaskStreamEvent>
}

/** Per-call options of `tasks.list`. */
export interface TaskListOptions {
  status?: NetworkTaskStatus
  type?: string
  /** Only tasks run (or running) on this peer. */
  peer?: string
  /**
   * Most records returned, newest first.
   *
   * @default 100
   */
  limit?: number
}

/**
 * `node.tasks`: the tasks this node submitted, newest first. Live tasks and the recent history are
 * in memory; with a store of submitted tasks (a node made by `createNode` has one), `get` and
 * `list` also find the final records of earlier tasks for `engine.resultTtlMs`, across restarts.
 */
export interface TaskList {
  /** The task's current record: from memory, else its stored final record. */
  get(id: string): NetworkTaskRecord | undefined
  /** Memory only: a task known only from the store (submitted before a restart) has no handle. */
  handle(id: string): NetworkTaskHandle | undefined
  /** Records in memory and stored ones, filtered, newest first (by `submittedAt`). */
  list(options?: TaskListOptions): NetworkTaskRecord[]
  /**
   * Resolves once the task's latest record is committed to the store of submitted tasks, so that it
   * survives a crash of this process: its acceptance (written when it was submitted, so a crash
   * before it finishes resumes it on the next start) or its final record. `true` when committed,
   * `false` when it cannot be: no store (`engine.storeSubmittedTasks: false`), or the write failed
   * (logged). Unasked, a final record reaches the store within about 20 ms and an acceptance after
   * 250 ms (most tasks end sooner and are written once); asking makes the record go at once.
   */
  durable(id: string): Promise<boolean>
  /** Tasks not yet finished. */
  readonly pending: number
}
