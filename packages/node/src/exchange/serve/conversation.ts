/**
 * One task on a provider session's stream, and what does not need the stream itself: where a
 * relayed task's answers go, and the result envelope the requester gets.
 */
import type { TaskHandle, TaskRecord } from '@p2p-ai/engine'
import {
  encodeFrame,
  FrameTooLargeError,
  MAX_SIGNATURE_JSON_BYTES,
  type PreparedEnvelope,
  prepareEnvelope,
  type Signer,
  type TaskResult,
  toWireError,
  type WireError,
} from '@p2p-ai/protocol'
import type { RelayHandle, RelayUpstream } from './forwarding.js'
import { encodeControl, type ResultOutcome, resultTimings } from './wire.js'

export interface Conversation {
  readonly id: string
  /** Who signed the request: the stream's peer, or the requester of a forwarded task. */
  readonly requester: string
  readonly engineId: string
  /** Of the newest request for this task on the stream: the result quotes it. */
  digest: string
  readonly receivedAt: number
  timer: NodeJS.Timeout | undefined
  handle: TaskHandle | undefined
  cancelRequested: boolean
  done: boolean
  /** A forwarded task this node passes on rather than runs. */
  relay: RelayHandle | undefined
  /**
   * Came in a `task.forward`: its result travels back through relays to a requester whose
   * protocol minor this node does not know, so it is signed on its own, never in a batch.
   */
  readonly forwarded: boolean
}

/** What a relayed conversation's answers go through: its session's stream and bookkeeping. */
export interface ConversationOutlet {
  readonly counters: { accepted: number; answered: number }
  readonly maxFrameBytes: number
  send(frame: Uint8Array): void
  end(conversation: Conversation): void
  reject(id: string, error: WireError, retryAfterMs?: number): void
  sendResult(conversation: Conversation, outcome: ResultOutcome): void
  closeIfDone(): void
}

/** Where a relayed task's answers go: this conversation, on its session's stream. */
export function relayUpstream(conversation: Conversation, outlet: ConversationOutlet): RelayUpstream {
  const counters = outlet.counters
  return {
    accept: (queuePosition) => {
      if (conversation.done) return
      counters.accepted++
      const position = queuePosition === undefined ? {} : { queuePosition }
      outlet.send(encodeControl('task.accept', { id: conversation.id, ...position }))
    },
    progress: (progress, message) => {
      if (conversation.done) return
      const note = message === undefined ? {} : { message }
      outlet.send(encodeControl('task.progress', { id: conversation.id, progress, ...note }))
    },
    reject: (error, retryAfterMs) => {
      if (conversation.done) return
      outlet.end(conversation)
      outlet.reject(conversation.id, error, retryAfterMs)
      outlet.closeIfDone()
    },
    result: (envelope) => {
      if (conversation.done) return
      outlet.end(conversation)
      let frame: Uint8Array
      try {
        frame = encodeFrame(envelope, { maxFrameBytes: outlet.maxFrameBytes })
      } catch (err) {
        // Larger than this stream allows: the previous hop still gets an answer.
        outlet.sendResult(conversation, { status: 'failed', error: toWireError(err) })
        return
      }
      counters.answered++
      outlet.send(frame)
      outlet.closeIfDone()
    },
    fail: (error) => {
      if (conversation.done) return
      outlet.end(conversation)
      outlet.sendResult(conversation, { status: 'failed', error })
    },
  }
}

/** The conversation's result, prepared for signing, that fits a frame of `maxFrameBytes`. */
export function prepareResult(
  signer: Signer,
  maxFrameBytes: number,
  conversation: Conversation,
  outcome: ResultOutcome,
  record: TaskRecord | undefined,
): PreparedEnvelope<'task.result'> {
  const timings = resultTimings(conversation.receivedAt, record)
  const base = { id: conversation.id, requestHash: conversation.digest, timings }
  try {
    return prepareSized(signer, maxFrameBytes, { ...base, ...outcome } as TaskResult)
  } catch (err) {
    // The output cannot travel (not JSON, or too large): the requester still gets an answer.
    const error = toWireError(err)
    return prepareSized(signer, maxFrameBytes, {
      ...base,
      status: 'failed',
      error: { code: 'ERR_INVALID_OUTPUT', message: error.message },
    })
  }
}

function prepareSized(
  signer: Signer,
  maxFrameBytes: number,
  result: TaskResult,
): PreparedEnvelope<'task.result'> {
  const prepared = prepareEnvelope(signer, 'task.result', result)
  if (prepared.byteLength + MAX_SIGNATURE_JSON_BYTES > maxFrameBytes) {
    throw new FrameTooLargeError(
      `the result is ${prepared.byteLength} bytes; frames on this stream hold at most ${maxFrameBytes}`,
    )
  }
  return prepared
}
