/**
 * A provider's session on one inbound task stream: verifies signed requests and forwards, runs
 * them on the engine (or relays them) and answers each with accept or reject, progress and a
 * signed result, for any number of concurrent tasks on the stream.
 */
import type { Stream } from '@libp2p/interface'
import type { TaskHandle, TaskRecord } from '@p2p-ai/engine'
import {
  BATCH_SIGNATURES_MINOR,
  encodeJsonFrame,
  type OpenedForward,
  openEnvelope,
  sealPrepared,
  TASK_ERROR_CODES,
  type TaskRequest,
  toWireError,
  type WireError,
} from '@p2p-ai/protocol'
import { TaskChannel } from './channel.js'
import { BUSY_RETRY_AFTER_MS } from './constants.js'
import type { RelayUpstream } from './forwarding.js'
import type { TaskProvider, TaskProviderInit } from './provider.js'
import { type Conversation, prepareResult, relayUpstream } from './provider-conversation.js'
import {
  checkControl,
  encodeControl,
  frameHead,
  type ResultOutcome,
  resultOutcome,
  wireErrorOf,
} from './wire.js'

/** One inbound task stream and the tasks open on it. */
export class ProviderSession {
  readonly #provider: TaskProvider
  readonly #init: TaskProviderInit
  readonly #remotePeer: string
  readonly #channel: TaskChannel
  readonly #conversations = new Map<string, Conversation>()
  readonly #onGone: () => void
  #remoteEnded = false

