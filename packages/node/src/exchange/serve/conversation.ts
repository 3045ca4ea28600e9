/**
 * One task on a provider's session: run on this node's engine, or relayed to the next hop when it
 * came as a `task.forward` for a type this node does not run. Either way the conversation answers
 * exactly once: a `task.reject`, or a `task.accept`, progress, and one `task.result` (docs/protocol.md
 * §2.1).
 */
import { Buffer } from 'node:buffer'
import type { TaskCheckpoint, TaskHandle } from '@p2p-ai/engine'
import {
  CHECKPOINT_MINOR,
  CHECKPOINT_REF_MINOR,
  CONTENT_MINOR,
  type ContentRef,
  canonicalize,
  encodeBodyFrame,
  encodeControl,
  encodeJsonFrame,
  MAX_CHECKPOINT_BYTES,
  type OpenedForward,
  STREAMING_MINOR,
  sealPrepared,
  TASK_ERROR_CODES,
  type TaskRequest,
  type TraceContext,
  toWireError,
  type WireError,
} from '@p2p-ai/protocol'
import { InvalidContentError } from '../../content/errors.js'
import { releaseHeld } from '../../content/hold.js'
import { getJson, putJson } from '../../content/json.js'
import { taskLogFields } from '../../logger.js'
import { recordedTraceId, type SpanOutcome } from '../../tracing/task-tracer.js'
import type { NodeSpan } from '../../tracing/types.js'
import {
  BUSY_RETRY_AFTER_MS,
  CHECKPOINT_KEEP_GRACE_MS,
  PROGRESS_MIN_INTERVAL_MS,
  RELAY_ID_BUSY_RETRY_AFTER_MS,
} from '../constants.js'
import type { AttemptObserver, RemoteAttempt } from '../request/attempt.js'
import { takesContent } from '../route/router.js'
import { DeltaOutbox } from '../stream/deltas.js'
import type { NetworkTaskProgress } from '../types.js'
import { outcomeOf, prepareResult, type ResultOutcome, timingsOf, wireErrorOf } from './results.js'
import type { ProviderSession } from './session.js'

/** A large checkpoint on its way out by CID: its canonical JSON, and its number among the task's. */
interface PendingCheckpoint {
  readonly fraction: number
  readonly text: string
  readonly seq: number
}

/** The checkpoint a request carries inline (minor 6), as the engine takes it. */
function inlineResume(r: TaskRequest): TaskCheckpoint | undefined {
  const resume = r.resume
  if (resume === undefined || resume.checkpoint === undefined) return undefined
  return { state: resume.checkpoint, fraction: resume.progress }
}

