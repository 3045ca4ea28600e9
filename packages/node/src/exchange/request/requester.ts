/**
 * The asking side of the task protocol: one long-lived outbound task stream per provider,
 * carrying every attempt this node sends it, frames correlated by task id (docs/protocol.md §2.3).
 *
 * The requester checks what comes back (signed results against the exact request they answer,
 * signed by the provider the request went to) and hands it to the attempt it belongs to. A stream
 * that breaks loses every attempt on it at once; a sweep twice a second loses attempts whose
 * provider went quiet: no accept in time, no result in time, or no answer to a quick probe of the
 * peer (through the peer directory) after `livenessIdleMs` of silence, so a silent death is
 * noticed within seconds, not at the next heartbeat.
 *
 * A stream goes on the best connection to the provider: a direct one, else a relayed one (the
 * router sends only small tasks there). When a direct connection appears (hole punching, a
 * dial-back), the stream on the relayed one drains: new attempts open a stream on the direct
 * connection, the old one closes its writing side at once and ends once the provider has answered
 * what it holds, and the relayed connection, idle, is closed by the transport.
 */
import type { PeerId, Stream } from '@libp2p/interface'
import {
  assertResultMatches,
  BATCH_SIGNATURES_MINOR,
  encodeControl,
  openEnvelope,
  peekMessage,
  readControl,
  type Signer,
  TASK_PROTOCOL,
  type TaskResult,
} from '@p2p-ai/protocol'
import { bestConnection, type Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import type { PeerDirectory } from '../../peers/directory.js'
import type { ProtocolTraffic } from '../../traffic.js'
import { LIVENESS_SWEEP_MS, STREAM_OPEN_TIMEOUT_MS } from '../constants.js'
import {
  AccessDeniedError,
  PeerDisconnectedError,
  PeerUnresponsiveError,
  ProtocolViolationError,
  ResultTimeoutError,
  StreamOpenError,
} from '../errors.js'
import { TaskChannel } from '../stream/channel.js'
import type { EnvelopeChecks } from '../trust/checks.js'
import type { RemoteAttempt, RequestRef } from './attempt.js'

export interface TaskRequesterInit {
  transport: Transport
  directory: PeerDirectory
  /** Signs prepared requests when they leave. */
  signer: Signer
  /** How results (and any signed control message) are verified. */
  checks: EnvelopeChecks
  log: Logger
  maxFrameBytes: number
  /** Outbound streams with nothing pending are closed after this long. */
  streamIdleMs: number
  /** A peer with attempts pending and nothing heard from it for this long is probed. */
  livenessIdleMs: number
  /** A probe unanswered this long loses the peer's attempts. */
  livenessTimeoutMs: number
  /** Where the task protocol's outbound streams count their frames. */
  traffic?: ProtocolTraffic
}

/** An outbound task stream to one provider. */
interface Outbound {
  readonly peer: string
  readonly channel: TaskChannel
  /** Pending attempts by task id. */
  readonly attempts: Map<string, RemoteAttempt>
  /** Earlier requests for the same task on this stream: a result may answer any of them. */
  readonly earlier: Map<string, RequestRef[]>
  idleSince: number
  probing: boolean
  /** It runs on a relayed (limited) connection. */
  readonly relayed: boolean
  readonly peerId: PeerId
}

/** Outbound task streams, one per provider, and the attempts pending on them. */
export class TaskRequester {
  readonly #init: TaskRequesterInit
  readonly #outbound = new Map<string, Outbound>()
  /** Streams replaced by one on a better connection, until their attempts are answered. */
  readonly #draining = new Set<Outbound>()
  readonly #opening = new Map<string, Promise<Outbound>>()
  #sweep: NodeJS.Timeout | undefined

  constructor(init: TaskRequesterInit) {
    this.#init = init
  }

  start(): void {
    this.#sweep ??= setInterval(() => this.#sweepOnce(), LIVENESS_SWEEP_MS)
    this.#sweep.unref()
  }

  /** Closes every stream; attempts still pending are lost with `reason`. */
  stop(reason: Error): void {
    clearInterval(this.#sweep)
    this.#sweep = undefined
    for (const outbound of [...this.#outbound.values(), ...this.#draining]) outbound.channel.abort(reason)
  }

  /**
   * There is a direct connection to `peer` now: a stream to it on a relayed connection drains, and
   * the next attempt opens one on the direct connection.
   */
  preferDirect(peer: string): void {
    const outbound = this.#outbound.get(peer)
    if (outbound?.relayed !== true || !this.#hasDirect(outbound)) return
    this.#drain(outbound)
  }

  #hasDirect(outbound: Outbound): boolean {
    return bestConnection(this.#init.transport, outbound.peerId) !== undefined
  }

  /** Takes `outbound` out of use: no new attempts; it closes once those on it are answered. */
  #drain(outbound: Outbound): void {
    if (this.#outbound.get(outbound.peer) === outbound) this.#outbound.delete(outbound.peer)
    if (outbound.attempts.size > 0) this.#draining.add(outbound)
    // Closing our writing side tells the provider no more requests come; it answers what it has,
    // then closes its side.
    void outbound.channel.close()
  }

  /**
   * Sends the attempt's request to its peer, opening the stream first if needed. Never throws:
   * failures (dial, negotiation, a dead stream) reach the attempt as `onLost`.
   */
  send(attempt: RemoteAttempt): void {
    const existing = this.#outbound.get(attempt.peer)
    if (existing?.relayed === true && this.#hasDirect(existing)) this.#drain(existing)
    else if (existing?.channel.writable === true) {
      this.#dispatch(existing, attempt)
      return
    }
    let opening = this.#opening.get(attempt.peer)
    if (opening === undefined) {
      opening = this.#open(attempt)
      this.#opening.set(attempt.peer, opening)
      const clear = (): void => {
        this.#opening.delete(attempt.peer)
      }
      opening.then(clear, clear)
    }
    opening.then(
      (outbound) => {
        if (attempt.settled) return
        if (outbound.channel.writable) this.#dispatch(outbound, attempt)
        else attempt.onLost(new PeerDisconnectedError(`the task stream to ${attempt.peer} closed`))
      },
      (err: unknown) => attempt.onLost(err as Error),
    )
  }

  async #open(attempt: RemoteAttempt): Promise<Outbound> {
    const { peer } = attempt
    let stream: Stream
    const connection = bestConnection(this.#init.transport, attempt.peerId, { limited: true })
    try {
      const options = { signal: AbortSignal.timeout(STREAM_OPEN_TIMEOUT_MS), runOnLimitedConnection: true }
      stream =
        connection === undefined
          ? await this.#init.transport.dialProtocol(attempt.peerId, TASK_PROTOCOL, options)
          : await connection.newStream(TASK_PROTOCOL, options)
    } catch (err) {
      throw new StreamOpenError(`cannot open a task stream to ${peer}: ${(err as Error).message}`, {
        cause: err,
      })
    }
    const { directory, log } = this.#init
    const outbound: Outbound = {
      peer,
      channel: new TaskChannel(
        stream,
        peer,
        {
          message: (value, body) => this.#onMessage(outbound, value, body),
          badFrame: (error) => log.debug({ remotePeer: peer, code: error.code }, 'skipped a bad frame'),
          remoteEnd: () => {
            // The provider answers nothing more on this stream: what is pending is lost here.
            this.#loseAll(outbound, new PeerDisconnectedError(`${peer} closed the task stream`))
            void outbound.channel.close()
          },
          close: (error) => {
            if (this.#outbound.get(peer) === outbound) this.#outbound.delete(peer)
            this.#draining.delete(outbound)
            // Our own verdict (a failed probe) says more than "closed": keep it.
            const failure =
              error instanceof PeerUnresponsiveError
                ? error
                : new PeerDisconnectedError(
                    `the task stream to ${peer} closed: ${error?.message ?? 'closed'}`,
                  )
            this.#loseAll(outbound, failure)
          },
        },
        {
          maxFrameBytes: this.#init.maxFrameBytes,
          onHandlerError: (err) => log.error({ err, remotePeer: peer }, 'task stream handler failed'),
          signer: this.#init.signer,
          batchSigning: () => directory.protocolMinor(peer) >= BATCH_SIGNATURES_MINOR,
          ...(this.#init.traffic === undefined ? {} : { traffic: this.#init.traffic }),
        },
      ),
      attempts: new Map(),
      earlier: new Map(),
      idleSince: performance.now(),
      probing: false,
      relayed: connection !== undefined && connection.limits !== undefined,
      peerId: attempt.peerId,
    }
    const previous = this.#outbound.get(peer)
    if (previous !== undefined && previous !== outbound) this.#drain(previous)
    this.#outbound.set(peer, outbound)
    return outbound
  }

  #dispatch(outbound: Outbound, attempt: RemoteAttempt): void {
    const previous = outbound.attempts.get(attempt.taskId)
    if (previous !== undefined && previous !== attempt) {
      // A retry on the same stream: the provider answers the newest request, but an answer to
      // the previous one may already be on its way, and is just as good.
      const earlier = outbound.earlier.get(attempt.taskId) ?? []
      earlier.push(previous.request)
      outbound.earlier.set(attempt.taskId, earlier)
    }
    outbound.attempts.set(attempt.taskId, attempt)
    attempt.cancelOnStream = (reason) => this.#cancel(outbound, attempt, reason)
    const frame = attempt.frame
    const sent =
      frame instanceof Uint8Array ? outbound.channel.send(frame) : outbound.channel.sendSigned(frame)
    if (!sent) {
      this.#forget(outbound, attempt.taskId)
      attempt.onLost(new PeerDisconnectedError(`the task stream to ${attempt.peer} closed`))
    }
  }

  /** The attempt was withdrawn: tell the provider to stop, and ignore its answer should one come. */
  #cancel(outbound: Outbound, attempt: RemoteAttempt, reason: string): void {
    if (outbound.attempts.get(attempt.taskId) !== attempt) return
    this.#forget(outbound, attempt.taskId)
    if (outbound.channel.writable) {
      outbound.channel.send(
        encodeControl('task.cancel', { id: attempt.taskId, reason: reason.slice(0, 256) }, { trusted: true }),
      )
    }
  }

  #forget(outbound: Outbound, taskId: string): void {
    outbound.attempts.delete(taskId)
    outbound.earlier.delete(taskId)
    if (outbound.attempts.size === 0) {
      outbound.idleSince = performance.now()
      this.#draining.delete(outbound)
    }
  }

  #onMessage(outbound: Outbound, value: unknown, body: Uint8Array): void {
    const head = peekMessage(value)
    const attempt = head.id === undefined ? undefined : outbound.attempts.get(head.id)
    // Unknown ids are answers to attempts we gave up on (or withdrew): not an error.
    if (attempt === undefined) return
    try {
      switch (head.type) {
        case 'task.accept':
          attempt.onAccept(this.#control(outbound.peer, value, 'task.accept', head.signed))
          return
        case 'task.progress':
          attempt.onProgress(this.#control(outbound.peer, value, 'task.progress', head.signed))
          return
        case 'task.reject': {
          const payload = this.#control(outbound.peer, value, 'task.reject', head.signed)
          this.#forget(outbound, attempt.taskId)
          attempt.onReject(payload)
          return
        }
        case 'task.result': {
          const { result, from } = this.#verifyResult(outbound, attempt, value, head.signed)
          this.#forget(outbound, attempt.taskId)
          attempt.onResult(result, { from, body })
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
      attempt.onLost(err as Error)
    }
  }

  /** An accept, progress or reject from `peer`, checked (and verified when it is signed). */
  #control<T extends 'task.accept' | 'task.progress' | 'task.reject'>(
    peer: string,
    value: unknown,
    type: T,
    signed: boolean,
  ): ReturnType<typeof readControl<T>> {
    if (!signed) return readControl(value, type)
    const opened = openEnvelope(value, { ...this.#init.checks, expectedSender: peer })
    if (opened.envelope.type !== type) throw new ProtocolViolationError(`expected ${type}`)
    return opened.envelope.payload as ReturnType<typeof readControl<T>>
  }

  /**
   * A result for `attempt`: signed by the provider the request went to (or, for a forwarded task,
   * by whoever ran it at the end of the route), answering the attempt's request or, after a retry
   * on the same stream, one of the earlier requests for the same task.
   */
  #verifyResult(
    outbound: Outbound,
    attempt: RemoteAttempt,
    value: unknown,
    signed: boolean,
  ): { result: TaskResult; from: string } {
    if (!signed) throw new ProtocolViolationError('a task.result must be a signed envelope')
    const opened = openEnvelope(
      value,
      attempt.forwarded ? this.#init.checks : { ...this.#init.checks, expectedSender: outbound.peer },
    )
    if (opened.envelope.type !== 'task.result') throw new ProtocolViolationError('expected task.result')
    const result = opened.envelope.payload
    const from = opened.envelope.from
    if (attempt.signerAllowed !== undefined && !attempt.signerAllowed(from)) {
      throw new AccessDeniedError(
        `the result of task ${attempt.taskId} is signed by ${from}, who is not on the allowlist`,
      )
    }
    const requests = [attempt.request, ...(outbound.earlier.get(attempt.taskId) ?? [])]
    let mismatch: unknown
    for (const request of requests) {
      try {
        assertResultMatches(request, result)
        return { result, from }
      } catch (err) {
        mismatch ??= err
      }
    }
    throw mismatch
  }

  #loseAll(outbound: Outbound, error: Error): void {
    const attempts = [...outbound.attempts.values()]
    outbound.attempts.clear()
    outbound.earlier.clear()
    for (const attempt of attempts) attempt.onLost(error)
  }

  /** Deadlines, liveness probes and idle streams. */
  #sweepOnce(): void {
    const now = performance.now()
    for (const outbound of [...this.#outbound.values(), ...this.#draining]) {
      if (outbound.attempts.size === 0) {
        if (now - outbound.idleSince > this.#init.streamIdleMs && outbound.channel.writable) {
          if (this.#outbound.get(outbound.peer) === outbound) this.#outbound.delete(outbound.peer)
          void outbound.channel.close()
        }
        continue
      }
      for (const attempt of [...outbound.attempts.values()]) {
        if (!attempt.accepted && now > attempt.acceptBy) {
          // Tell the provider too: should it wake up, it must not work for nobody.
          this.#cancel(outbound, attempt, 'not accepted in time')
          attempt.onLost(
            new PeerUnresponsiveError(`${attempt.peer} did not accept task ${attempt.taskId} in time`),
          )
        } else if (now > attempt.resultBy) {
          this.#cancel(outbound, attempt, 'no result in time')
          attempt.onLost(
            new ResultTimeoutError(`no result for task ${attempt.taskId} from ${attempt.peer} in time`),
          )
        }
      }
      if (
        outbound.attempts.size > 0 &&
        !outbound.probing &&
        now - outbound.channel.lastHeard > this.#init.livenessIdleMs
      ) {
        this.#probe(outbound)
      }
    }
  }

  #probe(outbound: Outbound): void {
    outbound.probing = true
    this.#init.directory
      .probe(outbound.peer, this.#init.livenessTimeoutMs)
      .then((answered) => {
        if (answered) outbound.channel.lastHeard = performance.now()
        else {
          outbound.channel.abort(
            new PeerUnresponsiveError(
              `${outbound.peer} did not answer a liveness probe within ${this.#init.livenessTimeoutMs} ms`,
            ),
          )
        }
      })
      .finally(() => {
        outbound.probing = false
      })
  }
}
