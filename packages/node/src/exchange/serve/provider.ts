/**
 * The serving side of the task protocol: every inbound task stream becomes a session that
 * verifies signed requests, runs them on the engine and answers with accept or reject, progress
 * and a signed result, for any number of concurrent tasks on the one stream.
 *
 * Engine task ids are `<requester PeerId>:<task id>`: a retry of the same task by the same
 * requester (after a failover, on a new stream) joins the task the engine already knows instead
 * of running it again, and no requester can reach another one's task by guessing its id.
 */
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import type { TaskEngine } from '@p2p-ai/engine'
import type { Signer, WireError } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import type { ForwardHandler } from './forwarding.js'
import { ProviderSession } from './provider-session.js'
import type { EnvelopeChecks } from './wire.js'

export interface TaskProviderInit {
  engine: TaskEngine
  signer: Signer
  /** How requests (and signed cancels) are verified. */
  checks: EnvelopeChecks
  /** The protocol minor a peer announced, if it did: results to peers at 2 or later share batch signatures. */
  peerMinor?(peer: string): number | undefined
  log: Logger
  maxFrameBytes: number
  /** Tasks one requester may have open on this node at once. */
  maxTasksPerPeer: number
  /**
   * Where the engine keeps served tasks' records: never holding the answer back for our disk
   * (`background`: the store, `memory`: the recent history only).
   */
  persist: 'background' | 'memory'
  /** Takes `task.forward` (run here or relayed); without it, forwards are refused. */
  forwarding?: ForwardHandler
  /** The access policy: undefined admits, an error refuses (`sender` on the stream, `requester` who signed). */
  admit?(sender: string, requester: string): WireError | undefined
}

/** Counters of the serving side, for health and benchmarks. */
export interface ProviderStats {
  readonly sessions: number
  readonly open: number
  readonly received: number
  readonly accepted: number
  readonly rejected: number
  readonly answered: number
}

/** The task protocol's stream handler and the sessions it serves. */
export class TaskProvider {
  readonly #init: TaskProviderInit
  readonly #sessions = new Set<ProviderSession>()
  #stopping = false
  readonly counters = { received: 0, accepted: 0, rejected: 0, answered: 0 }

  constructor(init: TaskProviderInit) {
    this.#init = init
  }

  /** The handler to register for `TASK_PROTOCOL`. */
  readonly handler: StreamHandler = (stream: Stream, connection: Connection) => {
    const session = new ProviderSession(this, this.#init, stream, connection.remotePeer.toString(), () =>
      this.#sessions.delete(session),
    )
    this.#sessions.add(session)
  }

  get stopping(): boolean {
    return this.#stopping
  }

  /** New requests are rejected with `ERR_SHUTTING_DOWN`; accepted ones still get their result. */
  stopAccepting(): void {
    this.#stopping = true
  }

  /** Resets every session (the engine's tasks for them are cancelled). */
  abortAll(reason: Error): void {
    for (const session of [...this.#sessions]) session.abort(reason)
  }

  stats(): ProviderStats {
    let open = 0
    for (const s of this.#sessions) open += s.open
    return { sessions: this.#sessions.size, open, ...this.counters }
  }
}
