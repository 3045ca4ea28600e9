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
  type OpenedForward,
  openEnvelope,
  openForward,
  peekMessage,
  ReplayedNonceError,
  readControl,
  type SignedEnvelope,
  TASK_ERROR_CODES,
  type TaskRequest,
  toWireError,
  type WireError,
} from '@p2p-ai/protocol'
import { taskLogFields } from '../../logger.js'
import { BUSY_RETRY_AFTER_MS, PAUSED_RETRY_AFTER_MS } from '../constants.js'
import { remoteCode } from '../failures.js'
import { TaskChannel } from '../stream/channel.js'
import type { EnvelopeChecks } from '../trust/checks.js'
import { Conversation } from './conversation.js'
import type { TaskProvider, TaskProviderInit } from './provider.js'

const TASK_ID = /^[A-Za-z0-9_-]{8,64}$/

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
        message: (value) => this.#onMessage(value),
        badFrame: (error) => log.debug({ remotePeer, code: error.code }, 'skipped a bad frame'),
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
    if (this.#conversations.get(conversation.id) === conversation) this.#conversations.delete(conversation.id)
  }

  /** Sends a `task.reject` for `id`: the conversation, if there was one, is over. */
  reject(id: string, error: WireError, retryAfterMs?: number): void {
    this.provider.counters.rejected++
    this.init.reports?.refused({ taskId: id, remotePeer: this.remotePeer, code: remoteCode(error.code) })
    this.channel.send(
      encodeControl(
        'task.reject',
        { id, error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) },
        { trusted: true },
      ),
    )
  }

  /** The requester closed its side and every conversation is answered: close ours. */
  closeIfDone(): void {
    if (this.#remoteEnded && this.#conversations.size === 0 && !this.channel.closed) void this.channel.close()
  }

  #onMessage(value: unknown): void {
    const head = peekMessage(value)
    switch (head.type) {
      case 'task.request':
        this.#onRequest(value, head.id)
        return
      case 'task.forward':
        this.#onForward(value)
        return
      case 'task.cancel':
        this.#onCancel(value, head.signed)
        return
      default:
        this.init.log.debug(
          { remotePeer: this.remotePeer, type: head.type },
          'dropped a message a requester does not send',
        )
    }
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
    const probed = (value as { payload?: { request?: { payload?: { id?: unknown } } } } | null)?.payload
      ?.request?.payload?.id
    const id = typeof probed === 'string' ? probed : undefined
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

  /** Answers a request that failed its checks with a reject naming the check, when its id can be read. */
  #refuse(id: string | undefined, err: unknown, what: string): void {
    const error = toWireError(err)
    const taskId = id !== undefined && TASK_ID.test(id) ? id : undefined
    if (taskId !== undefined) this.reject(taskId, error)
    else this.init.reports?.refused({ remotePeer: this.remotePeer, code: remoteCode(error.code) })
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
    const denied = this.init.admit(this.remotePeer, requester)
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
    if (this.#conversations.size >= this.init.maxTasksPerPeer) {
      this.reject(
        id,
        {
          code: TASK_ERROR_CODES.busy,
          message: `at most ${this.init.maxTasksPerPeer} open tasks per requester`,
        },
        BUSY_RETRY_AFTER_MS,
      )
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