  constructor(
    provider: TaskProvider,
    init: TaskProviderInit,
    stream: Stream,
    remotePeer: string,
    onGone: () => void,
  ) {
    this.#provider = provider
    this.#init = init
    this.#remotePeer = remotePeer
    this.#onGone = onGone
    this.#channel = new TaskChannel(
      stream,
      remotePeer,
      {
        message: (value) => this.#onMessage(value),
        badFrame: (error) => init.log.debug({ remotePeer, code: error.code }, 'skipped a bad frame'),
        remoteEnd: () => {
          this.#remoteEnded = true
          this.#closeIfDone()
        },
        close: (error) => this.#onClose(error),
      },
      {
        maxFrameBytes: init.maxFrameBytes,
        onHandlerError: (err) => init.log.error({ err, remotePeer }, 'task session handler failed'),
        signer: init.signer,
        batchSigning: () => (init.peerMinor?.(remotePeer) ?? 0) >= BATCH_SIGNATURES_MINOR,
      },
    )
  }

  /** Conversations waiting for their result. */
  get open(): number {
    return this.#conversations.size
  }

  abort(reason: Error): void {
    this.#channel.abort(reason)
  }

  #onMessage(value: unknown): void {
    const head = frameHead(value)
    if (head.type === 'task.request') {
      this.#onRequest(value, head.id)
    } else if (head.type === 'task.forward') {
      this.#onForward(value)
    } else if (head.type === 'task.cancel') {
      this.#onCancel(value, head.signed)
    } else {
      // Another conversation may be fine: drop the message, keep the stream.
      this.#init.log.debug(
        { remotePeer: this.#remotePeer, type: head.type },
        'ignored a message a requester must not send',
      )
    }
  }

  #onRequest(value: unknown, probedId: string | undefined): void {
    const counters = this.#provider.counters
    counters.received++
    let request: TaskRequest
    let digest: string
    try {
      const opened = this.#open(value)
      if (opened.envelope.type !== 'task.request') return
      request = opened.envelope.payload
      digest = opened.digest
    } catch (err) {
      // Answer when we can tell which task it was, so the requester fails over at once.
      if (probedId !== undefined && /^[A-Za-z0-9_-]{8,64}$/.test(probedId)) {
        this.#reject(probedId, toWireError(err))
      }
      this.#init.log.debug({ remotePeer: this.#remotePeer, err }, 'refused a task request')
      return
    }
    this.#admit(request, digest, undefined)
  }

  /** Verifies a signed envelope from the stream's peer (docs/protocol.md §4.3). */
  #open(value: unknown): ReturnType<typeof openEnvelope> {
    return openEnvelope(value, { ...this.#init.checks, expectedSender: this.#remotePeer })
  }

  /** A `task.forward`: verified, then run here like a request, or passed on (docs/protocol.md §2.5). */
  #onForward(value: unknown): void {
    this.#provider.counters.received++
    const probed = (value as { payload?: { request?: { payload?: { id?: unknown } } } } | null)?.payload
      ?.request?.payload?.id
    const id = typeof probed === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(probed) ? probed : undefined
    const forwarding = this.#init.forwarding
    if (forwarding === undefined) {
      if (id !== undefined)
        this.#reject(id, { code: TASK_ERROR_CODES.noRoute, message: 'this node takes no forwarded tasks' })
      return
    }
    let opened: OpenedForward
    try {
      opened = forwarding.open(value, this.#remotePeer)
    } catch (err) {
      if (id !== undefined) this.#reject(id, toWireError(err))
      this.#init.log.debug({ remotePeer: this.#remotePeer, err }, 'refused a forwarded task')
      return
    }
    this.#admit(opened.request.envelope.payload, opened.request.digest, opened)
  }

  #admit(request: TaskRequest, digest: string, forwarded: OpenedForward | undefined): void {
    const { id, requester } = request
    const open = this.#conversations.get(id)
    if (open !== undefined) {
      // Another requester's task under an id already open on this stream: only a broken relay
      // sends that, and answering would confuse the open conversation. Dropped.
      if (open.requester !== requester) return
      // The same task again on the same stream (the requester retried): the open conversation
      // answers it, quoting the newest request (docs/protocol.md §2.3).
      open.digest = digest
      return
    }
    const denied = this.#init.admit?.(this.#remotePeer, requester)
    if (denied !== undefined) {
      this.#reject(id, denied)
      return
    }
    if (this.#provider.stopping) {
      this.#reject(id, { code: TASK_ERROR_CODES.shuttingDown, message: 'this node is shutting down' })
      return
    }
    if (this.#conversations.size >= this.#init.maxTasksPerPeer) {
      this.#reject(
        id,
        {
          code: TASK_ERROR_CODES.busy,
          message: `at most ${this.#init.maxTasksPerPeer} open tasks per requester`,
        },
        BUSY_RETRY_AFTER_MS,
      )
      return
    }
    const conversation: Conversation = {
      id,
      requester,
      // Keyed by the requester, not the stream's peer: a task that arrives again through another
      // relay (or directly) joins the run the engine already has.
      engineId: `${requester}:${id}`,
      digest,
      receivedAt: performance.now(),
      timer: undefined,
      handle: undefined,
      cancelRequested: false,
      done: false,
      relay: undefined,
      forwarded: forwarded !== undefined,
    }
    this.#conversations.set(id, conversation)
    // timeoutMs runs from receipt (queueing included), as docs/protocol.md §2.1 says.
    conversation.timer = setTimeout(() => this.#expire(conversation), request.timeoutMs)
    const forwarding = this.#init.forwarding
    if (forwarded !== undefined && forwarding !== undefined && !forwarding.runsLocally(request.taskType)) {
      conversation.relay = forwarding.relay(forwarded, this.#upstream(conversation))
      return
    }
    let submitted: Promise<TaskHandle>
    try {
      submitted = this.#init.engine.submit({
        id: conversation.engineId,
        type: request.taskType,
        input: request.input,
        priority: request.priority,
        timeoutMs: request.timeoutMs,
        meta: { requester, taskId: id },
        // The requester holds the signed result; it should not wait for our disk.
        persist: this.#init.persist,
      })
    } catch (err) {
      submitted = Promise.reject(err)
    }
    submitted.then(
      (handle) => this.#onSubmitted(conversation, handle),
      (err: unknown) => {
        if (conversation.done) return
        this.#end(conversation)
        const error = wireErrorOf(err)
        this.#reject(id, error, error.code === TASK_ERROR_CODES.busy ? BUSY_RETRY_AFTER_MS : undefined)
      },
    )
  }

  #onSubmitted(conversation: Conversation, handle: TaskHandle): void {
    if (conversation.done) {
      // Expired or the stream died while the engine admitted it.
      handle.cancel()
      return
    }
    conversation.handle = handle
    this.#provider.counters.accepted++
    const running = handle.status === 'RUNNING'
    this.#channel.send(
      encodeControl('task.accept', { id: conversation.id, ...(running ? { queuePosition: 0 } : {}) }),
    )
    if (conversation.cancelRequested) handle.cancel()
    if (handle.status === 'QUEUED' || handle.status === 'RUNNING') {
      handle.addEventListener('progress', (evt) => {
        if (conversation.done) return
        const { fraction, message } = evt.detail
        this.#channel.send(
          encodeControl('task.progress', {
            id: conversation.id,
            progress: Math.min(1, Math.max(0, fraction)),
            ...(message === undefined ? {} : { message: message.slice(0, 256) }),
          }),
        )
      })
    }
    handle.result().then(
      (record) => this.#answer(conversation, record),
      (err: unknown) => this.#init.log.error({ err }, 'engine handle rejected its result'),
    )
  }

  #onCancel(value: unknown, signed: boolean): void {
    let id: string
    try {
      if (signed) {
        const opened = this.#open(value)
        if (opened.envelope.type !== 'task.cancel') return
        id = opened.envelope.payload.id
      } else {
        id = checkControl(value, 'task.cancel').id
      }
    } catch (err) {
      this.#init.log.debug({ remotePeer: this.#remotePeer, err }, 'ignored a bad task.cancel')
      return
    }
    const conversation = this.#conversations.get(id)
    // Unknown: already answered (the cancel crossed the result) or never asked. Nothing to do.
    if (conversation === undefined) return
    conversation.cancelRequested = true
    conversation.handle?.cancel()
    if (conversation.relay !== undefined) {
      // The next hop is told; its answer will not come back here, so the conversation ends now.
      this.#end(conversation)
      conversation.relay.cancel('cancelled by the requester')
      this.#sendResult(conversation, {
        status: 'cancelled',
        error: { code: TASK_ERROR_CODES.cancelled, message: 'cancelled by the requester' },
      })
    }
  }

  /** Where a relayed task's answers go: this conversation, on this stream. */
  #upstream(conversation: Conversation): RelayUpstream {
    return relayUpstream(conversation, {
      counters: this.#provider.counters,
      maxFrameBytes: this.#init.maxFrameBytes,
      send: (frame) => this.#channel.send(frame),
      end: (c) => this.#end(c),
      reject: (id, error, retryAfterMs) => this.#reject(id, error, retryAfterMs),
      sendResult: (c, outcome) => this.#sendResult(c, outcome),
      closeIfDone: () => this.#closeIfDone(),
    })
  }

  #expire(conversation: Conversation): void {
    if (conversation.done) return
    this.#end(conversation)
    this.#cancelEngineTask(conversation)
    this.#sendResult(conversation, {
      status: 'timeout',
      error: { code: TASK_ERROR_CODES.timeout, message: 'the task did not finish within its timeoutMs' },
    })
  }

  #answer(conversation: Conversation, record: TaskRecord): void {
    if (conversation.done) return
    this.#end(conversation)
    this.#sendResult(conversation, resultOutcome(record), record)
  }

  #sendResult(conversation: Conversation, outcome: ResultOutcome, record?: TaskRecord): void {
    const { signer, maxFrameBytes } = this.#init
    const prepared = prepareResult(signer, maxFrameBytes, conversation, outcome, record)
    this.#provider.counters.answered++
    if (conversation.forwarded) {
      // The signed JSON goes out as it was signed: no second serialization.
      const [signed] = sealPrepared(this.#init.signer, [prepared])
      this.#channel.send(encodeJsonFrame(signed?.json as string, { maxFrameBytes: this.#init.maxFrameBytes }))
    } else {
      // Signed when it leaves, together with whatever else leaves then (channel.ts).
      this.#channel.sendSigned(prepared)
    }
    this.#closeIfDone()
  }

  #reject(id: string, error: WireError, retryAfterMs?: number): void {
    this.#provider.counters.rejected++
    this.#channel.send(
      encodeControl('task.reject', { id, error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }),
    )
  }

  #end(conversation: Conversation): void {
    conversation.done = true
    clearTimeout(conversation.timer)
    this.#conversations.delete(conversation.id)
  }

  #cancelEngineTask(conversation: Conversation): void {
    if (conversation.relay !== undefined) conversation.relay.cancel('the relayed task ended here')
    else if (conversation.handle !== undefined) conversation.handle.cancel()
    else {
      try {
        this.#init.engine.cancel(conversation.engineId)
      } catch {
        // Not admitted yet: #onSubmitted cancels it when it is.
      }
    }
  }

  #closeIfDone(): void {
    if (this.#remoteEnded && this.#conversations.size === 0 && !this.#channel.closed) {
      void this.#channel.close()
    }
  }

  #onClose(error: Error | undefined): void {
    // The requester is gone: it fails its tasks over, so running them on would be wasted work.
    for (const conversation of [...this.#conversations.values()]) {
      this.#end(conversation)
      this.#cancelEngineTask(conversation)
    }
    if (error !== undefined) {
      this.#init.log.debug({ remotePeer: this.#remotePeer, err: error }, 'task stream closed with an error')
    }
    this.#onGone()
  }
}
