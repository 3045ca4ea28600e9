/**
 * One attempt of a task: on a peer (a signed request, or a forward through a neighbour), or on
 * this node's engine. An attempt owns everything about itself: its request, its deadlines, what it
 * says about the peer (reputation, refused routes) and the outcome it settles with, once. Tasks,
 * redundant runs and relays start attempts and follow them; they never do an attempt's
 * bookkeeping.
 */
import type { PeerId } from '@libp2p/interface'
import type { TaskHandle, TaskRecord } from '@p2p-ai/engine'
import type {
  ContentRef,
  PreparedEnvelope,
  SignedEnvelope,
  TaskAccept,
  TaskErrorCode,
  TaskProgress,
  TaskReject,
  TaskResult,
  TaskTimings,
} from '@p2p-ai/protocol'
import { InvalidContentError } from '../../content/errors.js'
import type { PeerDirectory } from '../../peers/directory.js'
import type { TaskTracer } from '../../tracing/task-tracer.js'
import type { NodeSpan } from '../../tracing/types.js'
import { BUSY_RETRY_AFTER_MS } from '../constants.js'
import { ProtocolViolationError } from '../errors.js'
import { type AttemptEnd, remoteCode, taskErrorOf, type Verdict, verdictOf } from '../failures.js'
import type { NetworkTaskProgress } from '../types.js'

/** What an attempt tells whoever follows it (a task, a relay). */
export interface AttemptObserver {
  /** The provider took the task: running at once (queue position 0) or queued. */
  accepted(queuePosition: number | undefined): void
  progress(progress: NetworkTaskProgress): void
}

/** How an attempt ended. */
export type AttemptOutcome =
  | {
      readonly kind: 'completed'
      readonly output: unknown
      readonly timings: TaskTimings | undefined
      /** Who signed the result: for a forwarded attempt, the node that ran it. */
      readonly signer: string | undefined
      /** The signed result's frame body as it arrived, to pass on unchanged (relays). */
      readonly body: Uint8Array | undefined
      /** Round trip minus the provider's `timings.totalMs`, for a result from a peer. */
      readonly networkMs: number | undefined
    }
  | {
      readonly kind: 'failed'
      readonly code: TaskErrorCode
      readonly message: string
      readonly end: AttemptEnd
      readonly verdict: Verdict
      /** The task's status if this failure is final. */
      readonly status: 'FAILED' | 'TIMEOUT' | 'CANCELLED'
      readonly retryAfterMs?: number
      /** The peer's failed result's frame body as it arrived, to pass on unchanged (relays). */
      readonly body?: Uint8Array
    }
  /** Withdrawn by whoever started it (the task was cancelled, or finished another way). */
  | { readonly kind: 'withdrawn' }

type Failure = Extract<AttemptOutcome, { kind: 'failed' }>

/** Common to every attempt: an outcome, settled once, and someone following it. */
export abstract class Attempt {
  /** Who runs it: a peer's PeerId (the neighbour, for a forward), or this node's own. */
  readonly peer: string
  /** A run on this node's own engine. */
  abstract readonly local: boolean
  readonly startedAt = Date.now()
  readonly done: Promise<AttemptOutcome>
  #settle!: (outcome: AttemptOutcome) => void
  #outcome: AttemptOutcome | undefined
  #observer: AttemptObserver | undefined
  /** The attempt's span, ended when it settles (set by whoever starts it, when tracing). */
  trace: { readonly tracer: TaskTracer; readonly span: NodeSpan } | undefined

  constructor(peer: string) {
    this.peer = peer
    this.done = new Promise((resolve) => {
      this.#settle = resolve
    })
  }

  get settled(): boolean {
    return this.#outcome !== undefined
  }

  /** Follows the attempt's accept and progress. */
  observe(observer: AttemptObserver): void {
    this.#observer = observer
  }

  /** Stops the attempt: its answer, if one still comes, is ignored; the worker is told to stop. */
  abstract withdraw(reason: string): void

