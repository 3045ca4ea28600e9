/**
 * One submitted task and its way through the network: choose a peer (or this node), send a
 * signed request, follow accept, progress and the verified result; on failure record why, move
 * on to another peer after a backoff, and end in a final state that says what happened. The
 * object is also the task's handle.
 */
import type { PeerId } from '@libp2p/interface'
import type { TaskHandle } from '@p2p-ai/engine'
import { RemoteError, type TaskTimings } from '@p2p-ai/protocol'
import { TypedEventEmitter } from 'main-event'
import {
  type AttemptOutcome,
  backoff,
  blame,
  type Choice,
  codeOf,
  localFailure,
  type TaskContext,
  type TaskSpec,
} from './attempt.js'

import { PEER_WAIT_POLL_MS } from './constants.js'
import {
  type AttemptInfo,
  ExchangeStoppedError,
  NoCapablePeerError,
  RetriesExhaustedError,
  TaskCancelledError,
} from './errors.js'
import { runRemote } from './remote-attempt.js'
import type { PendingAttempt } from './requester.js'
import {
  isFinalStatus,
  type NetworkTaskEvents,
  type NetworkTaskHandle,
  type NetworkTaskProgress,
  type NetworkTaskRecord,
  type NetworkTaskStatus,
} from './types.js'
import { wireCode } from './wire.js'

/** Output types are the caller's promise; internally a task's output is unknown. */
type Output = unknown

export class NetworkTask extends TypedEventEmitter<NetworkTaskEvents> implements NetworkTaskHandle {
  readonly spec: TaskSpec
  readonly #ctx: TaskContext
  #status: NetworkTaskStatus = 'PENDING'
  readonly #submittedAt = Date.now()
  #startedAt: number | undefined
  #finishedAt: number | undefined
  #peer: string | undefined
  /** Signer of the result of a forwarded attempt. */
  #provider: string | undefined
  #progress: NetworkTaskProgress | undefined
  #output: unknown
  #error: { code: string; message: string } | undefined
  #timings: TaskTimings | undefined
  readonly #attempts: AttemptInfo[] = []
  #remote: PendingAttempt | undefined
  /** Ends the wait for the current remote attempt (when the task finishes by other means). */
  #settleRemote: ((outcome: AttemptOutcome) => void) | undefined
  #local: TaskHandle | undefined
  /** Wakes the attempt loop from a backoff or a wait early (the task finished meanwhile). */
  #wake: (() => void) | undefined
  readonly #done: Promise<NetworkTaskRecord<Output>>
  #resolveDone!: (record: NetworkTaskRecord<Output>) => void

