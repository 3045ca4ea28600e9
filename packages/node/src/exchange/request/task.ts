/**
 * One submitted task and its way through the network: choose a route, start an attempt, follow
 * it; when it fails, the failure policy (failures.ts) says whether to end here or to try another
 * route after a backoff; the task ends in a final state that says what happened. The object is
 * also the task's handle.
 */

import type { ContentRef } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import { FIND_NEGATIVE_FIRST_MS } from '../../discovery/constants.js'
import type { FindResult, FindSpec } from '../../discovery/finder.js'
import { taskLogFields } from '../../logger.js'
import { recordedTraceId, type TaskTracer } from '../../tracing/task-tracer.js'
import type { NodeSpan } from '../../tracing/types.js'
import {
  DISCOVERED_PEER_GRACE_MS,
  PEER_WAIT_POLL_MS,
  RETRY_BASE_DELAY_MS,
  RETRY_MAX_DELAY_MS,
} from '../constants.js'
import { type AttemptInfo, exhaustedMessage, TaskFailedError, type TaskRecordError } from '../errors.js'
import type { ExchangeReports, TaskRetry } from '../events.js'
import { taskErrorOf } from '../failures.js'
import type { Route } from '../route/router.js'
import {
  type CheckpointInfo,
  isFinalStatus,
  type NetworkTaskEvents,
  type NetworkTaskHandle,
  type NetworkTaskProgress,
  type NetworkTaskRecord,
  type NetworkTaskStatus,
  type TaskStreamEvent,
  type TaskStreamOptions,
} from '../types.js'
import type { Attempt, AttemptObserver } from './attempt.js'
import type { AttemptLauncher, ResumeFrom } from './launcher.js'
import { LazyEventTarget } from './lazy-events.js'
import { TaskStreamLog } from './stream-log.js'
import type { TaskSpec } from './submission.js'

/** Output types are the caller's promise; internally a task's output is unknown. */
type Output = unknown

/**
 * A checkpoint to hold by CID, numbered in the order checkpoints arrived: one an attempt on a peer
 * sent by CID (`ref`), or a large one of this node's own run, to store (`text`, its JSON).
 */
type HeldRef = {
  readonly attempt: Attempt
  readonly fraction: number
  readonly seq: number
} & ({ readonly ref: ContentRef } | { readonly text: string; readonly state: unknown })

/** The checkpoint a task resumes from: its state, or the reference to blocks held here. */
type HeldCheckpoint = CheckpointInfo & { readonly from: ResumeFrom; readonly seq: number }

/** Where attempts go: the router, or a redundant run's view of it. */
export interface Chooser {
  choose(spec: TaskSpec, tried: ReadonlySet<string>): Route | undefined
  /** Why no route fits, when there is more to say than "nobody runs it". */
  explain?(spec: TaskSpec): string | undefined
}

/** Finds providers beyond the connected peers (the DHT finder), for tasks that have no route. */
export interface Discovery {
  find(spec: FindSpec): Promise<FindResult>
}

/** How a task is traced: by this tracer, under a redundant task's span when it is one of its replicas. */
export interface TaskTracing {
  readonly tracer: TaskTracer
  readonly parent?: { readonly span: NodeSpan; readonly replica: number }
}

/** Delay before attempt `n` (2-based): the second goes at once, then exponential with jitter. */
export function backoff(n: number): number {
  if (n <= 2) return 0
  const base = Math.min(RETRY_BASE_DELAY_MS * 2 ** (n - 3), RETRY_MAX_DELAY_MS)
  return Math.round(base * (0.8 + Math.random() * 0.4))
}

