/**
 * What the exchange knows about each peer (connection, announced capabilities, an estimate of
 * its load) and the routing decision built on it.
 *
 * Load estimate: a peer's announcement counts every task it runs or queues, ours included, as of
 * some moment shortly before it arrived. Subtracting the most of ours that were outstanding there
 * since the previous announcement leaves (a lower bound of) other requesters' load, which we
 * assume unchanged until the next announcement, while our own part is known exactly at any
 * moment. So `load = others + ours now`, fresh between announcements, and erring towards trying
 * a peer rather than skipping an idle one.
 */
import type { PeerId } from '@libp2p/interface'
import type { TaskEngine } from '@p2p-ai/engine'
import type { Capabilities } from '@p2p-ai/protocol'
import type { Choice, TaskSpec } from './attempt.js'
import type { ExchangePeer } from './exchange.js'
import type { ReputationBook } from './reputation.js'
import { type Candidate, pickCandidate } from './router.js'

/** Recent-dispatch counts (the routing tie-breaker) halve every this many milliseconds. */
const DISPATCH_HALF_LIFE_MS = 30_000

export interface PeerViewsInit {
  self: string
  engine: TaskEngine
  reputation: ReputationBook
  /** Tasks of this node outstanding on the peer right now. */
  outstanding(peer: string): number
  /** The most tasks of this node outstanding on the peer since the last call. */
  takePeak(peer: string): number
  /** Heartbeat round trip, if known. */
  rtt(peer: string): number | undefined
  /** Whether the access policy lets tasks go to the peer. @default every peer */
  allows?(peer: string): boolean
  /** Where to forward a task no connected peer (nor this node) runs (forwarding.ts). */
  route?(spec: TaskSpec, tried: ReadonlySet<string>): Choice | undefined
}

interface View {
  readonly peer: string
  peerId: PeerId | undefined
  connected: boolean
  /** Said goodbye: gets no new tasks until it connects again. */
  leaving: boolean
  capabilities: Capabilities | undefined
  /** Load of other requesters at the last announcement. */
  othersLoad: number
  dispatches: number
  dispatchesAt: number
}

const LOCAL: Choice = Object.freeze({ local: true })

export class PeerViews {
  readonly #init: PeerViewsInit
  readonly #views = new Map<string, View>()
  readonly #local: { dispatches: number; dispatchesAt: number } = { dispatches: 0, dispatchesAt: 0 }
  #localTypes: ReadonlySet<string> = new Set()

  constructor(init: PeerViewsInit) {
    this.#init = init
    this.refreshLocal()
  }

  /** Re-reads the task types this node's engine runs. */
  refreshLocal(): void {
    this.#localTypes = new Set(this.#init.engine.capabilities().taskTypes.map((t) => t.name))
  }

  connected(peerId: PeerId): void {
    const view = this.#view(peerId.toString())
    view.peerId = peerId
    view.connected = true
    view.leaving = false
  }

  disconnected(peer: string): void {
    const view = this.#views.get(peer)
    if (view === undefined) return
    view.connected = false
    // It re-announces when it comes back; until then what we knew may be stale.
    view.capabilities = undefined
  }

  leaving(peer: string): void {
    const view = this.#views.get(peer)
    if (view !== undefined) view.leaving = true
  }