export class Conversation implements AttemptObserver {
  readonly id: string
  /** Who signed the request: the stream's peer, or the requester of a forwarded task. */
  readonly requester: string
  readonly engineId: string
  /**
   * Came in a `task.forward`: its result travels back through relays to a requester whose
   * protocol minor this node does not know, so it is signed on its own, never in a batch.
   */
  readonly forwarded: boolean
  readonly #session: ProviderSession
  readonly #request: TaskRequest
  /** Of the newest request for this task on the stream: the result quotes it. */
  #digest: string
  readonly #receivedAt = performance.now()
  #handle: TaskHandle | undefined
  /** Aborts the fetch of an input sent by CID, or the storing of an output, while one runs. */
  #content: AbortController | undefined
  #relay: RemoteAttempt | undefined
  #relayKey: string | undefined
  #timer: NodeJS.Timeout | undefined
  #cancelRequested = false
  #accepted = false
  #progressAt = Number.NEGATIVE_INFINITY
  /**
   * Streamed text on its way to the requester, from the first delta on; `null` when the
   * requester does not read deltas. Decided once, at the first delta: a stream that switched midway
   * would have lost the text sent before (and a requester that learnt our minor late sees none).
   */
  #deltas: DeltaOutbox | null | undefined
  #done = false
  /**
   * Checkpoints the task reported (numbered), the newest sent, one being stored by CID, and those
   * sent by CID whose blocks are still held here (oldest first).
   */
  readonly #checkpoints: {
    reported: number
    sent: number
    storing: AbortController | undefined
    next: PendingCheckpoint | undefined
    held: ContentRef[]
  } = { reported: 0, sent: 0, storing: undefined, next: undefined, held: [] }
  /** The trace context the task arrived with (minor 3), and this node's span of it while it lasts. */
  readonly #remote: TraceContext | undefined
  #span: NodeSpan | undefined
  #traceId: string | undefined

  constructor(
    session: ProviderSession,
    request: TaskRequest,
    digest: string,
    forwarded: boolean,
    trace: TraceContext | undefined,
  ) {
    this.#session = session
    this.#request = request
    this.#remote = trace
    this.id = request.id
    this.requester = request.requester
    // Keyed by the requester, not the stream's peer: a task that arrives again through another
    // relay (or directly) joins the run the engine already has.
    this.engineId = `${request.requester}:${request.id}`
    this.#digest = digest
    this.forwarded = forwarded
  }

  /** The same task asked again on this stream: answer that request too (§2.3). */
  join(digest: string): void {
    this.#digest = digest
    if (this.#accepted) this.#sendAccept(this.#handle?.status === 'RUNNING' ? 0 : undefined)
  }

  /** Runs the task on this node's engine, which counts `timeoutMs` from now (queueing included). */
  run(): void {
    const r = this.#request
    const byCid =
      r.resume?.checkpointRef !== undefined && this.#session.init.content !== undefined && !this.forwarded
    if (r.inputRef !== undefined || byCid) this.#fetchContent(r.inputRef)
    else this.#submit(r.input as Readonly<Record<string, unknown>>, r.timeoutMs, inlineResume(r))
  }

  /**
   * An input sent by CID (docs/protocol.md §2.9), or a checkpoint to resume from sent by CID
   * (minor 7, §2.8): taken at once, then fetched from the requester (or any peer that has it),
   * every block checked against the CID it signed, while `timeoutMs` runs; then submitted to the
   * engine with what is left of it. A checkpoint that cannot be had is no checkpoint: the task
   * starts from the beginning.
   */
  #fetchContent(ref: ContentRef | undefined): void {
    const { content } = this.#session.init
    if (ref !== undefined && (content === undefined || this.forwarded)) {
      this.#end()
      this.#reject({
        code: TASK_ERROR_CODES.contentUnavailable,
        message:
          content === undefined
            ? 'this node does not fetch content by CID'
            : 'an input by CID is not fetched for a forwarded task',
      })
      return
    }
    if (content === undefined) return
    if (ref !== undefined && ref.size > content.maxBytes) {
      this.#end()
      this.#reject({
        code: TASK_ERROR_CODES.contentTooLarge,
        message: `the input is ${ref.size} bytes; this node takes at most ${content.maxBytes}`,
      })
      return
    }
    this.#session.provider.counters.accepted++
    this.#sendAccept(undefined)
    const fetching = new AbortController()
    this.#content = fetching
    const deadline = setTimeout(() => fetching.abort(), this.#request.timeoutMs)
    const r = this.#request
    // A checkpoint is held only while it is read: the engine resumes from the parsed state, and
    // the requester keeps the blocks for any later attempt.
    const fetch = (what: string, of: ContentRef, fraction: number, hold = false) => {
      const fetched = getJson(content, of, {
        from: this.requester,
        signal: fetching.signal,
        maxBytes: content.maxBytes,
        hold,
        onProgress: (received, total) =>
          this.progress({ fraction, message: `fetching the ${what}: ${received} of ${total} bytes` }),
      })
      return hold ? fetched.finally(() => releaseHeld(content, of)) : fetched
    }
    const input =
      ref === undefined
        ? Promise.resolve(r.input)
        : fetch('input', ref, 0).then((value) => {
            if (value === null || typeof value !== 'object' || Array.isArray(value)) {
              throw new InvalidContentError(`the input ${ref.cid} is not a JSON object`)
            }
            return value
          })
    const checkpointRef = r.resume?.checkpointRef
    const resume: Promise<TaskCheckpoint | undefined> =
      checkpointRef === undefined || r.resume === undefined
        ? Promise.resolve(inlineResume(r))
        : fetch('checkpoint', checkpointRef, r.resume.progress, true).then(
            (state) => ({ state, fraction: r.resume?.progress ?? 0 }),
            (err: unknown) => {
              if (fetching.signal.aborted) throw err
              this.#session.init.log.debug(
                { err, ...taskLogFields(this.id), cid: checkpointRef.cid, requester: this.requester },
                'could not fetch the checkpoint to resume from: starting from the beginning',
              )
              return undefined
            },
          )
    Promise.all([input, resume])
      .then(
        ([input, resume]) => {
          if (this.#done) return
          const left = this.#request.timeoutMs - Math.ceil(performance.now() - this.#receivedAt)
          if (left < 1) throw Object.assign(new Error('the input arrived too late'), { code: 'ERR_TIMEOUT' })
          this.#submit(input as Readonly<Record<string, unknown>>, left, resume)
        },
        (err: unknown) => {
          throw fetching.signal.aborted && !this.#done
            ? Object.assign(
                new Error(
                  `the ${ref === undefined ? 'checkpoint' : 'input'} ${(ref ?? checkpointRef)?.cid} did not arrive within timeoutMs`,
                ),
                {
                  code: 'ERR_TIMEOUT',
                },
              )
            : err
        },
      )
      .catch((err: unknown) => {
        if (this.#done) return
        this.#end()
        const code = (err as { code?: unknown }).code
        const error =
          code === InvalidContentError.code
            ? { code: TASK_ERROR_CODES.invalidInput, message: (err as Error).message }
            : wireErrorOf(err)
        this.#sendResult(
          { status: error.code === TASK_ERROR_CODES.timeout ? 'timeout' : 'failed', error },
          timingsOf(this.#receivedAt, undefined),
        )
      })
      .finally(() => {
        clearTimeout(deadline)
        if (this.#content === fetching) this.#content = undefined
      })
  }

  #submit(
    input: Readonly<Record<string, unknown>>,
    timeoutMs: number,
    resume: TaskCheckpoint | undefined,
  ): void {
    const { engine, persist } = this.#session.init
    const r = this.#request
    this.#startSpan('serve')
    const traceId = this.#traceId
    let submitted: Promise<TaskHandle>
    try {
      submitted = engine.submit({
        id: this.engineId,
        type: r.taskType,
        input,
        priority: r.priority,
        timeoutMs,
        timeoutFrom: 'submit',
        meta: { requester: r.requester, taskId: r.id, ...(traceId === undefined ? {} : { traceId }) },
        // Requesters share this node's slots fairly (the engine's scheduler), by priority up to a cap.
        flow: r.requester,
        weight: this.#session.init.admission.weight(r.requester, r.priority),
        // The requester holds the signed result; it should not wait for our disk.
        persist,
        ...(resume === undefined ? {} : { resume }),
      })
    } catch (err) {
      submitted = Promise.reject(err)
    }
    submitted.then(
      (handle) => this.#onSubmitted(handle),
      (err: unknown) => {
        if (this.#done) return
        const error = wireErrorOf(err)
        this.#end()
        this.#reject(error, error.code === TASK_ERROR_CODES.busy ? BUSY_RETRY_AFTER_MS : undefined)
      },
    )
  }

  #onSubmitted(handle: TaskHandle): void {
    if (this.#done) {
      // The stream died while the engine admitted it.
      handle.cancel()
      return
    }
    this.#handle = handle
    // An input by CID was taken (and counted) before it was fetched.
    if (!this.#accepted) this.#session.provider.counters.accepted++
    this.#sendAccept(handle.status === 'RUNNING' ? 0 : undefined)
    if (this.#cancelRequested) handle.cancel()
    if (handle.status === 'QUEUED' || handle.status === 'RUNNING') {
      handle.addEventListener('progress', (evt) => this.progress(evt.detail))
    }
    handle.result().then(
      async (record) => {
        if (this.#done) return
        const outcome = await this.#byReference(outcomeOf(record))
        if (this.#done) return
        this.#end()
        const timings = timingsOf(this.#receivedAt, record)
        if (this.#span !== undefined && record.startedAt !== undefined) {
          this.#session.init.tracer?.work(this.#span, timings)
        }
        this.#sendResult(outcome, timings)
      },
      (err: unknown) =>
        this.#session.init.log.error(
          { err, ...taskLogFields(this.id, this.#traceId), requester: this.requester },
          'engine handle rejected its result',
        ),
    )
  }

  /**
   * A completed output too large to go inline goes by CID, stored here for the requester to fetch,
   * when the requester takes content (it announced minor 5 and `content`); a forwarded task's never
   * does (its requester is not on this stream). Anything else is answered as it is.
   */
  async #byReference(outcome: ResultOutcome): Promise<ResultOutcome> {
    const { content, directory } = this.#session.init
    if (outcome.status !== 'completed' || !('output' in outcome) || content === undefined || this.forwarded) {
      return outcome
    }
    const record = directory.record(this.requester)
    if (record === undefined || record.protocolMinor < CONTENT_MINOR || !takesContent(record, 0))
      return outcome
    let text: string
    try {
      text = JSON.stringify(outcome.output)
    } catch {
      return outcome
    }
    // An estimate (JSON.stringify of the same value is within a few bytes of its canonical form):
    // anything near the threshold is sent inline while it fits a frame.
    if (text === undefined || Buffer.byteLength(text) <= content.inlineMaxBytes) return outcome
    const storing = new AbortController()
    this.#content = storing
    try {
      const outputRef = await putJson(content, outcome.output, { signal: storing.signal })
      if (!takesContent(record, outputRef.size)) return outcome
      return { status: 'completed', outputRef }
    } catch (err) {
      this.#session.init.log.warn(
        { err, ...taskLogFields(this.id), requester: this.requester },
        'could not store the output by CID; sending it inline',
      )
      return outcome
    } finally {
      if (this.#content === storing) this.#content = undefined
    }
  }

  /**
   * Passes a forwarded task this node does not run on to the best next hop; its accept, progress,
   * reject and verified result travel back (the result unchanged).
   */
  relay(opened: OpenedForward): void {
    const { router, launcher } = this.#session.init
    this.#startSpan('relay')
    const next = router.nextHop(this.#request.taskType, opened.ttl, opened.route, this.#request.input)
    if (!('peer' in next)) {
      this.#end()
      this.#reject(next)
      return
    }
    const key = `${next.peer} ${this.id}`
    const keys = this.#session.provider.relaying
    if (keys.has(key)) {
      this.#end()
      this.#reject(
        { code: TASK_ERROR_CODES.busy, message: `task ${this.id} is already being relayed to ${next.peer}` },
        RELAY_ID_BUSY_RETRY_AFTER_MS,
      )
      return
    }
    let attempt: RemoteAttempt
    try {
      attempt = launcher.relay(opened, next, this.#span)
    } catch (err) {
      this.#end()
      this.#reject(toWireError(err))
      return
    }
    keys.add(key)
    this.#relayKey = key
    this.#relay = attempt
    attempt.observe(this)
    // The relay answers upstream by the request's own deadline, whatever the next hop does.
    this.#timer = setTimeout(() => this.#expire(), this.#request.timeoutMs)
    void attempt.done.then((outcome) => {
      if (this.#done || outcome.kind === 'withdrawn') return
      this.#end()
      if (outcome.kind === 'completed' || outcome.body !== undefined) {
        // The provider's signed result, checked by the requester stream, passed back unchanged.
        this.#endSpan(
          outcome.kind === 'completed'
            ? { status: 'COMPLETED' }
            : { status: outcome.status, code: outcome.code },
        )
        this.#passOn(outcome.body as Uint8Array)
      } else if (!this.#accepted) {
        // Nobody took it further: the previous hop gets the next hop's refusal (same code).
        this.#reject({ code: outcome.code, message: outcome.message }, outcome.retryAfterMs)
      } else {
        // Taken, then lost on the way: this node's own result says what happened.
        this.#sendResult(
          { status: 'failed', error: toWireError(outcome) },
          timingsOf(this.#receivedAt, undefined),
        )
      }
    })
  }

  // AttemptObserver: the next hop of a relayed task.

  accepted(queuePosition: number | undefined): void {
    if (this.#done) return
    this.#session.provider.counters.accepted++
    this.#sendAccept(queuePosition)
  }

  progress(progress: NetworkTaskProgress): void {
    if (this.#done) return
    const { delta, checkpoint } = progress
    if (checkpoint !== undefined && this.#checkpointsTo() && this.#sendCheckpoint(progress, checkpoint)) {
      // A checkpoint is never held back by the throttle: it is what a failover resumes from. (The
      // engine sends at most one per task per 100 ms.) Deltas with it still go their own way.
      if (delta === undefined || delta === '') return
    }
    if (delta !== undefined && delta !== '') {
      this.#deltas ??= this.#streamsTo() ? new DeltaOutbox(this.#session.channel, this.id) : null
      if (this.#deltas !== null) {
        // Never dropped: batched into the progress message the next write carries.
        this.#deltas.push(delta, progress.fraction)
        return
      }
    }
    // The engine throttles its progress too; this bounds what one task puts on the wire.
    const now = performance.now()
    if (now - this.#progressAt < PROGRESS_MIN_INTERVAL_MS && progress.fraction < 1) return
    this.#progressAt = now
    this.#session.channel.send(
      encodeControl(
        'task.progress',
        {
          id: this.id,
          progress: Math.min(1, Math.max(0, progress.fraction)),
          ...(progress.message === undefined ? {} : { message: progress.message.slice(0, 256) }),
        },
        { trusted: true },
      ),
    )
  }

  /**
   * Sends a progress message with the checkpoint (docs/protocol.md §2.8); false, and nothing sent
   * now, for one that is not JSON, or larger than goes inline: that one is stored and sent by CID
   * (minor 7) to a requester that takes it, and dropped otherwise (the requester keeps the
   * previous one).
   */
  #sendCheckpoint(progress: NetworkTaskProgress, checkpoint: unknown): boolean {
    let text: string | undefined
    let size: number
    try {
      text = canonicalize(checkpoint)
      size = Buffer.byteLength(text)
    } catch {
      size = Number.POSITIVE_INFINITY
    }
    const seq = ++this.#checkpoints.reported
    const { content } = this.#session.init
    const inlineMax = Math.min(MAX_CHECKPOINT_BYTES, content?.inlineMaxBytes ?? MAX_CHECKPOINT_BYTES)
    if (text !== undefined && size > inlineMax && this.#checkpointsByCidTo(size)) {
      this.#storeCheckpoint({ fraction: progress.fraction, text, seq })
      return false
    }
    if (size > MAX_CHECKPOINT_BYTES) {
      this.#session.init.log.debug(
        { ...taskLogFields(this.id), bytes: size },
        'checkpoint too large to send: the requester keeps the previous one',
      )
      return false
    }
    this.#checkpoints.sent = seq
    this.#progressAt = performance.now()
    this.#session.channel.send(
      encodeControl(
        'task.progress',
        {
          id: this.id,
          progress: Math.min(1, Math.max(0, progress.fraction)),
          ...(progress.message === undefined ? {} : { message: progress.message.slice(0, 256) }),
          checkpoint: checkpoint as never,
        },
        { trusted: true },
      ),
    )
    return true
  }

  /**
   * Stores a large checkpoint as content and sends its reference (`checkpointRef`), one at a
   * time: a checkpoint reported meanwhile waits, only the newest; a stored one goes out unless a
   * newer one went out first. The requester fetches the blocks at once, one checkpoint at a time,
   * so they are held here only until two newer ones went out (or the task ended: then all but the
   * newest, which goes too once the task completed), and never beyond its `timeoutMs` and a grace.
   */
  #storeCheckpoint(next: PendingCheckpoint): void {
    const state = this.#checkpoints
    if (state.storing !== undefined) {
      state.next = next
      return
    }
    const content = this.#session.init.content
    if (content === undefined) return
    const storing = new AbortController()
    state.storing = storing
    content
      .put(Buffer.from(next.text, 'utf8'), {
        signal: storing.signal,
        ttlMs: this.#request.timeoutMs + CHECKPOINT_KEEP_GRACE_MS,
        hold: true,
      })
      .then(
        (checkpointRef) => {
          if (
            this.#done ||
            next.seq <= state.sent ||
            !takesContent(this.#requesterRecord(), checkpointRef.size)
          ) {
            releaseHeld(content, checkpointRef)
            return
          }
          state.sent = next.seq
          state.held.push(checkpointRef)
          this.#releaseCheckpoints(2)
          this.#progressAt = performance.now()
          this.#session.channel.send(
            encodeControl(
              'task.progress',
              { id: this.id, progress: Math.min(1, Math.max(0, next.fraction)), checkpointRef },
              { trusted: true },
            ),
          )
        },
        (err: unknown) => {
          if (!storing.signal.aborted) {
            this.#session.init.log.debug(
              { err, ...taskLogFields(this.id), requester: this.requester },
              'could not store a checkpoint by CID: the requester keeps the previous one',
            )
          }
        },
      )
      .finally(() => {
        state.storing = undefined
        const waiting = state.next
        state.next = undefined
        if (waiting !== undefined && !this.#done) this.#storeCheckpoint(waiting)
      })
  }

  /** Lets go of the checkpoints held here by CID but the newest `keep`. */
  #releaseCheckpoints(keep: number): void {
    const { content } = this.#session.init
    const { held } = this.#checkpoints
    while (held.length > keep) {
      const ref = held.shift() as ContentRef
      if (content !== undefined) releaseHeld(content, ref)
    }
  }

  /**
   * Whether a checkpoint of `size` bytes may go to the requester by CID: it is the stream's peer
   * (not a forwarded task), announced minor 7 and takes content that large, and this node has content.
   */
  #checkpointsByCidTo(size: number): boolean {
    const { content, directory } = this.#session.init
    return (
      content !== undefined &&
      !this.forwarded &&
      directory.protocolMinor(this.requester) >= CHECKPOINT_REF_MINOR &&
      takesContent(this.#requesterRecord(), size)
    )
  }

  #requesterRecord() {
    return this.#session.init.directory.record(this.requester)
  }

  /** Whether the stream's peer reads checkpoints: it announced protocol minor 6 or later. */
  #checkpointsTo(): boolean {
    return this.#session.init.directory.protocolMinor(this.#session.remotePeer) >= CHECKPOINT_MINOR
  }

  /**
   * Whether the stream's peer (the requester, or the previous hop of a forwarded task) reads
   * deltas: it announced protocol minor 3 or later. Others get progress without them.
   */
  #streamsTo(): boolean {
    const { directory } = this.#session.init
    return directory.protocolMinor(this.#session.remotePeer) >= STREAMING_MINOR
  }

  /** The requester cancelled: the work stops; its result (`cancelled`, or the real one if it won) ends the conversation. */
  cancel(): void {
    this.#cancelRequested = true
    if (this.#handle !== undefined) {
      this.#handle.cancel()
      return
    }
    if (this.#content !== undefined && !this.#done) {
      // Still fetching its input: nothing ran, the requester gets `cancelled` now.
      this.#content.abort()
      this.#end()
      this.#sendResult(
        {
          status: 'cancelled',
          error: { code: TASK_ERROR_CODES.cancelled, message: 'cancelled by the requester' },
        },
        timingsOf(this.#receivedAt, undefined),
      )
      return
    }
    if (this.#relay !== undefined) {
      // The next hop is told; its answer will not come back here, so the conversation ends now.
      this.#end()
      this.#sendResult(
        {
          status: 'cancelled',
          error: { code: TASK_ERROR_CODES.cancelled, message: 'cancelled by the requester' },
        },
        timingsOf(this.#receivedAt, undefined),
      )
    }
  }

  /** The stream is gone: stop the work, nobody is listening. */
  abandon(): void {
    if (this.#done) return
    this.#end()
    this.#endSpan({ status: 'ABANDONED', code: TASK_ERROR_CODES.peerDisconnected })
    this.#content?.abort()
    this.#handle?.cancel()
    if (this.#handle === undefined && this.#relay === undefined) {
      try {
        this.#session.init.engine.cancel(this.engineId)
      } catch {
        // Not admitted yet: #onSubmitted cancels it when it is.
      }
    }
  }

  /** A relayed task's deadline passed: the next hop is told to stop, the requester gets `timeout`. */
  #expire(): void {
    if (this.#done) return
    this.#end()
    this.#sendResult(
      {
        status: 'timeout',
        error: { code: TASK_ERROR_CODES.timeout, message: 'the task did not finish within its timeoutMs' },
      },
      timingsOf(this.#receivedAt, undefined),
    )
  }

  #sendAccept(queuePosition: number | undefined): void {
    this.#accepted = true
    this.#session.channel.send(
      encodeControl(
        'task.accept',
        { id: this.id, ...(queuePosition === undefined ? {} : { queuePosition }) },
        { trusted: true },
      ),
    )
  }

  #sendResult(outcome: ResultOutcome, timings: ReturnType<typeof timingsOf>): void {
    const { signer, maxFrameBytes } = this.#session.init
    // Done: no attempt will resume from a checkpoint of this one.
    if (outcome.status === 'completed') this.#releaseCheckpoints(0)
    this.#endSpan(
      outcome.status === 'completed'
        ? { status: 'COMPLETED' }
        : { status: outcome.status.toUpperCase(), code: outcome.error.code },
    )
    const prepared = prepareResult(
      signer,
      maxFrameBytes,
      { id: this.id, requestHash: this.#digest, timings },
      outcome,
    )
    this.#session.provider.counters.answered++
    if (this.forwarded) {
      // The signed JSON goes out as it was signed: no second serialization.
      const [signed] = sealPrepared(signer, [prepared])
      this.#session.channel.send(encodeJsonFrame(signed?.json as string, { maxFrameBytes }))
    } else {
      // Signed when it leaves, together with whatever else leaves then (stream/channel.ts).
      this.#session.channel.sendSigned(prepared)
    }
    this.#session.closeIfDone()
  }

  #reject(error: WireError, retryAfterMs?: number): void {
    this.#endSpan({ status: 'REJECTED', code: error.code })
    this.#session.reject(this.id, error, retryAfterMs)
    this.#session.closeIfDone()
  }

  /** Passes the next hop's signed result back byte for byte, as it arrived. */
  #passOn(body: Uint8Array): void {
    const { maxFrameBytes } = this.#session.init
    let frame: Uint8Array
    try {
      frame = encodeBodyFrame(body, { maxFrameBytes })
    } catch (err) {
      // Larger than this stream allows: the previous hop still gets an answer.
      this.#sendResult({ status: 'failed', error: toWireError(err) }, timingsOf(this.#receivedAt, undefined))
      return
    }
    this.#session.provider.counters.answered++
    this.#session.channel.send(frame)
    this.#session.closeIfDone()
  }

  #startSpan(name: 'serve' | 'relay'): void {
    const r = this.#request
    this.#span = this.#session.init.tracer?.receive(name, this.#remote, {
      id: r.id,
      type: r.taskType,
      from: this.#session.remotePeer,
    })
    this.#traceId = recordedTraceId(this.#span)
  }

  /** Ends this node's span of the task, once. */
  #endSpan(outcome: SpanOutcome): void {
    const span = this.#span
    if (span === undefined) return
    this.#span = undefined
    this.#session.init.tracer?.end(span, outcome)
  }

  /**
   * The conversation is over: no more frames for it, no relay either. Its answer goes out next;
   * only then may the stream close (`closeIfDone`).
   */
  #end(): void {
    this.#done = true
    this.#checkpoints.storing?.abort()
    this.#checkpoints.next = undefined
    // The newest may still be on its way to a requester that resumes elsewhere from it.
    this.#releaseCheckpoints(1)
    clearTimeout(this.#timer)
    if (this.#relayKey !== undefined) this.#session.provider.relaying.delete(this.#relayKey)
    if (this.#relay !== undefined && !this.#relay.settled) this.#relay.withdraw('the relayed task ended here')
    this.#session.forget(this)
  }
}