export class NetworkTask
  extends LazyEventTarget<NetworkTaskEvents>
  implements NetworkTaskHandle, AttemptObserver
{
  #spec: TaskSpec
  readonly #chooser: Chooser
  readonly #launcher: AttemptLauncher
  readonly #log: Logger
  readonly #discovery: Discovery | undefined
  #status: NetworkTaskStatus = 'PENDING'
  readonly #submittedAt: number
  #startedAt: number | undefined
  #finishedAt: number | undefined
  #peer: string | undefined
  /** Signer of the result of a forwarded attempt. */
  #provider: string | undefined
  #progress: NetworkTaskProgress | undefined
  /**
   * The latest checkpoint this node holds, with its state (or, for one by CID, the reference to
   * the blocks it holds): the next attempt resumes from it. `seq` orders checkpoints by arrival.
   */
  #checkpoint: HeldCheckpoint | undefined
  #checkpointSeq = 0
  /** A checkpoint by CID whose blocks are being fetched, and the newest one waiting for it. */
  #holding: { readonly attempt: Attempt; readonly stop: AbortController } | undefined
  #nextHeld: HeldRef | undefined
  #output: unknown
  #error: TaskRecordError | undefined
  #timings: NetworkTaskRecord['timings']
  #networkMs: number | undefined
  readonly #reports: ExchangeReports | undefined
  readonly #attempts: AttemptInfo[] = []
  #attempt: Attempt | undefined
  /** What the task streams, for `stream()`. */
  readonly #stream = new TaskStreamLog()
  /** Wakes the attempt loop from a backoff or a wait early (the task finished meanwhile). */
  #wake: (() => void) | undefined
  readonly #done: Promise<NetworkTaskRecord<Output>>
  /** The record once the task is final. */
  #final: NetworkTaskRecord<Output> | undefined
  #resolveDone!: (record: NetworkTaskRecord<Output>) => void
  readonly #tracing: TaskTracing | undefined
  #span: NodeSpan | undefined
  #traceId: string | undefined

  constructor(
    spec: TaskSpec,
    chooser: Chooser,
    launcher: AttemptLauncher,
    log: Logger,
    reports?: ExchangeReports,
    discovery?: Discovery,
    tracing?: TaskTracing,
  ) {
    super()
    this.#spec = spec
    this.#chooser = chooser
    this.#launcher = launcher
    this.#log = log
    this.#tracing = tracing
    this.#reports = reports
    this.#submittedAt = spec.resumed?.submittedAt ?? Date.now()
    this.#discovery = discovery
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve
    })
  }

  get spec(): TaskSpec {
    return this.#spec
  }

  get id(): string {
    return this.#spec.id
  }

  get type(): string {
    return this.#spec.type
  }

  get status(): NetworkTaskStatus {
    return this.#status
  }

  /** The provider of the current or last attempt. */
  get peer(): string | undefined {
    return this.#peer
  }

  get isFinished(): boolean {
    return isFinalStatus(this.#status)
  }

  /** The trace this task is recorded in, when it is. */
  get traceId(): string | undefined {
    return this.#traceId
  }

  /** Of the attempt that produced the result, when a peer ran it: see `TaskDone.networkMs`. */
  get networkMs(): number | undefined {
    return this.#networkMs
  }

  record(): NetworkTaskRecord<Output> {
    // Final, the record no longer changes: one snapshot serves `result()`, the registry's store
    // write and the exchange's `task:done`.
    if (this.#final !== undefined) return this.#final
    const s = this.#spec
    return {
      id: s.id,
      type: s.type,
      status: this.#status,
      priority: s.priority,
      timeoutMs: s.timeoutMs,
      target: s.target,
      submittedAt: this.#submittedAt,
      attempts: [...this.#attempts],
      ...(this.#peer === undefined ? {} : { peer: this.#peer }),
      ...(this.#provider === undefined ? {} : { provider: this.#provider }),
      ...(this.#startedAt === undefined ? {} : { startedAt: this.#startedAt }),
      ...(this.#finishedAt === undefined ? {} : { finishedAt: this.#finishedAt }),
      ...(this.#progress === undefined ? {} : { progress: this.#progress }),
      ...(this.#checkpoint === undefined
        ? {}
        : {
            checkpoint: {
              fraction: this.#checkpoint.fraction,
              peer: this.#checkpoint.peer,
              at: this.#checkpoint.at,
              ...('ref' in this.#checkpoint.from ? { cid: this.#checkpoint.from.ref.cid } : {}),
            },
          }),
      ...(this.#status === 'COMPLETED' ? { output: this.#output as Output } : {}),
      ...(this.#error === undefined ? {} : { error: this.#error }),
      ...(this.#timings === undefined ? {} : { timings: this.#timings }),
      ...(this.traceId === undefined ? {} : { traceId: this.traceId }),
      ...(s.resumed === undefined ? {} : { resumed: s.resumed.count }),
    }
  }

  result(): Promise<NetworkTaskRecord<Output>> {
    return this.#done
  }

  async output(): Promise<Output> {
    const record = await this.#done
    if (record.status === 'COMPLETED') return record.output as Output
    throw failedError(record)
  }

  stream(options?: TaskStreamOptions): AsyncIterableIterator<TaskStreamEvent> {
    return this.#stream.iterate(options)
  }

  cancel(reason = 'cancelled by the requester'): boolean {
    if (this.isFinished) return false
    this.#attempt?.withdraw(reason)
    this.#finish('CANCELLED', undefined, { code: 'ERR_CANCELLED', message: reason })
    return true
  }

  /** The exchange is stopping: the task fails with `ERR_EXCHANGE_STOPPED`, its provider is told. */
  halt(): void {
    if (this.isFinished) return
    this.#attempt?.withdraw('requester stopping')
    this.#finish('FAILED', undefined, {
      code: 'ERR_EXCHANGE_STOPPED',
      message: 'the node stopped before the task finished',
    })
  }

  /** Runs attempts until the task is final. Called once by whoever submitted it. */
  async run(): Promise<void> {
    const tracing = this.#tracing
    if (tracing !== undefined && !this.isFinished) {
      this.#span = tracing.tracer.task(this.#spec.id, this.#spec.type, tracing.parent)
      this.#traceId = recordedTraceId(this.#span)
    }
    try {
      await this.#loop()
    } catch (err) {
      // A bug, not a task outcome; still, the task must not stay pending forever.
      this.#log.error({ err, ...taskLogFields(this.id, this.#traceId) }, 'task loop failed')
      this.#finish('FAILED', undefined, { code: 'ERR_INTERNAL', message: 'internal error' })
    }
  }

  // AttemptObserver: what the current attempt reports.

  accepted(queuePosition: number | undefined): void {
    if (this.isFinished) return
    this.#startedAt ??= Date.now()
    this.#setStatus(queuePosition === 0 ? 'RUNNING' : 'QUEUED')
  }

  progress(progress: NetworkTaskProgress): void {
    if (this.isFinished) return
    const { delta, checkpoint, checkpointRef, ...kept } = progress
    this.#progress = kept
    if (delta !== undefined) this.#stream.delta(delta)
    const attempt = this.#attempt
    const large =
      checkpoint !== undefined && attempt?.local === true
        ? this.#launcher.largeCheckpoint(checkpoint)
        : undefined
    if (large !== undefined && attempt !== undefined) {
      // Too large to go inline to a peer: kept by CID, as a provider's would be, for a failover.
      this.#hold({
        attempt,
        text: large,
        state: checkpoint,
        fraction: kept.fraction,
        seq: ++this.#checkpointSeq,
      })
    } else if (checkpoint !== undefined && attempt !== undefined) {
      this.#setCheckpoint({
        from: { state: checkpoint, fraction: kept.fraction },
        fraction: kept.fraction,
        peer: attempt.peer,
        at: Date.now(),
        seq: ++this.#checkpointSeq,
      })
    } else if (checkpointRef !== undefined && attempt !== undefined) {
      this.#hold({ attempt, ref: checkpointRef, fraction: kept.fraction, seq: ++this.#checkpointSeq })
    }
    if (this.#status !== 'RUNNING') this.#setStatus('RUNNING')
    if (this.listenerCount('progress') > 0) this.safeDispatchEvent('progress', { detail: progress })
  }

  async #loop(): Promise<void> {
    const tried = new Set<string>()
    for (let n = 1; n <= this.#spec.maxAttempts; n++) {
      if (this.isFinished) return
      // Choosing and sending happen in the same tick when a place is free: a burst of submissions
      // then sees each other's load, instead of all picking the peer that looked best at first.
      const route = this.#chooser.choose(this.#spec, tried) ?? (await this.#waitForRoute(tried))
      if (this.isFinished) return
      // Reached only through a neighbour: a provider found on the DHT can take the next ones directly.
      if (route?.kind === 'forward' && this.#spec.target === 'auto') void this.#discovery?.find(this.#spec)
      if (route === undefined) {
        if (this.#attempts.length === 0) {
          this.#finish('FAILED', undefined, { code: 'ERR_NO_CAPABLE_PEER', message: this.#noRouteMessage() })
        } else {
          const waited = this.#spec.localOnly === true ? '' : ` for ${this.#spec.waitForPeerMs} ms`
          this.#exhausted(`no route${waited}: ${this.#noRouteMessage()}`)
        }
        return
      }
      const resume = this.#checkpoint?.from
      const started = this.#launcher.start(
        this.#spec,
        route,
        this.#submittedAt,
        resume,
        this.#span === undefined ? undefined : { parent: this.#span, attempt: n },
      )
      if (!('peer' in started)) {
        if (started.reason === 'by-reference') {
          // Stored once, for this attempt and every later one: from now on the request carries
          // its input by CID, to peers that take content. Not an attempt either.
          if (!(await this.#stage())) return
          n--
          continue
        }
        if (started.reason === 'too-large' && !this.#spec.localOnly) {
          // The input cannot cross the wire (until large inputs travel another way): only this
          // node can run it. Not an attempt: the same one goes again, here.
          this.#spec = { ...this.#spec, localOnly: true }
          n--
          continue
        }
        this.#finish('FAILED', undefined, { code: 'ERR_INVALID_INPUT', message: started.message })
        return
      }
      const attempt = started
      const failed = this.#attempts.at(-1)
      if (failed !== undefined) this.#retrying(failed, attempt.peer, n)
      this.#reports?.attempt({ taskId: this.id, type: this.type, attempt: n, peer: attempt.peer })
      this.#attempt = attempt
      tried.add(attempt.peer)
      this.#peer = attempt.peer
      this.#setStatus('PENDING')
      attempt.observe(this)
      const outcome = await attempt.done
      this.#attempt = undefined
      if (this.isFinished || outcome.kind === 'withdrawn') return
      if (outcome.kind === 'completed') {
        this.#provider = outcome.signer
        this.#timings = outcome.timings
        this.#networkMs = outcome.networkMs
        this.#finish('COMPLETED', outcome.output)
        return
      }
      const error = { code: outcome.code, message: outcome.message }
      this.#attempts.push({
        peer: attempt.peer,
        attempt: n,
        startedAt: attempt.startedAt,
        finishedAt: Date.now(),
        error,
      })
      if (this.listenerCount('attempt') > 0) {
        this.safeDispatchEvent('attempt', { detail: this.#attempts.at(-1) as AttemptInfo })
      }
      const explicit = this.#spec.target !== 'auto'
      if (outcome.verdict.next === 'final' || (explicit && outcome.verdict.notCapable)) {
        const remote = outcome.end === 'rejected' || outcome.end === 'failed'
        this.#finish(outcome.status, undefined, remote ? { ...error, remote: true } : error)
        return
      }
      // The next attempt starts from the beginning: readers of the stream drop what this one said.
      this.#stream.restart(error, attempt.peer)
      this.#setStatus('PENDING')
      if (n < this.#spec.maxAttempts) await this.#sleep(backoff(n + 1))
    }
    this.#exhausted()
  }

  /**
   * A checkpoint sent by CID (protocol minor 7): its blocks are fetched from the provider now,
   * while it lives, and kept here, so that the next attempt's provider can fetch them from this
   * node whatever became of this one. It becomes the checkpoint to resume from only once whole
   * (until then the previous one is). One fetch at a time, the newest waiting behind it; a
   * checkpoint of a newer attempt stops the fetch of an older attempt's (its provider is gone).
   */
  #hold(next: HeldRef): void {
    const holding = this.#holding
    if (holding !== undefined && holding.attempt === next.attempt) {
      this.#nextHeld = next
      return
    }
    holding?.stop.abort()
    this.#nextHeld = undefined
    const stop = new AbortController()
    this.#holding = { attempt: next.attempt, stop }
    const { fraction, seq, attempt } = next
    const held =
      'ref' in next
        ? this.#launcher.holdCheckpoint(this.#spec, next.ref, attempt.peer, stop.signal).then(() => next.ref)
        : this.#launcher.keepCheckpoint(this.#spec, next.text, stop.signal)
    held
      .then(
        (ref) => {
          if (this.isFinished || stop.signal.aborted || (this.#checkpoint?.seq ?? 0) > seq) {
            this.#launcher.releaseCheckpoint(ref)
            return
          }
          this.#setCheckpoint({ from: { ref, fraction }, fraction, peer: attempt.peer, at: Date.now(), seq })
        },
        (err: unknown) => {
          // A fetch holds from its start: what arrived of it goes. (A put that failed holds nothing.)
          if ('ref' in next) this.#launcher.releaseCheckpoint(next.ref)
          if (stop.signal.aborted || this.isFinished) return
          if (!('ref' in next)) {
            // Not stored: this node's run still resumes from it, as it is.
            if ((this.#checkpoint?.seq ?? 0) < seq) {
              this.#setCheckpoint({
                from: { state: next.state, fraction },
                fraction,
                peer: attempt.peer,
                at: Date.now(),
                seq,
              })
            }
            return
          }
          this.#log.debug(
            { err, ...taskLogFields(this.id, this.#traceId), cid: next.ref.cid, remotePeer: attempt.peer },
            'could not fetch a checkpoint sent by CID: the previous one stays the one to resume from',
          )
        },
      )
      .finally(() => {
        if (this.#holding?.stop !== stop) return
        this.#holding = undefined
        const waiting = this.#nextHeld
        this.#nextHeld = undefined
        if (waiting !== undefined && !this.isFinished) this.#hold(waiting)
      })
  }

  /**
   * The checkpoint to resume from is `next` now: the one it replaces, if held here by CID, is let
   * go at once (its blocks deleted), so that the task's disk use follows its latest checkpoint.
   */
  #setCheckpoint(next: HeldCheckpoint): void {
    const previous = this.#checkpoint
    this.#checkpoint = next
    if (previous !== undefined && 'ref' in previous.from) this.#launcher.releaseCheckpoint(previous.from.ref)
  }

  /** Stores the input as content for requests by CID; false when the task ended instead. */
  async #stage(): Promise<boolean> {
    try {
      const inputRef = await this.#launcher.stage(this.#spec)
      if (this.isFinished) return false
      this.#spec = { ...this.#spec, inputRef }
      this.#log.debug(
        { ...taskLogFields(this.id), cid: inputRef.cid, bytes: inputRef.size },
        'input stored by CID',
      )
      return true
    } catch (err) {
      this.#finish('FAILED', undefined, taskErrorOf(err))
      return false
    }
  }

  /** Attempt `n` goes to `to` after `failed`: logged, and reported to observers. */
  #retrying(failed: AttemptInfo, to: string, n: number): void {
    const failover = failed.peer !== to
    const code: TaskRetry['code'] = failed.error?.code ?? 'ERR_INTERNAL'
    this.#log.debug(
      { ...taskLogFields(this.id, this.#traceId), attempt: n, code, from: failed.peer, to },
      failover ? 'failing over to another peer' : 'retrying on the same peer',
    )
    this.#reports?.retry({
      taskId: this.id,
      type: this.type,
      attempt: n,
      code,
      from: failed.peer,
      to,
      failover,
    })
  }

  #exhausted(noRoute?: string): void {
    this.#finish('FAILED', undefined, {
      code: 'ERR_RETRIES_EXHAUSTED',
      message: exhaustedMessage(this.#attempts, this.#spec.maxAttempts, noRoute),
    })
  }

  #noRouteMessage(): string {
    const { target, type, localOnly, inputRef } = this.#spec
    if (localOnly === true)
      return `the input of this "${type}" task is too large to send to a peer, and this node does not run "${type}"`
    if (inputRef !== undefined)
      return `no connected peer that takes content of ${inputRef.size} bytes by CID can run task type "${type}" right now`
    const why = this.#chooser.explain?.(this.#spec)
    if (why !== undefined) return why
    if (target === 'auto') return `no connected peer can run task type "${type}" right now`
    if (target === 'local') return `this node cannot run task type "${type}"`
    return `peer ${target} is not connected`
  }

  /**
   * Polls for a route, up to `waitForPeerMs`. Meanwhile the DHT is asked for providers (with
   * `target: 'auto'`), again whenever the finder's last answer has gone stale; while the first
   * lookup runs, and for a moment after a lookup connected some (their capability announcements
   * are on their way), the wait goes on past `waitForPeerMs`.
   */
  async #waitForRoute(tried: ReadonlySet<string>): Promise<Route | undefined> {
    // Too large to send, and this node cannot run it: no peer appearing can change that.
    if (this.#spec.localOnly === true) return undefined
    let deadline = performance.now() + this.#spec.waitForPeerMs
    const discovery =
      this.#spec.target === 'auto' && this.#spec.waitForPeerMs > 0 ? this.#discovery : undefined
    let finding = false
    let first = true
    // Providers found but none reached (the lookup ran as a relay died, say, and gave its old
    // address): one more lookup, with the wait held for it as for the first.
    let again = true
    let last: FindResult | undefined
    const find = (): void => {
      if (discovery === undefined || finding) return
      finding = true
      discovery.find(this.#spec).then(
        (result) => {
          finding = false
          // The finder's cached answer again: nothing new, the wait stands as it was.
          if (result === last) return
          last = result
          first = false
          if (result.connected.length > 0) {
            deadline = Math.max(deadline, performance.now() + DISCOVERED_PEER_GRACE_MS)
          } else if (again && result.found.length > 0) {
            again = false
            first = true
            deadline = Math.max(deadline, performance.now() + FIND_NEGATIVE_FIRST_MS + PEER_WAIT_POLL_MS)
          }
        },
        () => {
          finding = false
          first = false
        },
      )
    }
    for (;;) {
      // The finder answers from its cache until a lookup is worth making again.
      find()
      const left = deadline - performance.now()
      if ((left <= 0 && !(finding && first)) || this.isFinished) return undefined
      await this.#sleep(left > 0 ? Math.min(left, PEER_WAIT_POLL_MS) : PEER_WAIT_POLL_MS)
      const route = this.#chooser.choose(this.#spec, tried)
      if (route !== undefined || this.isFinished) return route
    }
  }

  #setStatus(status: NetworkTaskStatus): void {
    if (this.isFinished || this.#status === status) return
    this.#status = status
    if (this.listenerCount('status') > 0) this.safeDispatchEvent('status', { detail: this.record() })
  }

  #finish(status: NetworkTaskStatus, output: unknown, error?: TaskRecordError): void {
    if (this.isFinished) return
    this.#status = status
    this.#finishedAt = Date.now()
    if (status === 'COMPLETED') {
      this.#output = output
      this.#progress = { fraction: 1 }
    } else if (error !== undefined) {
      this.#error = error
    }
    this.#wake?.()
    this.#holding?.stop.abort()
    this.#nextHeld = undefined
    // No attempt resumes from it now: its blocks go (the record still says where it was).
    const checkpoint = this.#checkpoint
    if (checkpoint !== undefined && 'ref' in checkpoint.from)
      this.#launcher.releaseCheckpoint(checkpoint.from.ref)
    if (this.#span !== undefined) this.#tracing?.tracer.end(this.#span, { status, code: this.#error?.code })
    // Ended: the history need not keep it (the trace id stays).
    this.#span = undefined
    const record = this.record()
    this.#final = record
    if (status !== 'COMPLETED') this.#stream.fail(failedError(record))
    else if (!this.#stream.complete(output)) {
      this.#log.warn(
        { ...taskLogFields(this.id, this.#traceId), remotePeer: this.#peer },
        'the text a provider streamed differs from the text it signed: the signed text is the answer',
      )
    }
    this.#resolveDone(record as NetworkTaskRecord<Output>)
    if (this.listenerCount('status') > 0) this.safeDispatchEvent('status', { detail: record })
  }

  /** Sleeps, waking early when the task finishes (cancel, stop). No AbortController: they are costly. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.isFinished) return resolve()
      const done = (): void => {
        clearTimeout(timer)
        this.#wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#wake = done
    })
  }
}

/** What `output()` rejects with for a record that did not complete. */
export function failedError(record: NetworkTaskRecord): TaskFailedError {
  const error = record.error ?? { code: 'ERR_INTERNAL', message: `task ${record.status.toLowerCase()}` }
  return new TaskFailedError(record.id, error, record.attempts, record.redundancy?.answers ?? [])
}