  protected get observer(): AttemptObserver | undefined {
    return this.#outcome === undefined ? this.#observer : undefined
  }

  /** Settles once; later calls are ignored. Returns whether this call settled it. */
  protected settle(outcome: AttemptOutcome): boolean {
    if (this.#outcome !== undefined) return false
    this.#outcome = outcome
    if (this.trace !== undefined) {
      const { tracer, span } = this.trace
      tracer.end(
        span,
        outcome.kind === 'failed'
          ? { status: outcome.status, code: outcome.code }
          : { status: outcome.kind === 'completed' ? 'COMPLETED' : 'WITHDRAWN' },
      )
    }
    this.#settle(outcome)
    return true
  }
}

function failure(
  code: TaskErrorCode,
  message: string,
  end: AttemptEnd,
  extra: { retryAfterMs?: number; body?: Uint8Array } = {},
): Failure {
  const status = code === 'ERR_TIMEOUT' ? 'TIMEOUT' : code === 'ERR_CANCELLED' ? 'CANCELLED' : 'FAILED'
  return { kind: 'failed', code, message, end, verdict: verdictOf(code, end), status, ...extra }
}

/** A request a result is checked against: its digest is final whether it is signed yet or not. */
export type RequestRef = SignedEnvelope<'task.request'> | PreparedEnvelope<'task.request'>

/** A result envelope that verified: its signer, and its frame body as it arrived (to pass on unchanged). */
export interface VerifiedResult {
  readonly from: string
  readonly body: Uint8Array
}

/** Where a remote attempt goes and what it carries. */
export interface RemoteAttemptInit {
  readonly taskId: string
  readonly taskType: string
  readonly peer: string
  readonly peerId: PeerId
  /** The request; the result must quote its digest. */
  readonly request: RequestRef
  /**
   * What goes on the stream: a framed `task.forward` (sealed already), or the prepared request,
   * which the stream signs as it leaves (in a batch with whatever leaves with it, towards a peer
   * that speaks batch signatures).
   */
  readonly frame: Uint8Array | PreparedEnvelope<'task.request'>
  /**
   * Sent as a `task.forward`: the result is signed by whichever node ran the task at the end of
   * the route, not by `peer`; it must still quote the request's digest.
   */
  readonly forwarded: boolean
  /** For a forwarded attempt: whether a result signed by this peer may be accepted (access policy). */
  readonly signerAllowed?: (peer: string) => boolean
  /** `performance.now()` deadlines: for `task.accept`, and for the result. */
  readonly acceptBy: number
  readonly resultBy: number
  readonly directory: PeerDirectory
  /**
   * Fetches and parses an output sent by CID (`outputRef`, docs/protocol.md §2.9). Only given for
   * a direct request from a node that takes content: a result by CID without it breaks the protocol.
   */
  readonly fetchOutput?: (ref: ContentRef, from: string, signal: AbortSignal) => Promise<unknown>
}

/**
 * An attempt on a peer. The requester's task stream to that peer reports what arrives
 * (`onAccept`, `onProgress`, `onReject`, `onResult`, `onLost`); the attempt turns it into its
 * outcome and records what it says about the peer.
 */
export class RemoteAttempt extends Attempt {
  readonly local = false
  readonly taskId: string
  readonly taskType: string
  readonly peerId: PeerId
  readonly request: RequestRef
  readonly frame: Uint8Array | PreparedEnvelope<'task.request'>
  readonly forwarded: boolean
  readonly signerAllowed: ((peer: string) => boolean) | undefined
  readonly acceptBy: number
  readonly resultBy: number
  accepted = false
  readonly #directory: PeerDirectory
  readonly #fetchOutput: RemoteAttemptInit['fetchOutput']
  /** Aborts the fetch of an output sent by CID, while one runs. */
  #fetching: AbortController | undefined
  readonly #sentAt = performance.now()
  /** Cancels it on the stream (`task.cancel`) once it is withdrawn; set by the requester. */
  cancelOnStream: ((reason: string) => void) | undefined

