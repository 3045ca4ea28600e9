/**
 * Verification by redundancy (`submit(task, { redundancy: k })`): the task runs on k distinct
 * providers (this node may be one), and an answer is accepted once more than k / 2 of them agree
 * by the task type's agreement rule. Without such a majority the task fails with
 * `ERR_NO_AGREEMENT`, listing who signed each answer.
 *
 * The task completes as soon as a majority agrees; the remaining providers still finish (their
 * answers are not needed, but their agreement is recorded), so a slow liar is caught too. Each
 * answer's signer gets an agreement or a disagreement in its reputation, which routing divides
 * into its score: a provider that is outvoted gets fewer tasks. Without a majority nobody is
 * blamed, since nobody knows who was wrong.
 */

import type { TaskTimings } from '@p2p-ai/protocol'
import { TypedEventEmitter } from 'main-event'
import type { Logger } from 'pino'
import type { ReputationBook } from '../../peers/reputation.js'
import { recordedTraceId, type TaskTracer } from '../../tracing/task-tracer.js'
import type { NodeSpan } from '../../tracing/types.js'
import type { AttemptInfo, RedundantAnswer, TaskRecordError } from '../errors.js'
import type { ExchangeReports } from '../events.js'
import type { Route } from '../route/router.js'
import { type AgreementRule, tally } from '../trust/agreement.js'
import {
  isFinalStatus,
  type NetworkTaskEvents,
  type NetworkTaskHandle,
  type NetworkTaskProgress,
  type NetworkTaskRecord,
  type NetworkTaskStatus,
  type RedundancyReport,
  type TaskStreamEvent,
  type TaskStreamOptions,
} from '../types.js'
import type { AttemptLauncher } from './launcher.js'
import { TaskStreamLog } from './stream-log.js'
import type { TaskSpec } from './submission.js'
import { type Chooser, failedError, NetworkTask } from './task.js'

interface Answer {
  readonly peer: string
  readonly output: unknown
  readonly timings: TaskTimings | undefined
  /** Whether its agreement went into the signer's reputation already. */
  recorded: boolean
}

/** A task run on k providers at once, accepted by majority. Registered and listed like any task. */
export class RedundantTask extends TypedEventEmitter<NetworkTaskEvents> implements NetworkTaskHandle {
  readonly spec: TaskSpec
  readonly #self: string
  readonly #chooser: Chooser
  readonly #launcher: AttemptLauncher
  readonly #book: ReputationBook
  readonly #log: Logger
  readonly #reports: ExchangeReports | undefined
  readonly #rule: AgreementRule
  readonly #k: number
  readonly #replicas: NetworkTask[] = []
  /** Providers taken by some replica (this node's PeerId for a local run): the others must differ. */
  readonly #taken = new Set<string>()
  readonly #answers: Answer[] = []
  readonly #submittedAt: number
  #status: NetworkTaskStatus = 'PENDING'
  #startedAt: number | undefined
  #finishedAt: number | undefined
  #winner: Answer | undefined
  #error: TaskRecordError | undefined
  /**
   * The accepted text, once the vote is in: the replicas' deltas are not streamed, since nobody
   * knows which provider's text will be accepted until a majority agrees.
   */
  readonly #stream = new TaskStreamLog()
  readonly #done: Promise<NetworkTaskRecord>
  #resolve!: (record: NetworkTaskRecord) => void
  readonly #tracer: TaskTracer | undefined
  #span: NodeSpan | undefined
  #traceId: string | undefined

