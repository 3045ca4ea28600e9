/**
 * Starting attempts: a local run on this node's engine, or a request to a peer: the signed
 * `task.request` (prepared here, signed by the task stream as it leaves), wrapped in a
 * `task.forward` when the route goes through a neighbour, sized against the task frame, and handed
 * to the requester's stream to that peer. A request too large to go inline carries its input by
 * CID instead (docs/protocol.md §2.9) where this node has a content plug-in: the launcher says so,
 * and `stage` stores the input once for every attempt.
 */

import type { TaskCheckpoint, TaskEngine } from '@p2p-ai/engine'
import {
  CHECKPOINT_MINOR,
  CHECKPOINT_REF_MINOR,
  type ContentRef,
  canonicalize,
  createTaskRequest,
  encodeJsonFrame,
  type JsonValue,
  MAX_CHECKPOINT_BYTES,
  MAX_SIGNATURE_JSON_BYTES,
  type OpenedForward,
  prepareEnvelope,
  type Signer,
  sealForward,
  sealPrepared,
  TRACE_CONTEXT_MINOR,
  type TraceContext,
} from '@p2p-ai/protocol'
import { releaseHeld } from '../../content/hold.js'
import { getJson, putJson } from '../../content/json.js'
import type { ContentService } from '../../content/types.js'
import type { PeerDirectory } from '../../peers/directory.js'
import { type TaskTracer, wireContext } from '../../tracing/task-tracer.js'
import type { NodeSpan } from '../../tracing/types.js'
import { CHECKPOINT_KEEP_GRACE_MS, RESULT_GRACE_MS } from '../constants.js'
import { type Hop, type Route, takesContent } from '../route/router.js'
import type { AccessPolicy } from '../trust/access-policy.js'
import { type Attempt, LocalAttempt, RemoteAttempt } from './attempt.js'
import type { TaskRequester } from './requester.js'
import type { TaskSpec } from './submission.js'

/**
 * The checkpoint an attempt starts from: its state, or, for one that came by CID (protocol minor
 * 7), the reference to the blocks this node holds (docs/protocol.md §2.8).
 */
export type ResumeFrom = TaskCheckpoint | { readonly ref: ContentRef; readonly fraction: number }

/** Why no attempt could start on a peer: the request cannot go on the wire (as it is). */
export interface Unsendable {
  readonly kind: 'unsendable'
  /**
   * `by-reference`: its input must go by CID (`stage` it, then start again); `too-large`: only
   * this node could run it; `invalid`: nobody could (not canonical JSON).
   */
  readonly reason: 'by-reference' | 'too-large' | 'invalid'
  readonly message: string
}

export interface AttemptLauncherInit {
  self: string
  signer: Signer
  engine: TaskEngine
  requester: TaskRequester
  directory: PeerDirectory
  policy: AccessPolicy
  /** How long a provider has to accept before the attempt counts as lost. */
  acceptTimeoutMs: number
  maxFrameBytes: number
  /** Large inputs go by CID through it; without it they only run here. */
  content?: ContentService
  /**
   * Before a local run: makes the model the input names available if this node lacks it
   * (`models.autoFetch`). Resolves either way; the engine says what is missing.
   */
  prepareLocal?: (type: string, input: Readonly<Record<string, unknown>>) => Promise<void>
  /** Records a span per attempt, and carries it to peers that speak minor 3. @default none */
  tracer?: TaskTracer | undefined
}

/** Where an attempt's span hangs: its task's span, and which attempt of the task this is. */
export interface AttemptTrace {
  readonly parent: NodeSpan | undefined
  readonly attempt: number
}

export class AttemptLauncher {
  readonly #init: AttemptLauncherInit

  constructor(init: AttemptLauncherInit) {
    this.#init = init
  }