  constructor(init: RemoteAttemptInit) {
    super(init.peer)
    this.taskId = init.taskId
    this.taskType = init.taskType
    this.peerId = init.peerId
    this.request = init.request
    this.frame = init.frame
    this.forwarded = init.forwarded
    this.signerAllowed = init.signerAllowed
    this.acceptBy = init.acceptBy
    this.resultBy = init.resultBy
    this.#directory = init.directory
    this.#fetchOutput = init.fetchOutput
    init.directory.track(init.peer, 1)
  }

  onAccept(payload: TaskAccept): void {
    this.accepted = true
    this.observer?.accepted(payload.queuePosition)
  }

  onProgress(payload: TaskProgress): void {
    this.observer?.progress({
      fraction: payload.progress,
      ...(payload.message === undefined ? {} : { message: payload.message }),
      ...(payload.delta === undefined ? {} : { delta: payload.delta }),
      ...(payload.checkpoint === undefined ? {} : { checkpoint: payload.checkpoint }),
      // Only a direct request's provider may send one (its blocks are fetched from it).
      ...(payload.checkpointRef === undefined || this.forwarded
        ? {}
        : { checkpointRef: payload.checkpointRef }),
    })
  }

  onReject(payload: TaskReject): void {
    const code = remoteCode(payload.error.code)
    this.#fail(
      failure(code, payload.error.message, 'rejected', {
        ...(payload.retryAfterMs === undefined ? {} : { retryAfterMs: payload.retryAfterMs }),
      }),
    )
  }

  /** A result that verified and answers this attempt's request. */
  onResult(result: TaskResult, verified: VerifiedResult): void {
    if (result.status === 'completed') {
      if (result.outputRef !== undefined) {
        this.#fetch(result, result.outputRef, verified)
        return
      }
      this.#complete(result, result.output, verified)
      return
    }
    const code = remoteCode(result.error.code, result.status)
    this.#fail(failure(code, result.error.message, 'failed', { body: verified.body }))
  }

  /** No usable answer: the stream broke, a deadline passed, or what came back did not verify. */
  onLost(error: Error): void {
    const { code, message } = taskErrorOf(error)
    this.#fail(failure(code, message, 'lost'))
  }

  /**
   * The signed result names its output by CID: fetched from the provider (or any peer that has
   * it), checked block by block against the CID the provider signed, then parsed. The attempt is
   * still the provider's until then: a fetch that fails counts against it.
   */
  #fetch(result: TaskResult, ref: ContentRef, verified: VerifiedResult): void {
    if (this.#fetchOutput === undefined || this.forwarded) {
      this.onLost(
        new ProtocolViolationError(
          `${this.peer} sent its output by CID, which this node did not offer to take`,
        ),
      )
      return
    }
    const fetching = new AbortController()
    this.#fetching = fetching
    this.#fetchOutput(ref, this.peer, fetching.signal).then(
      (output) => {
        this.#fetching = undefined
        this.#complete(result, output, verified)
      },
      (err: unknown) => {
        this.#fetching = undefined
        if (fetching.signal.aborted) return
        const code = (err as { code?: unknown }).code
        // Bytes that are not JSON under a CID it signed: the provider's answer is broken.
        if (code === InvalidContentError.code) this.onLost(new ProtocolViolationError((err as Error).message))
        else this.onLost(err as Error)
      },
    )
  }

  #complete(result: TaskResult, output: unknown, verified: VerifiedResult): void {
    if (!this.#finish()) return
    const networkMs = Math.max(0, performance.now() - this.#sentAt - result.timings.totalMs)
    this.#directory.book.recordSuccess(this.peer, networkMs)
    this.settle({
      kind: 'completed',
      output,
      timings: result.timings,
      signer: this.forwarded ? verified.from : undefined,
      body: verified.body,
      networkMs,
    })
  }

  withdraw(reason: string): void {
    this.#fetching?.abort()
    if (!this.#finish()) return
    this.#directory.book.recordNeutral(this.peer)
    this.cancelOnStream?.(reason)
    this.settle({ kind: 'withdrawn' })
  }

  #fail(outcome: Failure): void {
    if (!this.#finish()) return
    const { verdict } = outcome
    this.#directory.book.recordBlame(this.peer, verdict.blame, outcome.retryAfterMs ?? BUSY_RETRY_AFTER_MS)
    if (verdict.staleRoute && this.forwarded) this.#directory.refuseRoute(this.peer, this.taskType)
    this.settle(outcome)
  }

  /** Bookkeeping common to every end; false if the attempt had ended already. */
  #finish(): boolean {
    if (this.settled) return false
    this.#directory.track(this.peer, -1)
    return true
  }
}