  constructor(
    spec: TaskSpec,
    rule: AgreementRule,
    parts: {
      self: string
      chooser: Chooser
      launcher: AttemptLauncher
      book: ReputationBook
      log: Logger
      tracer?: TaskTracer | undefined
      /** Each replica's retries and failovers are reported under the task's id. */
      reports?: ExchangeReports
    },
  ) {
    super()
    this.spec = spec
    this.#self = parts.self
    this.#chooser = parts.chooser
    this.#launcher = parts.launcher
    this.#book = parts.book
    this.#log = parts.log
    this.#reports = parts.reports
    this.#rule = rule
    this.#tracer = parts.tracer
    this.#k = spec.redundancy
    this.#submittedAt = spec.resumed?.submittedAt ?? Date.now()
    this.#done = new Promise((resolve) => {
      this.#resolve = resolve
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

  /** Who signed the accepted answer. */
  get peer(): string | undefined {
    return this.#winner?.peer
  }

  get isFinished(): boolean {
    return isFinalStatus(this.#status)
  }

  /** Starts the k replicas; each takes a provider none of the others has. Called once. */
  async run(): Promise<void> {
    // Replicas are created one after the other, and each chooses its first provider synchronously
    // when it starts: the next one already sees what the previous one took.
    const chooser: Chooser = { choose: (spec, tried) => this.#choose(spec, tried) }
    const spec: TaskSpec = { ...this.spec, redundancy: 1, exclude: this.#taken }
    const runs: Promise<void>[] = []
    const tracer = this.#tracer
    if (tracer !== undefined && !this.isFinished) {
      this.#span = tracer.task(this.spec.id, this.spec.type)
      this.#span.setAttribute('p2p_ai.redundancy', this.#k)
      this.#traceId = recordedTraceId(this.#span)
    }
    const span = this.#span
    for (let i = 0; i < this.#k; i++) {
      const replica = new NetworkTask(
        spec,
        chooser,
        this.#launcher,
        this.#log,
        this.#reports,
        undefined,
        tracer === undefined || span === undefined ? undefined : { tracer, parent: { span, replica: i + 1 } },
      )
      this.#replicas.push(replica)
      replica.addEventListener('status', () => this.#onReplicaStatus())
      replica.addEventListener('progress', () => this.#onReplicaProgress())
      void replica.result().then((record) => this.#onReplicaDone(record))
      runs.push(replica.run())
    }
    await Promise.all(runs)
  }

  record(): NetworkTaskRecord {
    const s = this.spec
    const winner = this.#winner
    const attempts: AttemptInfo[] = this.#replicas.flatMap((r) => r.record().attempts)
    return {
      id: s.id,
      type: s.type,
      status: this.#status,
      priority: s.priority,
      timeoutMs: s.timeoutMs,
      target: s.target,
      submittedAt: this.#submittedAt,
      attempts,
      redundancy: this.#report(),
      ...(winner === undefined ? {} : { peer: winner.peer }),
      ...(this.#startedAt === undefined ? {} : { startedAt: this.#startedAt }),
      ...(this.#finishedAt === undefined ? {} : { finishedAt: this.#finishedAt }),
      ...(this.#status === 'COMPLETED' ? { output: winner?.output, progress: { fraction: 1 } } : {}),
      ...(this.#error === undefined ? {} : { error: this.#error }),
      ...(winner?.timings === undefined ? {} : { timings: winner.timings }),
      ...(this.#traceId === undefined ? {} : { traceId: this.#traceId }),
      ...(s.resumed === undefined ? {} : { resumed: s.resumed.count }),
    }
  }

  result(): Promise<NetworkTaskRecord> {
    return this.#done
  }

  async output(): Promise<unknown> {
    const record = await this.#done
    if (record.status === 'COMPLETED') return record.output
    throw failedError(record)
  }

  stream(options?: TaskStreamOptions): AsyncIterableIterator<TaskStreamEvent> {
    return this.#stream.iterate(options)
  }

  cancel(reason = 'cancelled by the requester'): boolean {
    if (this.isFinished) return false
    for (const replica of this.#replicas) replica.cancel(reason)
    this.#finish('CANCELLED', { code: 'ERR_CANCELLED', message: reason })
    return true
  }

  /** The exchange is stopping. */
  halt(): void {
    for (const replica of this.#replicas) replica.halt()
    if (!this.isFinished) {
      this.#finish('FAILED', {
        code: 'ERR_EXCHANGE_STOPPED',
        message: 'the node stopped before the task finished',
      })
    }
  }

  #choose(spec: TaskSpec, tried: ReadonlySet<string>): Route | undefined {
    const route = this.#chooser.choose(spec, tried)
    if (route !== undefined) this.#taken.add(route.kind === 'local' ? this.#self : route.peer)
    return route
  }

  #onReplicaStatus(): void {
    if (this.isFinished) return
    if (this.#replicas.some((r) => r.status === 'RUNNING' || r.status === 'QUEUED')) {
      this.#startedAt ??= Date.now()
      this.#setStatus('RUNNING')
    }
  }

  #onReplicaProgress(): void {
    if (this.isFinished || this.listenerCount('progress') === 0) return
    const fractions = this.#replicas.map((r) => (r.isFinished ? 1 : (r.record().progress?.fraction ?? 0)))
    const progress: NetworkTaskProgress = {
      fraction: fractions.reduce((a, b) => a + b, 0) / fractions.length,
      message: `${this.#answers.length} of ${this.#k} answers`,
    }
    this.safeDispatchEvent('progress', { detail: progress })
  }

  #onReplicaDone(record: NetworkTaskRecord): void {
    if (record.status === 'COMPLETED') {
      const peer = record.provider ?? record.peer ?? this.#self
      // A provider reached twice (through two relays) gets one vote.
      if (!this.#answers.some((a) => a.peer === peer)) {
        this.#answers.push({ peer, output: record.output, timings: record.timings, recorded: false })
        this.#decide()
      }
    }
    if (this.#replicas.every((r) => r.isFinished)) this.#conclude()
  }

  /** Accepts the answer a majority agrees with, as soon as there is one. */
  #decide(): void {
    if (this.#winner === undefined) {
      const { winner } = tally(
        this.#answers.map((a) => a.output),
        this.#rule,
        this.#k,
      )
      if (winner === undefined) return
      this.#winner = this.#answers[winner] as Answer
      if (!this.isFinished) this.#finish('COMPLETED')
    }
    this.#recordAgreement()
  }

  /** Every replica is final: fail if no majority was reached. */
  #conclude(): void {
    if (this.isFinished) return
    if (this.#answers.length === 0) {
      // Nobody answered: the replicas' own reason (invalid input, no capable peer...) is the task's.
      const first = this.#replicas.map((r) => r.record()).find((r) => r.error !== undefined)
      const status = first?.status === 'TIMEOUT' ? 'TIMEOUT' : 'FAILED'
      this.#finish(status, first?.error ?? { code: 'ERR_INTERNAL', message: 'no replica answered' })
      return
    }
    const needed = Math.floor(this.#k / 2) + 1
    const who = this.#answers.map((a) => a.peer).join(', ')
    this.#finish('FAILED', {
      code: 'ERR_NO_AGREEMENT',
      message: `no ${needed} of ${this.#k} providers agree on task ${this.id} (${this.#answers.length} answered, signed by ${who})`,
    })
  }

  #recordAgreement(): void {
    const winner = this.#winner
    if (winner === undefined) return
    for (const answer of this.#answers) {
      if (answer.recorded) continue
      answer.recorded = true
      if (answer.peer === this.#self) continue
      this.#book.recordAgreement(answer.peer, answer === winner || this.#agrees(answer, winner))
    }
  }

  #agrees(a: Answer, b: Answer): boolean {
    try {
      return this.#rule(a.output, b.output) === true
    } catch {
      return false
    }
  }

  #report(): RedundancyReport {
    const winner = this.#winner
    const answers: RedundantAnswer[] = this.#answers.map((a) => ({
      peer: a.peer,
      agreed: winner !== undefined && (a === winner || this.#agrees(a, winner)),
    }))
    return { k: this.#k, required: Math.floor(this.#k / 2) + 1, answers }
  }

  #setStatus(status: NetworkTaskStatus): void {
    if (this.isFinished || this.#status === status) return
    this.#status = status
    if (this.listenerCount('status') > 0) this.safeDispatchEvent('status', { detail: this.record() })
  }

  #finish(status: NetworkTaskStatus, error?: TaskRecordError): void {
    if (this.isFinished) return
    this.#status = status
    this.#finishedAt = Date.now()
    if (error !== undefined) this.#error = error
    if (this.#span !== undefined) this.#tracer?.end(this.#span, { status, code: error?.code })
    const record = this.record()
    if (status === 'COMPLETED') this.#stream.complete(record.output)
    else this.#stream.fail(failedError(record))
    this.#resolve(record)
    if (this.listenerCount('status') > 0) this.safeDispatchEvent('status', { detail: record })
  }
}
