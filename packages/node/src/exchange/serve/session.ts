/**
 * A provider's session on one inbound task stream: reads what the requester sends, checks it and
 * opens, joins or cancels conversations (one per task id, conversation.ts), for any number of
 * tasks on the stream. A message that fails its checks ends at most its own conversation; one
 * whose type a requester does not send, or this version does not know, is dropped (§2.3, §7).
 */
import type { Stream } from '@libp2p/interface'
import {
  BATCH_SIGNATURES_MINOR,
  encodeControl,
  isTaskErrorCode,
  type OpenedForward,
  openEnvelope,
  openForward,
  peekMessage,
  ReplayedNonceError,
  readControl,
  type SignedEnvelope,
  TASK_ERROR_CODES,
  type TaskRequest,
  taskErrorCodeFor,
  toWireError,
  type WireError,
} from '@p2p-ai/protocol'
import { taskLogFields } from '../../logger.js'
import { OFFENCE_OF_ERROR } from '../../peers/constants.js'
import type { Offence } from '../../peers/reputation.js'
import { PAUSED_RETRY_AFTER_MS, UNREAD_ANSWERS_FRAMES } from '../constants.js'
import { remoteCode } from '../failures.js'
import { TaskChannel } from '../stream/channel.js'
import type { EnvelopeChecks } from '../trust/checks.js'
import { Conversation } from './conversation.js'
import type { TaskProvider, TaskProviderInit } from './provider.js'

const TASK_ID = /^[A-Za-z0-9_-]{8,64}$/

/** Message types a provider is sent by nobody that follows the protocol. */
const NOT_FOR_A_PROVIDER: ReadonlySet<string> = new Set([
  'task.accept',
  'task.reject',
  'task.progress',
  'task.result',
])

/** The most a session's unsent answers may hold before the stream is reset: its peer does not read them. */
function unreadAnswersLimit(maxFrameBytes: number): number {
  return UNREAD_ANSWERS_FRAMES * maxFrameBytes
}

/** The task type a request or forward names, read without checking anything. */
function taskTypeOf(value: unknown, type: 'task.request' | 'task.forward'): string | undefined {
  const payload = (value as { payload?: unknown } | null)?.payload as
    | { taskType?: unknown; request?: { payload?: { taskType?: unknown } } }
    | undefined
  const taskType = type === 'task.request' ? payload?.taskType : payload?.request?.payload?.taskType
  return typeof taskType === 'string' ? taskType : undefined
}

/** The task id of the request inside a forward, read without checking anything. */
function forwardedIdOf(value: unknown): string | undefined {
  const probed = (value as { payload?: { request?: { payload?: { id?: unknown } } } } | null)?.payload
    ?.request?.payload?.id
  return typeof probed === 'string' ? probed : undefined
}

/** A replay cache that remembers nothing: to read a replayed request once its replay is known. */
const FORGETFUL = { check: () => 'fresh' as const, size: 0, watermark: Number.NEGATIVE_INFINITY }

/** One inbound task stream and the tasks open on it. */
export class ProviderSession {
  readonly provider: TaskProvider
  readonly init: TaskProviderInit
  readonly remotePeer: string
  readonly channel: TaskChannel
  readonly #conversations = new Map<string, Conversation>()
  #remoteEnded = false

  constructor(provider: TaskProvider, stream: Stream, remotePeer: string) {
    this.provider = provider
    this.init = provider.init
    this.remotePeer = remotePeer
    const { log, directory } = this.init
    this.channel = new TaskChannel(
      stream,
      remotePeer,
      {
        message: (value, body) => this.#onMessage(value, body),
        badFrame: (error) => {
          log.debug({ remotePeer, code: error.code }, 'skipped a bad frame')
          this.#offence('malformed-frame')
        },
        brokenFrame: (error) => {
          log.debug({ remotePeer, code: error.code }, 'reset a task stream whose framing broke')
          this.#offence('broken-framing')
        },
        overflow: (bytes) => {
          log.debug({ remotePeer, bytes }, 'reset a task stream whose answers went unread')
          this.#offence('unread-answers')
        },
        remoteEnd: () => {
          this.#remoteEnded = true
          this.closeIfDone()
        },
        close: (error) => this.#onClose(error),
      },
      {
        maxFrameBytes: this.init.maxFrameBytes,
        onHandlerError: (err) => log.error({ err, remotePeer }, 'task session handler failed'),
        signer: this.init.signer,
        batchSigning: () => directory.protocolMinor(remotePeer) >= BATCH_SIGNATURES_MINOR,
        maxQueuedBytes: unreadAnswersLimit(this.init.maxFrameBytes),
        ...(this.init.traffic === undefined ? {} : { traffic: this.init.traffic }),
      },
    )
  }