  capabilities(peer: string, capabilities: Capabilities): void {
    const view = this.#view(peer)
    view.capabilities = capabilities
    const announced = capabilities.load.running + capabilities.load.queued
    view.othersLoad = Math.max(0, announced - this.#init.takePeak(peer))
  }

  /** Where the next attempt of `spec` goes, or undefined if nowhere fits right now. */
  choose(spec: TaskSpec, tried: ReadonlySet<string>): Choice | undefined {
    const { target } = spec
    if (target === 'local') {
      this.refreshLocal()
      return this.#localTypes.has(spec.type) ? LOCAL : undefined
    }
    if (target !== 'auto') {
      if (target === this.#init.self) return this.#localTypes.has(spec.type) ? LOCAL : undefined
      const view = this.#views.get(target)
      if (view?.peerId === undefined || !view.connected) return undefined
      // An explicit target is tried even with an open circuit; only a busy peer is waited for.
      const busyUntil = this.#init.reputation.get(target).busyUntil
      if (busyUntil !== undefined && busyUntil > Date.now()) return undefined
      return { local: false, peer: target, peerId: view.peerId }
    }
    const now = Date.now()
    const candidates: Candidate[] = []
    for (const view of this.#views.values()) {
      if (!view.connected || view.leaving || view.peerId === undefined || view.capabilities === undefined)
        continue
      if (!capable(view.capabilities, spec)) continue
      if (spec.exclude?.has(view.peer) === true || this.#init.allows?.(view.peer) === false) continue
      if (!this.#init.reputation.isAvailable(view.peer)) continue
      const reputation = this.#init.reputation.get(view.peer)
      candidates.push({
        peer: view.peer,
        concurrency: view.capabilities.concurrency,
        load: view.othersLoad + this.#init.outstanding(view.peer),
        latencyMs: reputation.latencyMs ?? this.#init.rtt(view.peer),
        score: reputation.score,
        recentDispatches: decayed(view.dispatches, view.dispatchesAt, now),
      })
    }
    if (spec.allowLocal && spec.modelSha256 === undefined && spec.exclude?.has(this.#init.self) !== true) {
      const caps = this.#init.engine.capabilities()
      if (caps.taskTypes.some((t) => t.name === spec.type)) {
        candidates.push({
          peer: this.#init.self,
          concurrency: caps.concurrency,
          load: caps.running + caps.queued,
          latencyMs: 0,
          score: 1,
          recentDispatches: decayed(this.#local.dispatches, this.#local.dispatchesAt, now),
        })
      }
    }
    if (candidates.length === 0) return this.#init.route?.(spec, tried)
    const fresh = candidates.filter((c) => !tried.has(c.peer))
    const picked = pickCandidate(fresh.length > 0 ? fresh : candidates)
    if (picked === undefined) return undefined
    if (picked.peer === this.#init.self) {
      bump(this.#local, now)
      return LOCAL
    }
    const view = this.#views.get(picked.peer) as View
    bump(view, now)
    return { local: false, peer: view.peer, peerId: view.peerId as PeerId }
  }

  list(): ExchangePeer[] {
    return [...this.#views.values()].map((view) => ({
      peerId: view.peer,
      connected: view.connected,
      ...(view.capabilities === undefined ? {} : { capabilities: view.capabilities }),
      outstanding: this.#init.outstanding(view.peer),
      reputation: this.#init.reputation.get(view.peer),
    }))
  }

  #view(peer: string): View {
    let view = this.#views.get(peer)
    if (view === undefined) {
      view = {
        peer,
        peerId: undefined,
        connected: false,
        leaving: false,
        capabilities: undefined,
        othersLoad: 0,
        dispatches: 0,
        dispatchesAt: Date.now(),
      }
      this.#views.set(peer, view)
    }
    return view
  }
}

/** Whether the announced capabilities cover the task: its type, and the model if it names one. */
export function capable(caps: Capabilities, spec: Pick<TaskSpec, 'type' | 'input' | 'modelSha256'>): boolean {
  if (!caps.taskTypes.includes(spec.type)) return false
  const models = caps.models.filter((m) => m.taskTypes.includes(spec.type))
  if (spec.modelSha256 !== undefined && !models.some((m) => m.sha256 === spec.modelSha256)) return false
  // A task that names a model goes to peers that have it; a peer that lists no models for the
  // type either needs none or fetches them itself.
  const model = (spec.input as { model?: unknown }).model
  if (typeof model === 'string' && models.length > 0 && !models.some((m) => m.id === model)) return false
  return true
}

function decayed(count: number, at: number, now: number): number {
  return count === 0 ? 0 : count * 0.5 ** ((now - at) / DISPATCH_HALF_LIFE_MS)
}

function bump(entry: { dispatches: number; dispatchesAt: number }, now: number): void {
  entry.dispatches = decayed(entry.dispatches, entry.dispatchesAt, now) + 1
  entry.dispatchesAt = now
}