  /**
   * Starts an attempt of `spec` on `route` (`submittedAt`: the task's `createdAt`), from `resume`,
   * the checkpoint an earlier attempt reported, where the route allows: this node's engine, or a
   * peer asked directly that speaks minor 6 (minor 7 and takes content, for a checkpoint by CID;
   * docs/protocol.md §2.8). A forward carries none: the provider at its end may not know the
   * field. Without it the task starts from the beginning.
   * `trace`: where the attempt's span hangs, when the task is traced.
   */
  start(
    spec: TaskSpec,
    route: Route,
    submittedAt: number,
    resume?: ResumeFrom,
    trace?: AttemptTrace,
  ): Attempt | Unsendable {
    const { self, tracer } = this.#init
    const span =
      tracer === undefined || trace === undefined
        ? undefined
        : tracer.attempt(trace.parent, route.kind === 'local' ? self : route.peer, route.kind, trace.attempt)
    const started = this.#start(spec, route, submittedAt, resume, span)
    if (span !== undefined && tracer !== undefined) {
      if ('peer' in started) started.trace = { tracer, span }
      else tracer.end(span, { status: 'FAILED', code: 'ERR_INVALID_INPUT' })
    }
    return started
  }

  #start(
    spec: TaskSpec,
    route: Route,
    submittedAt: number,
    resume: ResumeFrom | undefined,
    span: NodeSpan | undefined,
  ): Attempt | Unsendable {
    const { self, engine } = this.#init
    if (route.kind === 'local') {
      const submit = (resume: TaskCheckpoint | undefined) =>
        engine.submit({
          id: `${self}:${spec.id}`,
          type: spec.type,
          input: spec.input,
          priority: spec.priority,
          timeoutMs: spec.timeoutMs,
          meta: { requester: self, taskId: spec.id },
          ...(resume === undefined ? {} : { resume }),
          // A job's item: the job writes its result down; on disk a second time it would be a copy.
          ...(spec.unlisted === true ? { persist: 'memory' as const } : {}),
          // This node's own tasks are one flow among the requesters it serves.
          flow: self,
        })
      const { prepareLocal } = this.#init
      let submitted: Promise<Awaited<ReturnType<TaskEngine['submit']>>>
      try {
        const ready = prepareLocal === undefined ? undefined : prepareLocal(spec.type, spec.input)
        if (resume !== undefined && 'ref' in resume) {
          // Held here as blocks: read back; a state that cannot be read is no checkpoint.
          const state = this.#readCheckpoint(resume.ref)
          submitted = Promise.all([state, ready]).then(([s]) =>
            submit(s === undefined ? undefined : { state: s.value, fraction: resume.fraction }),
          )
        } else submitted = ready === undefined ? submit(resume) : ready.then(() => submit(resume))
      } catch (err) {
        submitted = Promise.reject(err)
      }
      return new LocalAttempt(self, submitted)
    }
    const { signer, maxFrameBytes, directory, content } = this.#init
    const prepare = (from: ResumeFrom | undefined) =>
      prepareEnvelope(
        signer,
        'task.request',
        createTaskRequest({
          requester: self,
          taskType: spec.type,
          ...(spec.inputRef === undefined ? { input: spec.input } : { inputRef: spec.inputRef }),
          id: spec.id,
          priority: spec.priority,
          timeoutMs: spec.timeoutMs,
          createdAt: submittedAt,
          // Never inside a forward: the provider at the end may not speak minor 3 (§2.7).
          ...(route.kind === 'direct' ? this.#traceFor(route.peer, span) : {}),
          ...(from === undefined
            ? {}
            : {
                resume:
                  'ref' in from
                    ? { checkpointRef: from.ref, progress: from.fraction }
                    : { checkpoint: from.state as JsonValue, progress: from.fraction },
              }),
        }),
      )
    const resumable =
      resume !== undefined &&
      route.kind === 'direct' &&
      ('ref' in resume
        ? directory.protocolMinor(route.peer) >= CHECKPOINT_REF_MINOR &&
          takesContent(directory.record(route.peer), resume.ref.size)
        : directory.protocolMinor(route.peer) >= CHECKPOINT_MINOR)
    let prepared: ReturnType<typeof prepareEnvelope<'task.request'>> | undefined
    if (resumable) {
      try {
        prepared = prepare(resume)
        // Too large with its checkpoint: the task still goes, from the beginning.
        if (prepared.byteLength + MAX_SIGNATURE_JSON_BYTES > maxFrameBytes) prepared = undefined
      } catch {
        // A checkpoint that is not JSON (or too large for the schema) is no checkpoint.
        prepared = undefined
      }
    }
    try {
      prepared ??= prepare(undefined)
    } catch (err) {
      // NaN, a Date, a cycle...: no peer could ever take it.
      return { kind: 'unsendable', reason: 'invalid', message: `input: ${(err as Error).message}` }
    }
    const fits = prepared.byteLength + MAX_SIGNATURE_JSON_BYTES <= maxFrameBytes
    if (
      content !== undefined &&
      spec.inputRef === undefined &&
      prepared.byteLength > content.inlineMaxBytes &&
      (!fits || (route.kind === 'direct' && takesContent(this.#init.directory.record(route.peer), 0)))
    ) {
      return {
        kind: 'unsendable',
        reason: 'by-reference',
        message: `the request is ${prepared.byteLength} bytes: its input goes by CID`,
      }
    }
    if (!fits) {
      return {
        kind: 'unsendable',
        reason: 'too-large',
        message: `the request is ${prepared.byteLength} bytes; task frames hold at most ${maxFrameBytes}`,
      }
    }
    const sentAt = performance.now()
    const deadlines = {
      acceptBy: sentAt + this.#init.acceptTimeoutMs,
      resultBy: sentAt + spec.timeoutMs + RESULT_GRACE_MS,
    }
    let attempt: RemoteAttempt
    if (route.kind === 'forward') {
      // A forward carries the request unchanged to a provider whose protocol minor we do not
      // know, so it is signed on its own, with the links left beyond the neighbour.
      const [signed] = sealPrepared(signer, [prepared])
      const request = signed as NonNullable<typeof signed>
      const { trace } = this.#traceFor(route.peer, span)
      const json = sealForward(signer, request.envelope, spec.maxHops - 1, [], trace).json
      attempt = new RemoteAttempt({
        taskId: spec.id,
        taskType: spec.type,
        peer: route.peer,
        peerId: route.peerId,
        request,
        frame: encodeJsonFrame(json, { maxFrameBytes }),
        forwarded: true,
        signerAllowed: (peer) => this.#init.policy.allows(peer),
        directory: this.#init.directory,
        ...deadlines,
      })
    } else {
      attempt = new RemoteAttempt({
        taskId: spec.id,
        taskType: spec.type,
        peer: route.peer,
        peerId: route.peerId,
        request: prepared,
        // Signed by the stream when it leaves, in a batch with whatever leaves with it.
        frame: prepared,
        forwarded: false,
        directory: this.#init.directory,
        ...deadlines,
        ...(content === undefined
          ? {}
          : {
              // Held while it is read, then let go: the output lives on in the task's record
              // (and a job's own store), so the blocks would be a second copy on disk for a day.
              fetchOutput: (ref, from, signal) =>
                getJson(content, ref, { from, signal, maxBytes: content.maxBytes, hold: true }).finally(() =>
                  releaseHeld(content, ref),
                ),
            }),
      })
    }
    this.#init.requester.send(attempt)
    return attempt
  }

  /**
   * Fetches the blocks of a checkpoint a provider sent by CID (from it, or any peer that has them)
   * and keeps them here, every block checked against the CID, without holding the state in memory:
   * the next attempt's provider fetches them from this node. Held until `releaseCheckpoint` (the
   * task has a newer one, or ended), and never longer than the task may still need them (every
   * attempt's `timeoutMs`). The hold starts with the fetch: release it whether or not it completes.
   *
   * @throws the content plug-in's errors (`ERR_CONTENT_UNAVAILABLE`, `ERR_CONTENT_TOO_LARGE`)
   */
  async holdCheckpoint(spec: TaskSpec, ref: ContentRef, from: string, signal: AbortSignal): Promise<void> {
    const { content } = this.#init
    if (content === undefined) throw new Error('no content plug-in')
    const ttlMs = spec.timeoutMs * spec.maxAttempts + CHECKPOINT_KEEP_GRACE_MS
    let received = 0
    const options = { from, signal, maxBytes: content.maxBytes, ttlMs, hold: true }
    for await (const chunk of content.get(ref, options)) {
      received += chunk.byteLength
    }
    if (received !== ref.size) throw new Error(`${ref.cid} holds ${received} bytes, not ${ref.size}`)
  }

  /**
   * The canonical JSON of a checkpoint this node's own run reported, when it is too large to go
   * inline to a peer (over `content.inlineMaxBytes` or the protocol's limit) and this node has
   * content to keep it by CID; undefined otherwise (it is kept as it is).
   */
  largeCheckpoint(state: unknown): string | undefined {
    const { content } = this.#init
    if (content === undefined) return undefined
    let text: string
    try {
      text = canonicalize(state as JsonValue)
    } catch {
      return undefined
    }
    const inlineMax = Math.min(MAX_CHECKPOINT_BYTES, content.inlineMaxBytes)
    return Buffer.byteLength(text) > inlineMax ? text : undefined
  }

  /**
   * Stores a checkpoint of this node's own run (`largeCheckpoint`) by CID and holds it, as
   * `holdCheckpoint` holds one a provider sent: a later attempt on a peer resumes from it.
   *
   * @throws the content plug-in's errors
   */
  async keepCheckpoint(spec: TaskSpec, text: string, signal: AbortSignal): Promise<ContentRef> {
    const { content } = this.#init
    if (content === undefined) throw new Error('no content plug-in')
    const ttlMs = spec.timeoutMs * spec.maxAttempts + CHECKPOINT_KEEP_GRACE_MS
    return content.put(Buffer.from(text, 'utf8'), { signal, ttlMs, hold: true })
  }

  /** The task is done with a checkpoint held here by CID (`holdCheckpoint`): its blocks go. */
  releaseCheckpoint(ref: ContentRef): void {
    const { content } = this.#init
    if (content !== undefined) releaseHeld(content, ref)
  }

  /** A checkpoint held here by CID, parsed; undefined when it cannot be read (then none is used). */
  async #readCheckpoint(ref: ContentRef): Promise<{ value: unknown } | undefined> {
    const { content } = this.#init
    if (content === undefined) return undefined
    try {
      // Read back, not kept again: its hold says how long it stays.
      return { value: await getJson(content, ref, { maxBytes: content.maxBytes, ttlMs: 0 }) }
    } catch {
      return undefined
    }
  }

  /**
   * Stores the input of `spec` as content, for requests that carry it by CID (`by-reference`).
   *
   * @throws `ERR_INVALID_JSON_VALUE` for an input JSON cannot carry, the content plug-in's errors
   */
  stage(spec: TaskSpec): Promise<ContentRef> {
    const { content } = this.#init
    if (content === undefined) return Promise.reject(new Error('no content plug-in'))
    return putJson(content, spec.input)
  }

  /**
   * Passes a forwarded task this node cannot run on to `hop`: the requester's signed request,
   * unchanged, in a `task.forward` of this node's with one link less and itself added to the route.
   *
   * @throws {FrameTooLargeError} if the forward does not fit a task frame
   */
  relay(opened: OpenedForward, hop: Hop, parent?: NodeSpan): RemoteAttempt {
    const { signer, maxFrameBytes, tracer } = this.#init
    const request = opened.request.envelope.payload
    const span =
      tracer === undefined || parent === undefined
        ? undefined
        : tracer.attempt(parent, hop.peer, 'forward', 1)
    const { trace } = this.#traceFor(hop.peer, span)
    let frame: Uint8Array
    try {
      const forward = sealForward(signer, opened.request.envelope, opened.ttl - 1, opened.route, trace)
      frame = encodeJsonFrame(forward.json, { maxFrameBytes })
    } catch (err) {
      if (span !== undefined) tracer?.end(span, { status: 'FAILED', code: (err as { code?: string }).code })
      throw err
    }
    const sentAt = performance.now()
    const attempt = new RemoteAttempt({
      taskId: request.id,
      taskType: request.taskType,
      peer: hop.peer,
      peerId: hop.peerId,
      request: opened.request,
      frame,
      forwarded: true,
      directory: this.#init.directory,
      acceptBy: sentAt + this.#init.acceptTimeoutMs,
      resultBy: sentAt + request.timeoutMs + RESULT_GRACE_MS,
    })
    if (span !== undefined && tracer !== undefined) attempt.trace = { tracer, span }
    this.#init.directory.noteDispatch(hop.peer, Date.now())
    this.#init.requester.send(attempt)
    return attempt
  }

  /** The trace context for `peer`, if there is a span and the peer reads it (minor 3). */
  #traceFor(peer: string, span: NodeSpan | undefined): { trace?: TraceContext } {
    if (span === undefined || this.#init.directory.protocolMinor(peer) < TRACE_CONTEXT_MINOR) return {}
    return { trace: wireContext(span) }
  }
}