  /** Conversations waiting for their result. */
  get open(): number {
    return this.#conversations.size
  }

  /** The conversation ended (it sends its answer next, then calls `closeIfDone`). */
  forget(conversation: Conversation): void {
    if (this.#conversations.get(conversation.id) !== conversation) return
    this.#conversations.delete(conversation.id)
    this.init.admission.closed(conversation.requester)
  }

  /**
   * Sends a `task.reject` for `id`: the conversation, if there was one, is over. With
   * `retryAfterMs` the peer is told to wait, and what it sends before then is refused unread.
   */
  reject(id: string, error: WireError, retryAfterMs?: number): void {
    this.provider.counters.rejected++
    if (retryAfterMs !== undefined) this.init.admission.told(this.remotePeer, { error, retryAfterMs })
    this.init.reports?.refused({ taskId: id, remotePeer: this.remotePeer, code: remoteCode(error.code) })
    // A peer older than the code gets the one it knows and acts on alike (docs/protocol.md §7).
    const sent = isTaskErrorCode(error.code)
      ? taskErrorCodeFor(error.code, this.init.directory.protocolMinor(this.remotePeer))
      : error.code
    this.channel.send(
      encodeControl(
        'task.reject',
        {
          id,
          error: sent === error.code ? error : { ...error, code: sent },
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        },
        { trusted: true },
      ),
    )
  }

  /** The requester closed its side and every conversation is answered: close ours. */
  closeIfDone(): void {
    if (this.#remoteEnded && this.#conversations.size === 0 && !this.channel.closed) void this.channel.close()
  }

  #onMessage(value: unknown, body: Uint8Array): void {
    const head = peekMessage(value)
    const { admission } = this.init
    switch (head.type) {
      case 'task.request':
      case 'task.forward': {
        // Before anything costly (verifying the signature): the sender's rate, the size, a wait.
        const refused = admission.arrive(this.remotePeer, taskTypeOf(value, head.type), body.byteLength)
        if (refused !== undefined) {
          this.provider.counters.received++
          const id = head.type === 'task.request' ? head.id : forwardedIdOf(value)
          if (refused.unanswered === true) return
          if (id !== undefined && TASK_ID.test(id)) this.reject(id, refused.error, refused.retryAfterMs)
          return
        }
        if (head.type === 'task.request') this.#onRequest(value, head.id)
        else this.#onForward(value)
        return
      }
      case 'task.cancel':
        // Cancels cost a lookup (and a signature check when signed): they spend the sender's
        // tokens too, and beyond its rate are dropped.
        if (admission.spend(this.remotePeer)) this.#onCancel(value, head.signed)
        return
      default:
        admission.spend(this.remotePeer)
        // Types of the other direction are a broken peer's; types this version does not know
        // may be a newer one's (§7): dropped, and held against nobody.
        if (typeof head.type === 'string' && NOT_FOR_A_PROVIDER.has(head.type))
          this.#offence('invalid-message')
        this.init.log.debug(
          { remotePeer: this.remotePeer, type: head.type },
          'dropped a message a requester does not send',
        )
    }
  }

  /** The stream's peer misbehaved (recorded in its reputation; enough of it and it is banned). */
  #offence(offence: Offence): void {
    this.init.directory.book.recordOffence(this.remotePeer, offence)
  }

