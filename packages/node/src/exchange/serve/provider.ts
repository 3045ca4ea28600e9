/**
 * The serving side of the task protocol: every inbound task stream becomes a session that
 * verifies signed requests, runs them on the engine (or relays forwarded ones it cannot run) and
 * answers each with accept or reject, progress and a signed result, for any number of concurrent
 * tasks on the one stream (docs/protocol.md §2.3).
 *
 * Engine task ids are `<requester PeerId>:<task id>`: a retry of the same task by the same
 * requester (after a failover, on a new stream, through another route) joins the run the engine
 * already has instead of running it again, and no requester can reach another one's task by
 * guessing its id.
 */
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'
import type { TaskEngine } from '@p2p-ai/engine'
import type { Signer, WireError } from '@p2p-ai/protocol'
import type { Logger } from 'pino'
import type { ContentService } from '../../content/types.js'
import type { PeerDirectory } from '../../peers/directory.js'
import type { TaskTracer } from '../../tracing/task-tracer.js'
import type { ProtocolTraffic } from '../../traffic.js'
import type { ExchangeReports } from '../events.js'
import type { AttemptLauncher } from '../request/launcher.js'
import type { Router } from '../route/router.js'
import type { EnvelopeChecks } from '../trust/checks.js'
import type { Admission } from './admission.js'
import { ProviderSession } from './session.js'

/** Records read at a time when handing tasks back. */
const HAND_BACK_PAGE = 1_000

export interface TaskProviderInit {
  self: string
  engine: TaskEngine
  signer: Signer
  /** How requests (and signed cancels) are verified. */
  checks: EnvelopeChecks
  /** The protocol minor of each peer: results to peers at 2 or later share batch signatures. */
  directory: PeerDirectory
  log: Logger
  maxFrameBytes: number
  /** Per-peer limits: input size, rate, open tasks (admission.ts). */
  admission: Admission
  /**
   * Where the engine keeps served tasks' records: never holding the answer back for our disk
   * (`background`: the store, `memory`: the recent history only).
   */
  persist: 'background' | 'memory'
  /** What this node runs, and where forwarded tasks it does not run go next. */
  router: Router
  /** Starts the attempts of tasks this node relays. */
  launcher: AttemptLauncher
  /** The access policy: undefined admits, an error refuses (`sender` on the stream, `requester` who signed). */
  admit(sender: string, requester: string): WireError | undefined
  /** Records a `serve` or `relay` span per task received, with `queue` and `run` under it. */
  tracer?: TaskTracer | undefined
  /** Inputs sent by CID are fetched, and large outputs stored, through it (docs/protocol.md §2.9). */
  content?: ContentService
  /** Where refusals are reported. */
  reports?: ExchangeReports
  /** Where the task protocol's inbound streams count their frames. */
  traffic?: ProtocolTraffic
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
  readonly init: TaskProviderInit
  readonly #sessions = new Set<ProviderSession>()
  #stopping = false
  readonly counters = { received: 0, accepted: 0, rejected: 0, answered: 0 }
  /** Tasks being relayed, by `<next hop> <task id>`: one conversation per id on a stream. */
  readonly relaying = new Set<string>()
  #paused: string | undefined

  constructor(init: TaskProviderInit) {
    this.init = init
  }

  /** The handler to register for `TASK_PROTOCOL`. */
  readonly handler: StreamHandler = (stream: Stream, connection: Connection) => {
    const session = new ProviderSession(this, stream, connection.remotePeer.toString())
    this.#sessions.add(session)
  }

  /** A session's stream is gone. */
  ended(session: ProviderSession): void {
    this.#sessions.delete(session)
  }

  get stopping(): boolean {
    return this.#stopping
  }

  /** New requests are rejected with `ERR_SHUTTING_DOWN`; accepted ones still get their result. */
  stopAccepting(): void {
    this.#stopping = true
  }

  /** Why this node takes no tasks to run now (`pause`), or undefined. Forwarding goes on. */
  get paused(): string | undefined {
    return this.#paused
  }

  /** New requests to run here are rejected with `ERR_BUSY` saying `reason`, until `resume()`. */
  pause(reason: string): void {
    this.#paused = reason
  }

  resume(): void {
    this.#paused = undefined
  }

  /**
   * Hands peers' tasks back to their requesters: cancels them on the engine with `reason`, which
   * their conversations answer as a failed result (`ERR_BUSY` on the wire, so requesters try
   * another peer), keeping no record, so that the same task sent here again later runs anew.
   * `queued`: only those not started yet; `all`: running ones too. This node's own tasks are left
   * alone. Returns how many were handed back.
   */
  handBack(which: 'queued' | 'all', reason: () => Error): number {
    const { engine, self } = this.init
    let count = 0
    for (const status of which === 'all' ? (['QUEUED', 'RUNNING'] as const) : (['QUEUED'] as const)) {
      for (let offset = 0; ; ) {
        const page = engine.list({ status, limit: HAND_BACK_PAGE, offset, output: false })
        let kept = 0
        for (const record of page) {
          const requester = record.meta?.requester
          if (
            requester === undefined ||
            requester === self ||
            !engine.cancel(record.id, { reason: reason(), forget: true })
          )
            kept++
          else count++
        }
        if (page.length < HAND_BACK_PAGE) break
        offset += kept
      }
    }
    return count
  }

  stats(): ProviderStats {
    let open = 0
    for (const s of this.#sessions) open += s.open
    return { sessions: this.#sessions.size, open, ...this.counters }
  }
}
