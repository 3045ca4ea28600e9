/**
 * The asking side of the task protocol: one long-lived outbound task stream per provider,
 * carrying every task this node sends it, with frames correlated by task id.
 *
 * The requester checks what comes back (signed results against the exact request they answer,
 * signed by the provider the request went to) and tells each pending attempt what happened. A
 * stream that breaks fails every attempt pending on it at once; a periodic sweep fails attempts
 * whose provider went quiet (no accept in time, no result in time, no answer to a liveness ping)
 * so a silent death is noticed within seconds, not at the next heartbeat.
 */
import type { PeerId, Stream } from '@libp2p/interface'
import {
  BATCH_SIGNATURES_MINOR,
  type PreparedEnvelope,
  type SignedEnvelope,
  type Signer,
  TASK_PROTOCOL,
  type TaskAccept,
  type TaskProgress,
  type TaskReject,
  type TaskResult,
} from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import { type ChannelHandlers, TaskChannel } from './channel.js'
import { LIVENESS_SWEEP_MS, STREAM_OPEN_TIMEOUT_MS } from './constants.js'
import { PeerDisconnectedError, PeerUnresponsiveError, StreamOpenError } from './errors.js'
import { sweep } from './requester-liveness.js'
import { checkedControl, verifyResult } from './requester-verify.js'
import { type EnvelopeChecks, encodeControl, frameHead } from './wire.js'

/** One request sent (or about to be sent) to one provider, waiting for its answer. */
export interface PendingAttempt {
  readonly taskId: string
  readonly peer: string
  /** The request (signed, or to be signed when it leaves); the result must quote its digest. */
  readonly request: RequestRef
  /**
   * What goes on the stream: a framed `task.request` or `task.forward` (sealed by whoever made
   * the attempt), or the prepared request, which the stream signs when it leaves, in a batch with
   * whatever leaves with it when the provider speaks batch signatures.
   */
  readonly frame: Uint8Array | PreparedEnvelope<'task.request'>
  /**
   * Sent as a `task.forward`: the result is signed by whichever node ran the task at the end of
   * the route, not by `peer`. It must still quote the request's digest.
   */
  readonly forwarded?: boolean
  /** For a forwarded attempt: whether a result signed by this peer may be accepted (access policy). */
  readonly signerAllowed?: (peer: string) => boolean
  /** `performance.now()` deadlines checked by the sweep. */
  acceptBy: number
  resultBy: number
  accepted: boolean
  accept(payload: TaskAccept): void
  progress(payload: TaskProgress): void
  reject(payload: TaskReject): void
  /** A verified result that answers `request`; `signed` is its envelope as it arrived, and its signer. */
  result(payload: TaskResult, signed: VerifiedResult): void
  /** The attempt ended without a usable answer: transport, timeout or a result that does not verify. */
  fail(error: Error): void
}

/** A request a result is checked against: its digest is final whether it is signed yet or not. */
export type RequestRef = SignedEnvelope<'task.request'> | PreparedEnvelope<'task.request'>

/** A result envelope that verified: its signer, and the decoded envelope (to pass on unchanged). */
export interface VerifiedResult {
  readonly from: string
  readonly value: unknown
}

export interface TaskRequesterInit {
  transport: Transport
  /** Signs prepared requests when they leave. */
  signer: Signer
  /** How results (and any signed control message) are verified. */
  checks: EnvelopeChecks
  /** The protocol minor a peer announced, if it did: requests to peers at 2 or later share batch signatures. */
  peerMinor?(peer: string): number | undefined
  log: Logger
  maxFrameBytes: number
  /** Outbound streams with nothing pending are closed after this long. */
  streamIdleMs: number
  /** A peer with attempts pending and nothing heard from it for this long is pinged. */
  livenessIdleMs: number
  /** A liveness ping unanswered this long fails the peer's attempts over. */
  livenessTimeoutMs: number
}

/** An outbound task stream to one provider. */
export interface Outbound {
  readonly peer: string
  readonly channel: TaskChannel
  /** Pending attempts by task id. */
  readonly attempts: Map<string, PendingAttempt>
  /** Earlier requests for the same task on this stream: a result may answer any of them. */
  readonly earlier: Map<string, RequestRef[]>
  idleSince: number
  pinging: boolean
}