  #onRequest(value: unknown, probedId: string | undefined): void {
    this.provider.counters.received++
    let opened: SignedEnvelope
    try {
      opened = this.#open(value)
    } catch (err) {
      if (err instanceof ReplayedNonceError) {
        const join = this.#replayJoining(value)
        if (join !== undefined) {
          this.#admit(join.envelope.payload as TaskRequest, join.digest, undefined)
          return
        }
      }
      this.#refuse(probedId, err, 'refused a task request')
      return
    }
    if (opened.envelope.type !== 'task.request') {
      this.#refuse(probedId, new Error('not a task.request'), 'refused a task request')
      return
    }
    this.#admit(opened.envelope.payload, opened.digest, undefined)
  }

  /**
   * A request whose nonce was used before may be the same signed request reaching this node by a
   * second route (a relay failed over): it joins the run this node already has for that requester
   * and task id (docs/delivery.md). Anything else replayed stays refused.
   */
  #replayJoining(value: unknown): SignedEnvelope | undefined {
    let opened: SignedEnvelope
    try {
      opened = openEnvelope(value, {
        ...this.init.checks,
        replayCache: FORGETFUL,
        expectedSender: this.remotePeer,
      })
    } catch {
      return undefined
    }
    if (opened.envelope.type !== 'task.request') return undefined
    const { requester, id } = opened.envelope.payload
    return this.init.engine.get(`${requester}:${id}`) === undefined ? undefined : opened
  }

  /** Verifies a signed envelope from the stream's peer (docs/protocol.md §4.3). */
  #open(value: unknown): SignedEnvelope {
    return openEnvelope(value, { ...this.init.checks, expectedSender: this.remotePeer })
  }

  /** A `task.forward`: verified, then run here like a request, or passed on (docs/protocol.md §2.5). */
  #onForward(value: unknown): void {
    this.provider.counters.received++
    const id = forwardedIdOf(value)
    let opened: OpenedForward
    try {
      opened = openForward(value, {
        ...(this.init.checks as EnvelopeChecks),
        expectedSender: this.remotePeer,
        receiver: this.init.self,
      })
    } catch (err) {
      this.#refuse(id, err, 'refused a forwarded task')
      return
    }
    this.#admit(opened.request.envelope.payload, opened.request.digest, opened)
  }

  /**
   * Answers a request that failed its checks with a reject naming the check, when its id can be
   * read; a forged, replayed or malformed one counts against the sender.
   */
  #refuse(id: string | undefined, err: unknown, what: string): void {
    const error = toWireError(err)
    const taskId = id !== undefined && TASK_ID.test(id) ? id : undefined
    if (taskId !== undefined) this.reject(taskId, error)
    else this.init.reports?.refused({ remotePeer: this.remotePeer, code: remoteCode(error.code) })
    const offence = OFFENCE_OF_ERROR[error.code]
    if (offence !== undefined) this.#offence(offence)
    this.init.log.debug(
      {
        remotePeer: this.remotePeer,
        ...(taskId === undefined ? {} : taskLogFields(taskId)),
        code: error.code,
        err,
      },
      what,
    )
  }

  #admit(request: TaskRequest, digest: string, forwarded: OpenedForward | undefined): void {
    const { id, requester } = request
    const open = this.#conversations.get(id)
    if (open !== undefined) {
      // Another requester's task under an id already open on this stream: only a broken relay
      // sends that, and answering would confuse the open conversation. Dropped.
      if (open.requester !== requester) return
      // The same task again on the same stream (the requester retried): the open conversation
      // answers it, quoting the newest request, and says so with an accept of its own.
      open.join(digest)
      return
    }
    const denied = this.init.admit(this.remotePeer, requester) ?? this.init.admission.refuseBanned(requester)
    if (denied !== undefined) {
      this.reject(id, denied)
      return
    }
    if (this.provider.stopping) {
      this.reject(id, { code: TASK_ERROR_CODES.shuttingDown, message: 'this node is shutting down' })
      return
    }
    const relayed = forwarded !== undefined && !this.init.router.runsLocally(request.taskType)
    const paused = this.provider.paused
    if (paused !== undefined && !relayed) {
      this.reject(
        id,
        { code: TASK_ERROR_CODES.busy, message: `this node is paused: ${paused}` },
        PAUSED_RETRY_AFTER_MS,
      )
      return
    }
    const full = this.init.admission.open(requester)
    if (full !== undefined) {
      this.reject(id, full.error, full.retryAfterMs)
      return
    }
    const conversation = new Conversation(this, request, digest, forwarded !== undefined)
    this.#conversations.set(id, conversation)
    if (relayed) {
      conversation.relay(forwarded)
    } else {
      conversation.run()
    }
  }

  #onCancel(value: unknown, signed: boolean): void {
    let id: string
    try {
      if (signed) {
        const opened = this.#open(value)
        if (opened.envelope.type !== 'task.cancel') return
        id = opened.envelope.payload.id
      } else {
        id = readControl(value, 'task.cancel').id
      }
    } catch (err) {
      this.init.log.debug({ remotePeer: this.remotePeer, err }, 'ignored a bad task.cancel')
      return
    }
    // Unknown: already answered (the cancel crossed the result) or never asked. Nothing to do.
    this.#conversations.get(id)?.cancel()
  }

  #onClose(error: Error | undefined): void {
    // The requester is gone: it fails its tasks over, so running them on would be wasted work.
    for (const conversation of [...this.#conversations.values()]) conversation.abandon()
    this.#conversations.clear()
    if (error !== undefined) {
      this.init.log.debug({ remotePeer: this.remotePeer, err: error }, 'task stream closed with an error')
    }
    this.provider.ended(this)
  }
}