  constructor(spec: TaskSpec, ctx: TaskContext) {
    super()
    this.spec = spec
    this.#ctx = ctx
    this.#done = new Promise((resolve) => {
      this.#resolveDone = resolve
    })
  }

  get id(): string {
    return this.spec.id
  }

  get type(): string {
    return this.spec.type
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

  record(): NetworkTaskRecord<Output> {
    const s = this.spec
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
      ...(this.#status === 'COMPLETED' ? { output: this.#output as Output } : {}),
      ...(this.#error === undefined ? {} : { error: this.#error }),
      ...(this.#timings === undefined ? {} : { timings: this.#timings }),
    }
  }

  result(): Promise<NetworkTaskRecord<Output>> {
    return this.#done
  }

  async output(): Promise<Output> {
    const record = await this.#done
    if (record.status === 'COMPLETED') return record.output as Output
    const error = record.error ?? { code: 'ERR_INTERNAL', message: `task ${record.status}` }
    if (error.code === RetriesExhaustedError.code) throw new RetriesExhaustedError(record.attempts)
    throw new RemoteError(error.code, error.message)
  }

  cancel(reason = 'cancelled by the requester'): boolean {
    if (this.isFinished) return false
    if (this.#remote !== undefined) this.#ctx.requester.withdraw(this.#remote, true, reason)
    this.#local?.cancel()
    this.#finish('CANCELLED', undefined, new TaskCancelledError(reason))
    return true
  }

  /** The exchange is stopping: the task fails with `ERR_EXCHANGE_STOPPED`, its provider is told. */
  halt(): void {
    if (this.isFinished) return
    if (this.#remote !== undefined) this.#ctx.requester.withdraw(this.#remote, true, 'requester stopping')
    this.#local?.cancel()
    this.#finish('FAILED', undefined, new ExchangeStoppedError('the node stopped before the task finished'))
  }

  /** Runs attempts until the task is final. Called once by the exchange. */
  async run(): Promise<void> {
    try {
      if (this.#ctx.stopped) this.halt()
      else await this.#loop()
    } catch (err) {
      // A bug, not a task outcome; still, the task must not stay pending forever.
      this.#ctx.log.error({ err, taskId: this.id }, 'task loop failed')
      if (!this.isFinished) this.#finish('FAILED', undefined, err as Error)
    }
  }

  async #loop(): Promise<void> {
    const tried = new Set<string>()
    for (let n = 1; n <= this.spec.maxAttempts; n++) {
      if (this.isFinished) return
      // Choosing and sending happen in the same tick when a place is free: a burst of submissions
      // then sees each other's load, instead of all picking the peer that looked best at first.
      const choice = this.#ctx.choose(this, tried) ?? (await this.#waitForChoice(tried))
      if (this.isFinished) return
      if (choice === undefined) {
        const why = this.#noPeerMessage()
        if (this.#attempts.length === 0) this.#finish('FAILED', undefined, new NoCapablePeerError(why))
        else this.#exhausted()
        return
      }
      const peer = choice.local ? this.#ctx.self : choice.peer
      tried.add(peer)
      this.#peer = peer
      const startedAt = Date.now()
      const outcome = choice.local
        ? await this.#runLocal()
        : await this.#runRemote(choice.peer, choice.peerId, choice.forward === true)
      if (outcome.kind === 'done' || this.isFinished) return
      this.#attempts.push({ peer, attempt: n, startedAt, finishedAt: Date.now(), error: outcome.error })
      if (peer !== this.#ctx.self) blame(this.#ctx.reputation, peer, outcome.verdict, outcome.retryAfterMs)
      if (this.listenerCount('attempt') > 0) {
        this.safeDispatchEvent('attempt', { detail: this.#attempts.at(-1) as AttemptInfo })
      }
      const explicit = this.spec.target !== 'auto'
      if (outcome.verdict.kind === 'final' || (explicit && outcome.verdict.notCapable === true)) {
        this.#finish(outcome.status ?? 'FAILED', undefined, outcome.error)
        return
      }
      this.#setStatus('PENDING')
      if (n < this.spec.maxAttempts) await this.#sleep(backoff(n + 1))
    }
    if (!this.isFinished) this.#exhausted()
  }

  #exhausted(): void {
    const error = new RetriesExhaustedError(this.#attempts)
    this.#finish('FAILED', undefined, error)
  }

  #noPeerMessage(): string {
    const { target, type } = this.spec
    if (target === 'auto') return `no connected peer can run task type "${type}" right now`
    if (target === 'local') return `this node cannot run task type "${type}"`
    return `peer ${target} is not connected`
  }

  /** Polls for a place to run, up to `waitForPeerMs`. */
  async #waitForChoice(tried: ReadonlySet<string>): Promise<Choice | undefined> {
    const deadline = performance.now() + this.spec.waitForPeerMs
    for (;;) {
      const left = deadline - performance.now()
      if (left <= 0 || this.isFinished) return undefined
      await this.#sleep(Math.min(left, PEER_WAIT_POLL_MS))
      const choice = this.#ctx.choose(this, tried)
      if (choice !== undefined || this.isFinished) return choice
    }
  }

  #runRemote(peer: string, peerId: PeerId, forward: boolean): Promise<AttemptOutcome> {
    return runRemote(
      this.spec,
      this.#ctx,
      this.#submittedAt,
      { peer, peerId, forward },
      {
        finished: () => this.isFinished,
        accepted: (queuePosition) => {
          this.#startedAt ??= Date.now()
          this.#setStatus(queuePosition === 0 ? 'RUNNING' : 'QUEUED')
        },
        progress: (progress) => this.#onProgress(progress),
        result: (result, provider) => {
          this.#provider = provider
          this.#timings = result.timings
          if (result.status === 'completed') this.#finish('COMPLETED', result.output)
        },
        dispatch: (attempt, settle) => {
          this.#remote = attempt
          this.#settleRemote = settle
          this.#ctx.reputation.dispatched(peer)
          this.#setStatus('PENDING')
          this.#ctx.requester.send(peerId, attempt)
        },
        settled: (attempt) => {
          if (this.#remote === attempt) {
            this.#remote = undefined
            this.#settleRemote = undefined
          }
        },
      },
    )
  }

  async #runLocal(): Promise<AttemptOutcome> {
    const s = this.spec
    let handle: TaskHandle
    try {
      handle = await this.#ctx.engine.submit({
        id: `${this.#ctx.self}:${s.id}`,
        type: s.type,
        input: s.input,
        priority: s.priority,
        timeoutMs: s.timeoutMs,
        meta: { requester: this.#ctx.self, taskId: s.id },
      })
    } catch (err) {
      const code = wireCode(codeOf(err))
      const error = { code, message: (err as Error).message }
      // Busy here may be free elsewhere; anything else about the request is final.
      if (code === 'ERR_BUSY' && this.spec.target === 'auto') {
        return { kind: 'failed', error, verdict: { kind: 'retry', blame: 'none' } }
      }
      return { kind: 'failed', error, verdict: { kind: 'final' } }
    }
    if (this.isFinished) {
      handle.cancel()
      return { kind: 'done' }
    }
    this.#local = handle
    this.#startedAt ??= Date.now()
    this.#setStatus(handle.status === 'RUNNING' ? 'RUNNING' : 'QUEUED')
    const onStatus = (): void => {
      if (handle.status === 'RUNNING') this.#setStatus('RUNNING')
    }
    const onProgress = (evt: CustomEvent<NetworkTaskProgress>): void => this.#onProgress(evt.detail)
    handle.addEventListener('status', onStatus)
    handle.addEventListener('progress', onProgress)
    const record = await handle.result()
    handle.removeEventListener('status', onStatus)
    handle.removeEventListener('progress', onProgress)
    this.#local = undefined
    if (this.isFinished) return { kind: 'done' }
    if (record.status === 'COMPLETED') {
      this.#finish('COMPLETED', record.output)
      return { kind: 'done' }
    }
    return localFailure(record)
  }

  #onProgress(progress: NetworkTaskProgress): void {
    if (this.isFinished) return
    this.#progress = progress
    if (this.#status !== 'RUNNING') this.#setStatus('RUNNING')
    if (this.listenerCount('progress') > 0) this.safeDispatchEvent('progress', { detail: progress })
  }

  #setStatus(status: NetworkTaskStatus): void {
    if (this.isFinished || this.#status === status) return
    this.#status = status
    if (this.listenerCount('status') > 0) this.safeDispatchEvent('status', { detail: this.record() })
  }

  #finish(status: NetworkTaskStatus, output: unknown, error?: { code?: string; message: string }): void {
    if (this.isFinished) return
    this.#status = status
    this.#finishedAt = Date.now()
    if (status === 'COMPLETED') {
      this.#output = output
      this.#progress = { fraction: 1 }
    } else {
      this.#error = { code: error?.code ?? 'ERR_INTERNAL', message: error?.message ?? status.toLowerCase() }
    }
    this.#wake?.()
    this.#settleRemote?.({ kind: 'done' })
    const record = this.record()
    this.#resolveDone(record as NetworkTaskRecord<Output>)
    this.#ctx.finished(this)
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
