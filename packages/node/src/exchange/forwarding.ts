/**
 * Forwarding (docs/protocol.md §2.5): tasks for peers this node is not connected to.
 *
 * - **Reach.** From its neighbours' announcements this node computes which task types it can get
 *   run by forwarding and how many links away (distance-vector, with split horizon: a neighbour's
 *   route that goes through this node is ignored), and announces them as `capabilities.reach`.
 * - **Requesting.** When no connected peer (nor this node) runs a task type, `route` picks the
 *   neighbour that reaches it in the fewest hops within the task's `maxHops`; the task then goes
 *   out as a `task.forward` wrapping its signed request.
 * - **Relaying.** A `task.forward` for a type this node does not run is passed on (`relay`) to the
 *   neighbour with the shortest route, not on the route so far and within the remaining `ttl`;
 *   its accept, progress, reject and verified result travel back unchanged.
 *
 * Only peers that announced protocol minor ≥ 1 count as neighbours here: others cannot read a
 * `task.forward`. The access policy applies to every hop chosen.
 */
import type { PeerId } from '@libp2p/interface'
import {
  type Capabilities,
  encodeJsonFrame,
  MAX_FORWARD_HOPS,
  MAX_TASK_TYPES,
  type OpenedForward,
  type ReachEntry,
  type Signer,
  sealForward,
  TASK_ERROR_CODES,
  type WireError,
} from '@p2p-ai/protocol'
import type { Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import type { AccessPolicy } from './access-policy.js'
import { blame, type Choice, codeOf, type TaskSpec } from './attempt.js'
import { RELAY_ID_BUSY_RETRY_AFTER_MS, RESULT_GRACE_MS, ROUTE_REFUSED_MS } from './constants.js'
import type { ExchangePeer } from './exchange.js'
import type { ReputationBook } from './reputation.js'
import type { PendingAttempt, TaskRequester } from './requester.js'
import { type Candidate, pickCandidate } from './router.js'
import { rejectVerdict, transportVerdict } from './wire.js'

/** The first protocol minor version that knows `task.forward` and `reach`. */
export const FORWARDING_MINOR = 1

export interface ForwardingInit {
  self: string
  signer: Signer
  transport: Transport
  requester: TaskRequester
  reputation: ReputationBook
  policy: AccessPolicy
  log: Logger
  /** The peers the exchange knows, with their announcements. */
  neighbours(): readonly ExchangePeer[]
  /** Whether this node's engine runs the task type. */
  runsLocally(type: string): boolean
  /** Links a task of this node may travel; also the longest route announced. */
  maxHops: number
  /** Whether this node passes on tasks it cannot run itself (and announces reach). */
  relay: boolean
  acceptTimeoutMs: number
  maxFrameBytes: number
}

/** Where a forwarded task's answers go: the previous hop's conversation (a provider session). */
export interface RelayUpstream {
  accept(queuePosition: number | undefined): void
  progress(progress: number, message: string | undefined): void
  reject(error: WireError, retryAfterMs?: number): void
  /** The provider's result, verified here, to pass back unchanged (the decoded envelope). */
  result(envelope: unknown): void
  /** The next hop failed after accepting: end the conversation with this node's own failed result. */
  fail(error: WireError): void
}

/** What a provider session needs to take `task.forward` (the exchange builds it on `Forwarding`). */
export interface ForwardHandler {
  /** Verifies a `task.forward` from the stream's peer `sender` (docs/protocol.md §2.5, checks 1–5). */
  open(value: unknown, sender: string): OpenedForward
  /** Whether this node runs the task type itself (then it is the provider, not a relay). */
  runsLocally(type: string): boolean
  relay(opened: OpenedForward, upstream: RelayUpstream): RelayHandle
}

/** A task being relayed. */
export interface RelayHandle {
  /** Stops relaying: the next hop is told to cancel, its answers are ignored. */
  cancel(reason: string): void
}

/** A neighbour through which a task type can be reached. */
interface Hop {
  readonly peer: string
  readonly peerId: PeerId
  /** Links from this node to the provider through this neighbour (1: the neighbour runs it). */
  readonly hops: number
}

/** Reach, routes and relaying for one exchange. */
export class Forwarding {
  readonly #init: ForwardingInit
  /** Relayed tasks by `<next hop> <task id>`: one conversation per id on a stream. */
  readonly #relaying = new Set<string>()
  /**
   * `<peer> <task type>` → the announcement that was current when the peer refused to forward that
   * type (`ERR_NO_ROUTE`, `ERR_TTL_EXPIRED`), and when: its reach was stale. The peer is skipped for
   * the type until it announces again or `ROUTE_REFUSED_MS` passed, rather than retried at once on
   * the same stale route.
   */
  readonly #refused = new Map<string, { caps: Capabilities; until: number }>()

  constructor(init: ForwardingInit) {
    this.#init = init
  }

  /** Whether this node passes on forwarded tasks it cannot run. */
  get relaying(): boolean {
    return this.#init.relay
  }

  /**
   * What this node announces as `capabilities.reach`: for each task type it does not run but a
   * neighbour runs or reaches, the fewest links to a provider and the neighbour on that way.
   * Empty when relaying is off.
   */
  reach(): ReachEntry[] {
    if (!this.#init.relay) return []
    const best = new Map<string, ReachEntry>()
    for (const [type, hop] of this.#allHops()) {
      if (hop.hops > this.#init.maxHops || this.#init.runsLocally(type)) continue
      const known = best.get(type)
      if (known === undefined || hop.hops < known.hops || (hop.hops === known.hops && hop.peer < known.via)) {
        best.set(type, { taskType: type, hops: hop.hops, via: hop.peer })
      }
    }
    return [...best.values()]
      .sort((a, b) => a.hops - b.hops || (a.taskType < b.taskType ? -1 : 1))
      .slice(0, MAX_TASK_TYPES)
      .sort((a, b) => (a.taskType < b.taskType ? -1 : 1))
  }

  /**
   * For `submit`: the neighbour to send a `task.forward` to when nobody connected runs the task
   * type, or undefined. Only forwards (2 hops or more) within `spec.maxHops`; neighbours the task
   * already failed through come last.
   */
  route(spec: TaskSpec, tried: ReadonlySet<string>): Choice | undefined {
    if (spec.maxHops < 2 || spec.modelSha256 !== undefined) return undefined
    const hops = this.#hops(spec.type, (peer) => spec.exclude?.has(peer) === true).filter(
      (h) => h.hops >= 2 && h.hops <= spec.maxHops,
    )
    const fresh = hops.filter((h) => !tried.has(h.peer))
    const hop = this.#pick(fresh.length > 0 ? fresh : hops)
    return hop === undefined ? undefined : { local: false, peer: hop.peer, peerId: hop.peerId, forward: true }
  }

  /**
   * Passes a verified `task.forward` this node cannot run on to the best next hop and wires its
   * answers to `upstream`. Refusals (no hops left, no route, relaying off) go to `upstream.reject`
   * at once; the handle is then inert.
   */
  relay(opened: OpenedForward, upstream: RelayUpstream): RelayHandle {
    const inert: RelayHandle = { cancel: () => {} }
    const request = opened.request.envelope.payload
    if (!this.#init.relay) {
      upstream.reject({ code: TASK_ERROR_CODES.noRoute, message: 'this node does not relay tasks' })
      return inert
    }
    const onRoute = new Set(opened.route)
    const all = this.#hops(request.taskType, (peer) => onRoute.has(peer))
    const within = all.filter((h) => h.hops <= opened.ttl)
    const next = this.#pick(within)
    if (next === undefined) {
      const code = all.length > 0 || opened.ttl === 0 ? TASK_ERROR_CODES.ttlExpired : TASK_ERROR_CODES.noRoute
      const message =
        code === TASK_ERROR_CODES.noRoute
          ? `no route from ${this.#init.self} to a node that runs "${request.taskType}"`
          : `"${request.taskType}" is more than ${opened.ttl} hops from ${this.#init.self}`
      upstream.reject({ code, message })
      return inert
    }
    const key = `${next.peer} ${request.id}`
    if (this.#relaying.has(key)) {
      upstream.reject(
        {
          code: TASK_ERROR_CODES.busy,
          message: `task ${request.id} is already being relayed to ${next.peer}`,
        },
        RELAY_ID_BUSY_RETRY_AFTER_MS,
      )
      return inert
    }
    let frame: Uint8Array
    try {
      const forward = sealForward(this.#init.signer, opened.request.envelope, opened.ttl - 1, opened.route)
      frame = encodeJsonFrame(forward.json, { maxFrameBytes: this.#init.maxFrameBytes })
    } catch (err) {
      upstream.reject({ code: codeOf(err), message: (err as Error).message })
      return inert
    }
    this.#relaying.add(key)
    const sentAt = performance.now()
    const { reputation } = this.#init
    const done = (): void => {
      this.#relaying.delete(key)
    }
    const attempt: PendingAttempt = {
      taskId: request.id,
      peer: next.peer,
      request: opened.request,
      frame,
      forwarded: true,
      acceptBy: sentAt + this.#init.acceptTimeoutMs,
      resultBy: sentAt + request.timeoutMs + RESULT_GRACE_MS,
      accepted: false,
      accept: (payload) => upstream.accept(payload.queuePosition),
      progress: (payload) => upstream.progress(payload.progress, payload.message),
      reject: (payload) => {
        done()
        const code = payload.error.code
        if (code === TASK_ERROR_CODES.noRoute || code === TASK_ERROR_CODES.ttlExpired) {
          this.routeRefused(next.peer, request.taskType)
        }
        blame(reputation, next.peer, rejectVerdict(code), payload.retryAfterMs)
        upstream.reject(payload.error, payload.retryAfterMs)
      },
      result: (result, signed) => {
        done()
        reputation.recordSuccess(next.peer, performance.now() - sentAt - result.timings.totalMs)
        upstream.result(signed.value)
      },
      fail: (error) => {
        done()
        const code = codeOf(error)
        blame(reputation, next.peer, transportVerdict(code), undefined)
        const wire = { code, message: error.message.slice(0, 1024) }
        if (attempt.accepted) upstream.fail(wire)
        else upstream.reject(wire)
      },
    }
    reputation.dispatched(next.peer)
    this.#init.requester.send(next.peerId, attempt)
    return {
      cancel: (reason) => {
        done()
        this.#init.requester.withdraw(attempt, true, reason)
      },
    }
  }

  /** A neighbour refused to forward a task of `type`: its current announcement is stale for it. */
  routeRefused(peer: string, type: string): void {
    const caps = this.#init.neighbours().find((n) => n.peerId === peer)?.capabilities
    if (caps === undefined) return
    const now = performance.now()
    for (const [key, mark] of this.#refused) if (mark.until <= now) this.#refused.delete(key)
    this.#refused.set(`${peer} ${type}`, { caps, until: now + ROUTE_REFUSED_MS })
  }

  /** Whether `peer` refused `type` under the announcement `caps`, recently. */
  #isRefused(peer: string, type: string, caps: Capabilities): boolean {
    const mark = this.#refused.get(`${peer} ${type}`)
    return mark !== undefined && mark.caps === caps && mark.until > performance.now()
  }

  /** Usable neighbours for `type`, with the links to a provider through each. */
  #hops(type: string, skip: (peer: string) => boolean): Hop[] {
    const hops: Hop[] = []
    const ids = this.#peerIds()
    for (const n of this.#init.neighbours()) {
      const hop = this.#hopVia(n, type, ids)
      if (hop !== undefined && !skip(hop.peer)) hops.push(hop)
    }
    return hops
  }

  /** Every (task type, hop) pair the neighbours offer. */
  *#allHops(): Generator<[string, Hop]> {
    const ids = this.#peerIds()
    for (const n of this.#init.neighbours()) {
      const caps = n.capabilities
      if (caps === undefined) continue
      const types = new Set([...caps.taskTypes, ...(caps.reach ?? []).map((r) => r.taskType)])
      for (const type of types) {
        const hop = this.#hopVia(n, type, ids)
        if (hop !== undefined) yield [type, hop]
      }
    }
  }

  #hopVia(n: ExchangePeer, type: string, ids: ReadonlyMap<string, PeerId>): Hop | undefined {
    const caps = n.capabilities
    const peerId = ids.get(n.peerId)
    if (!n.connected || caps === undefined || peerId === undefined) return undefined
    if (caps.protocolMinor < FORWARDING_MINOR) return undefined
    if (!this.#init.policy.allows(n.peerId) || !this.#init.reputation.isAvailable(n.peerId)) return undefined
    let distance: number | undefined
    if (caps.taskTypes.includes(type)) distance = 0
    else {
      // Split horizon: a route through this node is no route for this node.
      const entry = caps.reach?.find((r) => r.taskType === type && r.via !== this.#init.self)
      distance = entry?.hops
    }
    if (distance === undefined || distance + 1 > MAX_FORWARD_HOPS) return undefined
    if (distance > 0 && this.#isRefused(n.peerId, type, caps)) return undefined
    return { peer: n.peerId, peerId, hops: distance + 1 }
  }

  #peerIds(): Map<string, PeerId> {
    const ids = new Map<string, PeerId>()
    for (const c of this.#init.transport.getConnections()) {
      if (c.status === 'open') ids.set(c.remotePeer.toString(), c.remotePeer)
    }
    return ids
  }

  /** The fewest hops win; among those, routing's usual cost (our load there, latency, reputation). */
  #pick(hops: readonly Hop[]): Hop | undefined {
    if (hops.length === 0) return undefined
    const fewest = Math.min(...hops.map((h) => h.hops))
    const shortest = hops.filter((h) => h.hops === fewest)
    const { reputation, requester } = this.#init
    const candidates: Candidate[] = shortest.map((h) => {
      const rep = reputation.get(h.peer)
      return {
        peer: h.peer,
        concurrency: 1,
        load: requester.outstanding(h.peer),
        latencyMs: rep.latencyMs,
        score: rep.score,
        recentDispatches: 0,
      }
    })
    const picked = pickCandidate(candidates)
    return shortest.find((h) => h.peer === picked?.peer)
  }
}