/** An attempt on this node's own engine. */
export class LocalAttempt extends Attempt {
  readonly local = true
  #handle: TaskHandle | undefined
  #withdrawn = false

  /** Runs once `submitted` (the engine's admission) settles. */
  constructor(self: string, submitted: Promise<TaskHandle>) {
    super(self)
    submitted.then(
      (handle) => this.#follow(handle),
      (err: unknown) => {
        const { code, message } = taskErrorOf(err)
        this.settle(failure(code, message, 'local'))
      },
    )
  }

  withdraw(): void {
    this.#withdrawn = true
    this.#handle?.cancel()
    this.settle({ kind: 'withdrawn' })
  }

  #follow(handle: TaskHandle): void {
    if (this.#withdrawn) {
      handle.cancel()
      return
    }
    this.#handle = handle
    this.observer?.accepted(handle.status === 'RUNNING' ? 0 : undefined)
    const onStatus = (): void => {
      if (handle.status === 'RUNNING') this.observer?.accepted(0)
    }
    const onProgress = (evt: CustomEvent<NetworkTaskProgress>): void => this.observer?.progress(evt.detail)
    handle.addEventListener('status', onStatus)
    handle.addEventListener('progress', onProgress)
    void handle.result().then((record) => {
      handle.removeEventListener('status', onStatus)
      handle.removeEventListener('progress', onProgress)
      if (this.trace !== undefined && record.startedAt !== undefined) {
        const finished = record.finishedAt ?? Date.now()
        this.trace.tracer.work(this.trace.span, {
          queuedMs: Math.max(0, record.startedAt - record.queuedAt),
          runMs: Math.max(0, finished - record.startedAt),
        })
      }
      this.settle(outcomeOf(record))
    })
  }
}

/** A local run's timings, from the engine's record: this node was its own provider. */
function localTimings(record: TaskRecord): TaskTimings | undefined {
  const { queuedAt, startedAt, finishedAt } = record
  if (startedAt === undefined || finishedAt === undefined) return undefined
  return {
    queuedMs: Math.max(0, startedAt - queuedAt),
    runMs: Math.max(0, finishedAt - startedAt),
    totalMs: Math.max(0, finishedAt - queuedAt),
  }
}

/** A local run's outcome by the engine's final record. */
function outcomeOf(record: TaskRecord): AttemptOutcome {
  if (record.status === 'COMPLETED') {
    return {
      kind: 'completed',
      output: record.output,
      timings: localTimings(record),
      signer: undefined,
      body: undefined,
      networkMs: undefined,
    }
  }
  const fallback =
    record.status === 'TIMEOUT'
      ? 'ERR_TASK_TIMEOUT'
      : record.status === 'CANCELLED'
        ? 'ERR_TASK_CANCELLED'
        : 'ERR_INTERNAL'
  const { code, message } = taskErrorOf(
    record.error ?? { code: fallback, message: record.status.toLowerCase() },
  )
  return failure(code, message, 'local')
}