/** Outbound task streams, one per provider, and the attempts pending on them. */
export class TaskRequester {
  readonly #init: TaskRequesterInit
  readonly #outbound = new Map<string, Outbound>()
  readonly #opening = new Map<string, Promise<Outbound>>()
  /** Attempts waiting for their peer's stream to open: they count as outstanding already. */
  readonly #waiting = new Map<string, number>()
  /** Per peer, the most attempts outstanding at once since `takePeak` last looked. */
  readonly #peaks = new Map<string, number>()
  #sweep: NodeJS.Timeout | undefined

  constructor(init: TaskRequesterInit) {
    this.#init = init
  }

  start(): void {
    this.#sweep ??= setInterval(
      () =>
        sweep(this.#outbound, this.#init, (attempt, notify, reason) =>
          this.withdraw(attempt, notify, reason),
        ),
      LIVENESS_SWEEP_MS,
    )
    this.#sweep.unref()
  }

  /** Closes every stream; attempts still pending fail with `reason`. */
  stop(reason: Error): void {
    clearInterval(this.#sweep)
    this.#sweep = undefined
    for (const outbound of [...this.#outbound.values()]) outbound.channel.abort(reason)
  }

  /** Attempts pending on `peer` (routing adds them to the peer's announced load). */
  outstanding(peer: string): number {
    return (this.#outbound.get(peer)?.attempts.size ?? 0) + (this.#waiting.get(peer) ?? 0)
  }

  /**
   * The most attempts outstanding on `peer` at any moment since the last call (at least the
   * current count). A capability announcement counts our tasks of some moment before it arrived;
   * subtracting the peak of that period keeps finished ones from passing for other people's load.
   */
  takePeak(peer: string): number {
    const now = this.outstanding(peer)
    const peak = Math.max(now, this.#peaks.get(peer) ?? 0)
    this.#peaks.set(peer, now)
    return peak
  }

  #notePeak(peer: string): void {
    const now = this.outstanding(peer)
    if (now > (this.#peaks.get(peer) ?? 0)) this.#peaks.set(peer, now)
  }

  /**
   * Sends the attempt's request to its provider, opening the stream first if needed. Never
   * throws: failures (dial, negotiation, a dead stream) arrive as `attempt.fail`.
   */
  send(peerId: PeerId, attempt: PendingAttempt): void {
    const existing = this.#outbound.get(attempt.peer)
    if (existing?.channel.writable === true) {
      this.#dispatch(existing, attempt)
      return
    }
    let opening = this.#opening.get(attempt.peer)
    if (opening === undefined) {
      opening = this.#open(peerId, attempt.peer)
      this.#opening.set(attempt.peer, opening)
      const clear = (): void => {
        this.#opening.delete(attempt.peer)
      }
      opening.then(clear, clear)
    }
    const peer = attempt.peer
    this.#waiting.set(peer, (this.#waiting.get(peer) ?? 0) + 1)
    this.#notePeak(peer)
    const done = (): void => {
      const left = (this.#waiting.get(peer) ?? 1) - 1
      if (left > 0) this.#waiting.set(peer, left)
      else this.#waiting.delete(peer)
    }
    opening.then(
      (outbound) => {
        done()
        if (outbound.channel.writable) this.#dispatch(outbound, attempt)
        else attempt.fail(new PeerDisconnectedError(`the task stream to ${attempt.peer} closed`))
      },
      (err: unknown) => {
        done()
        attempt.fail(err as Error)
      },
    )
  }

  /**
   * Withdraws a pending attempt: its answer, if one still comes, is ignored. With `notify`, the
   * provider is told to stop (`task.cancel`).
   */
  withdraw(attempt: PendingAttempt, notify: boolean, reason?: string): void {
    const outbound = this.#outbound.get(attempt.peer)
    if (outbound === undefined || outbound.attempts.get(attempt.taskId) !== attempt) return
    this.#forget(outbound, attempt.taskId)
    if (notify && outbound.channel.writable) {
      outbound.channel.send(
        encodeControl('task.cancel', {
          id: attempt.taskId,
          ...(reason === undefined ? {} : { reason: reason.slice(0, 256) }),
        }),
      )
    }
  }

  async #open(peerId: PeerId, peer: string): Promise<Outbound> {
    let stream: Stream
    try {
      stream = await this.#init.transport.dialProtocol(peerId, TASK_PROTOCOL, {
        signal: AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS),
      })
    } catch (err) {
      throw new StreamOpenError(`cannot open a task stream to ${peer}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    const handlers: ChannelHandlers = {
      message: (value) => this.#onMessage(outbound, value),
      badFrame: (error) =>
        this.#init.log.debug({ remotePeer: peer, code: error.code }, 'skipped a bad frame'),
      remoteEnd: () => {
        // The provider stops answering on this stream: what is pending will get no answer here.
        this.#failAll(outbound, new PeerDisconnectedError(`${peer} closed the task stream`))
        void outbound.channel.close()
      },
      close: (error) => {
        if (this.#outbound.get(peer) === outbound) this.#outbound.delete(peer)
        // Our own verdict (a failed liveness ping) says more than "closed": keep it.
        const failure =
          error instanceof PeerUnresponsiveError
            ? error
            : new PeerDisconnectedError(`the task stream to ${peer} closed: ${error?.message ?? 'closed'}`)
        this.#failAll(outbound, failure)
      },
    }
    const outbound: Outbound = {
      peer,
      channel: new TaskChannel(stream, peer, handlers, {
        maxFrameBytes: this.#init.maxFrameBytes,
        onHandlerError: (err) =>
          this.#init.log.error({ err, remotePeer: peer }, 'task stream handler failed'),
        signer: this.#init.signer,
        batchSigning: () => (this.#init.peerMinor?.(peer) ?? 0) >= BATCH_SIGNATURES_MINOR,
      }),
      attempts: new Map(),
      earlier: new Map(),
      idleSince: performance.now(),
      pinging: false,
    }
    const previous = this.#outbound.get(peer)
    if (previous !== undefined && previous !== outbound) void previous.channel.close()
    this.#outbound.set(peer, outbound)
    return outbound
  }

  #dispatch(outbound: Outbound, attempt: PendingAttempt): void {
    const previous = outbound.attempts.get(attempt.taskId)
    if (previous !== undefined && previous !== attempt) {
      // A retry on the same stream: the provider answers the newest request, but an answer to
      // the previous one may already be on its way, and is just as good.
      const earlier = outbound.earlier.get(attempt.taskId) ?? []
      earlier.push(previous.request)
      outbound.earlier.set(attempt.taskId, earlier)
    }
    outbound.attempts.set(attempt.taskId, attempt)
    this.#notePeak(outbound.peer)
    const frame = attempt.frame
    const sent =
      frame instanceof Uint8Array ? outbound.channel.send(frame) : outbound.channel.sendSigned(frame)
    if (!sent) {
      this.#forget(outbound, attempt.taskId)
      attempt.fail(new PeerDisconnectedError(`the task stream to ${attempt.peer} closed`))
    }
  }

  #forget(outbound: Outbound, taskId: string): void {
    outbound.attempts.delete(taskId)
    outbound.earlier.delete(taskId)
    if (outbound.attempts.size === 0) outbound.idleSince = performance.now()
  }

  #onMessage(outbound: Outbound, value: unknown): void {
    const head = frameHead(value)
    const attempt = head.id === undefined ? undefined : outbound.attempts.get(head.id)
    // Unknown ids are answers to attempts we gave up on (or withdrew): not an error.
    if (attempt === undefined) return
    try {
      switch (head.type) {
        case 'task.accept':
          attempt.accepted = true
          attempt.accept(checkedControl(this.#init, outbound.peer, value, 'task.accept', head.signed))
          return
        case 'task.progress':
          attempt.progress(checkedControl(this.#init, outbound.peer, value, 'task.progress', head.signed))
          return
        case 'task.reject': {
          const payload = checkedControl(this.#init, outbound.peer, value, 'task.reject', head.signed)
          this.#forget(outbound, attempt.taskId)
          attempt.reject(payload)
          return
        }
        case 'task.result': {
          const { result, from } = verifyResult(
            this.#init,
            outbound.peer,
            outbound.earlier,
            attempt,
            value,
            head.signed,
          )
          this.#forget(outbound, attempt.taskId)
          attempt.result(result, { from, value })
          return
        }
        default:
          // Not a provider's message: ignored, like any message that does not belong (§2.3).
          this.#init.log.debug(
            { remotePeer: outbound.peer, type: head.type },
            'ignored a misdirected message',
          )
          return
      }
    } catch (err) {
      // The provider sent something about this task that does not check out: the attempt is lost.
      this.#forget(outbound, attempt.taskId)
      attempt.fail(err as Error)
    }
  }

  #failAll(outbound: Outbound, error: Error): void {
    const attempts = [...outbound.attempts.values()]
    outbound.attempts.clear()
    outbound.earlier.clear()
    for (const attempt of attempts) attempt.fail(error)
  }
}
