/**
 * The router: where each attempt of a task goes, read from the peer directory. One decision for
 * every kind of route:
 *
 * - **local**: this node's engine runs the task type (and has the model asked for);
 * - **direct**: a connected peer announced the task type (and model): the task goes to it as a
 *   signed `task.request`;
 * - **forward**: nobody connected runs it, but a neighbour reaches a node that does within the
 *   task's hop budget (its announced `reach`): the task goes to it as a `task.forward`
 *   (docs/protocol.md §2.5).
 *
 * Among direct candidates (and this node), routing's cost decides (cost.ts): free slots first,
 * then load, latency and reputation, with ties spread evenly. Forwards go the fewest hops first.
 *
 * The kind of connection counts: a peer reached only through a circuit relay (a limited
 * connection) is a candidate for small tasks only (`relayedMaxBytes`, the request's input as
 * JSON), at a higher cost; larger tasks wait for a direct connection, which hole punching may
 * bring, or go to a peer that has one.
 * The router also computes what this node announces as reachable (`reach`) and picks the next hop
 * of a task it relays.
 */
import type { PeerId } from '@libp2p/interface'
import type { TaskEngine } from '@p2p-ai/engine'
import {
  CONTENT_MINOR,
  type ContentRef,
  MAX_FORWARD_HOPS,
  MAX_TASK_TYPES,
  type ReachEntry,
  TASK_ERROR_CODES,
  type WireError,
} from '@p2p-ai/protocol'
import { decayed, type PeerDirectory, type PeerRecord } from '../../peers/directory.js'
import { DEFAULT_RELAYED_TASK_MAX_BYTES } from '../constants.js'
import type { AccessPolicy } from '../trust/access-policy.js'
import type { ModelRequirement } from '../types.js'
import { type Candidate, pickCandidate } from './cost.js'

/** The first protocol minor version that knows `task.forward` and `reach`. */
export const FORWARDING_MINOR = 1
/** How long what the engine runs is trusted before it is read again (forwards ask on every request). */
const LOCAL_TYPES_TTL_MS = 250

/** Where an attempt goes. */
export type Route =
  | { readonly kind: 'local' }
  | { readonly kind: 'direct'; readonly peer: string; readonly peerId: PeerId }
  | {
      readonly kind: 'forward'
      /** The neighbour the `task.forward` goes to. */
      readonly peer: string
      readonly peerId: PeerId
      /** Links to the provider, this one included (2 or more). */
      readonly hops: number
    }

const LOCAL: Route = Object.freeze({ kind: 'local' })

/** What routing needs to know of a task. */
export interface RouteSpec {
  readonly type: string
  readonly input: Readonly<Record<string, unknown>>
  /** `'auto'`, `'local'` or a PeerId. */
  readonly target: string
  readonly allowLocal: boolean
  readonly modelSha256: string | undefined
  /** What the model must be (family, quantization, context length), as providers announce it. */
  readonly model?: ModelRequirement | undefined
  /** Links the task may travel (1: connected peers only). */
  readonly maxHops: number
  /** Providers this task must not use (the other replicas' of a redundant run). */
  readonly exclude?: ReadonlySet<string>
  /** The request is too large for a task frame: only this node can run it. */
  readonly localOnly?: boolean
  /**
   * Its input travels by CID (docs/protocol.md §2.9): only to peers that take content of its size,
   * never through a relay.
   */
  readonly inputRef?: ContentRef | undefined
}

/** A neighbour through which a task type can be reached. */
export interface Hop {
  readonly peer: string
  readonly peerId: PeerId
  /** Links from this node to the provider through this neighbour (1: the neighbour runs it). */
  readonly hops: number
}

export interface RouterInit {
  self: string
  directory: PeerDirectory
  engine: TaskEngine
  policy: AccessPolicy
  /** The longest route this node announces (its own tasks' hop budget). */
  maxHops: number
  /** Whether this node relays forwarded tasks it cannot run (and announces `reach`). */
  relay: boolean
  /**
   * Whether this node could fetch the model the task names from a peer and then run it
   * (`models.autoFetch`): this node counts as capable of the task's type then.
   */
  fetchableModel?: (spec: RouteSpec) => boolean
  /** Largest input (as JSON) sent over a relayed connection. @default DEFAULT_RELAYED_TASK_MAX_BYTES */
  relayedMaxBytes?: number
}

/** This node as routing sees it: whether it takes tasks now, and how busy its owner keeps it. */
export interface LocalAvailability {
  /** Paused (its owner's limits): its own tasks go to peers while any can run them. */
  readonly paused: boolean
  /** Share of this machine (0 to 1) its owner's other processes use. */
  readonly othersCpu: number
}

export class Router {
  readonly #init: RouterInit
  #local: LocalAvailability = { paused: false, othersCpu: 0 }
  #localTypes: ReadonlySet<string> = new Set()
  #localTypeList: readonly string[] = []
  #localModels: readonly AnnouncedModel[] = []
  #localReadAt = Number.NEGATIVE_INFINITY
  #localDispatches = 0
  #localDispatchesAt = 0
  readonly #relayedMaxBytes: number
  /** Input sizes, measured once per task (a task's attempts share its input object). */
  readonly #inputBytes = new WeakMap<object, number>()

  constructor(init: RouterInit) {
    this.#init = init
    this.#relayedMaxBytes = init.relayedMaxBytes ?? DEFAULT_RELAYED_TASK_MAX_BYTES
  }

  /** Whether this node relays forwarded tasks it cannot run. */
  get relaying(): boolean {
    return this.#init.relay
  }

  /** This node's availability changed (a pause, a new reading of its machine). */
  setLocal(local: LocalAvailability): void {
    this.#local = local
  }

  /** What the engine runs changed (a task type registered or removed): read it again now. */
  localChanged(): void {
    this.#localReadAt = Number.NEGATIVE_INFINITY
  }

  /** Whether this node's engine runs `type`. */
  runsLocally(type: string): boolean {
    this.#readLocal()
    return this.#localTypes.has(type)
  }

  /**
   * Where the next attempt of `spec` goes, or undefined if nowhere fits right now. `tried` are the
   * peers (and this node) earlier attempts used: others come first while there are any.
   */
  choose(spec: RouteSpec, tried: ReadonlySet<string>): Route | undefined {
    const { target } = spec
    const self = this.#init.self
    if (target === 'local' || target === self) return this.#localCapable(spec) ? LOCAL : undefined
    if (spec.localOnly === true) {
      return target === 'auto' && spec.allowLocal && this.#localCapable(spec) ? LOCAL : undefined
    }
    const directory = this.#init.directory
    if (target !== 'auto') {
      const record = directory.record(target)
      if (record === undefined || record.status !== 'connected' || !this.#carries(record, spec))
        return undefined
      // An explicit target is tried even with an open circuit; only a busy peer is waited for.
      const busyUntil = directory.book.get(target).busyUntil
      if (busyUntil !== undefined && busyUntil > Date.now()) return undefined
      return { kind: 'direct', peer: target, peerId: record.id }
    }
    const now = Date.now()
    const { candidates, naming } = this.#candidates(spec, now)
    if (candidates.length === 0) return this.#forward(spec, tried)
    const fitting = naming.size > 0 ? candidates.filter((c) => naming.has(c.peer)) : candidates
    const fresh = fitting.filter((c) => !tried.has(c.peer))
    const picked = pickCandidate(fresh.length > 0 ? fresh : fitting)
    if (picked === undefined) return undefined
    if (picked.peer === self) {
      this.#localDispatches = decayed(this.#localDispatches, this.#localDispatchesAt, now) + 1
      this.#localDispatchesAt = now
      return LOCAL
    }
    directory.noteDispatch(picked.peer, now)
    return { kind: 'direct', peer: picked.peer, peerId: (directory.record(picked.peer) as PeerRecord).id }
  }

  /**
   * How many more tasks like `spec` (with `target: 'auto'`) could go out now, counting `depth`
   * queued beyond each provider's concurrency: the sum, over the connected peers that would be
   * chosen and this node, of `concurrency + depth − load` (load: everyone's tasks there, this
   * node's own included). A caller that keeps many tasks in flight (a job) sends while this is
   * positive, so each provider gets as many as it has free slots and no more. `reachable`: some
   * route exists at all, a forward included (which has no known capacity: keep one in flight).
   */
  capacity(spec: RouteSpec, depth: number): { readonly free: number; readonly reachable: boolean } {
    const { candidates, naming } = this.#candidates(spec, Date.now())
    if (candidates.length === 0) {
      return { free: 0, reachable: spec.localOnly !== true && this.#forwardable(spec) }
    }
    let free = 0
    for (const c of candidates) {
      if (naming.size > 0 && !naming.has(c.peer)) continue
      free += Math.max(0, c.concurrency + depth - c.load)
    }
    return { free, reachable: true }
  }

  /** Everyone who could run `spec` now, as routing's cost sees them, and who names its model. */
  #candidates(spec: RouteSpec, now: number): { candidates: Candidate[]; naming: Set<string> } {
    const { self, directory } = this.#init
    const candidates: Candidate[] = []
    // Candidates that announce the model the task names, by name: they beat those that list no
    // model for the type (which may need none, or may not have this one).
    const naming = new Set<string>()
    if (spec.localOnly === true) {
      if (spec.allowLocal && this.#localCapable(spec)) candidates.push(this.#localCandidate(now))
      return { candidates, naming }
    }
    for (const record of directory.connected()) {
      const caps = record.capabilities
      if (caps === undefined || caps.resources?.paused === true || !capable(caps, spec)) continue
      if (!this.#carries(record, spec) || !this.#usable(record.peer, spec.exclude)) continue
      if (namesModel(caps, spec)) naming.add(record.peer)
      candidates.push({
        peer: record.peer,
        concurrency: caps.concurrency,
        load: record.othersLoad + record.outstanding,
        latencyMs: directory.book.get(record.peer).latencyMs ?? record.rttMs,
        score: directory.book.get(record.peer).score,
        recentDispatches: directory.recentDispatches(record.peer, now),
        relayed: record.connection?.limited === true,
        ...(caps.resources === undefined
          ? {}
          : { othersCpu: Math.max(0, caps.resources.cpu - caps.resources.nodeCpu) / 100 }),
      })
    }
    // A paused node runs its own tasks itself only when no peer can.
    const local = this.#local
    if (
      spec.allowLocal &&
      spec.exclude?.has(self) !== true &&
      (!local.paused || candidates.length === 0) &&
      this.#localCapable(spec)
    ) {
      if (namesModel({ models: this.#localModels }, spec)) naming.add(self)
      candidates.push(this.#localCandidate(now))
    }
    return { candidates, naming }
  }

  #localCandidate(now: number): Candidate {
    const load = this.#init.engine.load()
    return {
      peer: this.#init.self,
      concurrency: load.concurrency,
      load: load.running + load.queued,
      latencyMs: 0,
      score: 1,
      recentDispatches: decayed(this.#localDispatches, this.#localDispatchesAt, now),
      othersCpu: this.#local.othersCpu,
    }
  }

  /** Whether some neighbour reaches `spec`'s type within its hop budget (see `#forward`). */
  #forwardable(spec: RouteSpec): boolean {
    if (spec.maxHops < 2 || spec.modelSha256 !== undefined || spec.model !== undefined) return false
    return this.#hops(spec.type, (peer) => spec.exclude?.has(peer) === true).some(
      (h) => h.hops >= 2 && h.hops <= spec.maxHops,
    )
  }

  /**
   * What this node announces as `capabilities.reach`: for each task type it does not run but a
   * neighbour runs or reaches, the fewest links to a provider and the neighbour on that way.
   * Empty when relaying is off.
   */
  reach(): ReachEntry[] {
    if (!this.#init.relay) return []
    const best = new Map<string, ReachEntry>()
    for (const record of this.#init.directory.connected()) {
      const caps = record.capabilities
      if (caps === undefined) continue
      for (const type of new Set([...caps.taskTypes, ...(caps.reach ?? []).map((r) => r.taskType)])) {
        const hop = this.#hopVia(record, type)
        if (hop === undefined || hop.hops > this.#init.maxHops || this.runsLocally(type)) continue
        const known = best.get(type)
        if (
          known === undefined ||
          hop.hops < known.hops ||
          (hop.hops === known.hops && hop.peer < known.via)
        ) {
          best.set(type, { taskType: type, hops: hop.hops, via: hop.peer })
        }
      }
    }
    return [...best.values()]
      .sort((a, b) => a.hops - b.hops || (a.taskType < b.taskType ? -1 : 1))
      .slice(0, MAX_TASK_TYPES)
      .sort((a, b) => (a.taskType < b.taskType ? -1 : 1))
  }

  /**
   * The next hop of a forwarded task of `type` this node cannot run: a neighbour not on `route`
   * that runs it or reaches it within `ttl` more links, the fewest first (over a relayed
   * connection only for an `input` small enough). A refusal otherwise:
   * `ERR_TTL_EXPIRED` when a route exists but is too long (or no hops are left), `ERR_NO_ROUTE`
   * when none does, or relaying is off.
   */
  nextHop(type: string, ttl: number, route: readonly string[], input?: object): Hop | WireError {
    const self = this.#init.self
    if (!this.#init.relay)
      return { code: TASK_ERROR_CODES.noRoute, message: 'this node does not relay tasks' }
    const onRoute = new Set(route)
    const all = this.#hops(
      type,
      (peer) => onRoute.has(peer),
      input === undefined ? undefined : this.#bytesOf(input),
    )
    const next = this.#pickHop(all.filter((h) => h.hops <= ttl))
    if (next !== undefined) return next
    if (all.length > 0 || ttl === 0) {
      return { code: TASK_ERROR_CODES.ttlExpired, message: `"${type}" is more than ${ttl} hops from ${self}` }
    }
    return { code: TASK_ERROR_CODES.noRoute, message: `no route from ${self} to a node that runs "${type}"` }
  }

  /** A forward to a neighbour that reaches the task type within the task's hop budget, or undefined. */
  #forward(spec: RouteSpec, tried: ReadonlySet<string>): Route | undefined {
    // A relay cannot be asked for a model it cannot see: only direct providers are checked.
    // Content by CID is fetched over the requester's own connection: it never goes through a relay.
    if (
      spec.maxHops < 2 ||
      spec.modelSha256 !== undefined ||
      spec.model !== undefined ||
      spec.inputRef !== undefined
    )
      return undefined
    const hops = this.#hops(
      spec.type,
      (peer) => spec.exclude?.has(peer) === true,
      this.#bytesOf(spec.input),
    ).filter((h) => h.hops >= 2 && h.hops <= spec.maxHops)
    const fresh = hops.filter((h) => !tried.has(h.peer))
    const hop = this.#pickHop(fresh.length > 0 ? fresh : hops)
    if (hop === undefined) return undefined
    this.#init.directory.noteDispatch(hop.peer, Date.now())
    return { kind: 'forward', peer: hop.peer, peerId: hop.peerId, hops: hop.hops }
  }

  /**
   * Usable neighbours for `type`, with the links to a provider through each; with `bytes` (the
   * size of what goes to them), only those whose connection carries that much.
   */
  #hops(type: string, skip: (peer: string) => boolean, bytes?: number): Hop[] {
    const hops: Hop[] = []
    for (const record of this.#init.directory.connected()) {
      if (bytes !== undefined && record.connection?.limited === true && bytes > this.#relayedMaxBytes)
        continue
      const hop = this.#hopVia(record, type)
      if (hop !== undefined && !skip(hop.peer)) hops.push(hop)
    }
    return hops
  }

  #hopVia(record: PeerRecord, type: string): Hop | undefined {
    const caps = record.capabilities
    if (caps === undefined || caps.protocolMinor < FORWARDING_MINOR) return undefined
    if (!this.#usable(record.peer, undefined)) return undefined
    let distance: number | undefined
    // A paused neighbour still relays, but runs nothing itself.
    if (caps.taskTypes.includes(type) && caps.resources?.paused !== true) distance = 0
    else {
      // Split horizon: a route through this node is no route for this node.
      distance = caps.reach?.find((r) => r.taskType === type && r.via !== this.#init.self)?.hops
    }
    if (distance === undefined || distance + 1 > MAX_FORWARD_HOPS) return undefined
    if (distance > 0 && this.#init.directory.routeRefused(record.peer, type)) return undefined
    return { peer: record.peer, peerId: record.id, hops: distance + 1 }
  }

  /** The fewest hops win; among those, routing's usual cost (our load there, latency, reputation). */
  #pickHop(hops: readonly Hop[]): Hop | undefined {
    if (hops.length === 0) return undefined
    const fewest = Math.min(...hops.map((h) => h.hops))
    const shortest = hops.filter((h) => h.hops === fewest)
    const directory = this.#init.directory
    const picked = pickCandidate(
      shortest.map((h) => {
        const rep = directory.book.get(h.peer)
        return {
          peer: h.peer,
          concurrency: 1,
          load: directory.record(h.peer)?.outstanding ?? 0,
          latencyMs: rep.latencyMs,
          score: rep.score,
          recentDispatches: 0,
        }
      }),
    )
    return shortest.find((h) => h.peer === picked?.peer)
  }

  /**
   * Whether the connection to `record` carries the task: any direct one; a relayed (limited) one
   * only for an input of at most `relayedMaxBytes`.
   */
  #carries(record: PeerRecord, spec: Pick<RouteSpec, 'input' | 'inputRef'>): boolean {
    // Content by CID is fetched over Bitswap, which does not run on a limited (relayed) connection.
    if (spec.inputRef !== undefined) {
      return record.connection?.limited !== true && takesContent(record, spec.inputRef.size)
    }
    return record.connection?.limited !== true || this.#bytesOf(spec.input) <= this.#relayedMaxBytes
  }

  /** The size of an input as JSON, in bytes (measured once; unmeasurable counts as too large). */
  #bytesOf(input: object): number {
    let bytes = this.#inputBytes.get(input)
    if (bytes === undefined) {
      try {
        bytes = Buffer.byteLength(JSON.stringify(input))
      } catch {
        bytes = Number.POSITIVE_INFINITY
      }
      this.#inputBytes.set(input, bytes)
    }
    return bytes
  }

  /**
   * Why no route fits `spec` when peers run its type but are reached only through a relay that the
   * input is too large for; undefined otherwise.
   */
  explain(spec: RouteSpec): string | undefined {
    if (this.#bytesOf(spec.input) <= this.#relayedMaxBytes) return undefined
    for (const record of this.#init.directory.connected()) {
      if (record.connection?.limited !== true || record.capabilities === undefined) continue
      if (spec.target !== 'auto' && spec.target !== record.peer) continue
      if (capable(record.capabilities, spec)) {
        return `the peers that run "${spec.type}" are reached only through a relay, and inputs over ${this.#relayedMaxBytes} bytes wait for a direct connection`
      }
    }
    return undefined
  }

  /** Allowed by the access policy, not excluded, and its circuit not open. */
  #usable(peer: string, exclude: ReadonlySet<string> | undefined): boolean {
    if (exclude?.has(peer) === true || !this.#init.policy.allows(peer)) return false
    return this.#init.directory.book.isAvailable(peer)
  }

  #localCapable(spec: RouteSpec): boolean {
    this.#readLocal()
    if (!this.#localTypes.has(spec.type)) return false
    if (capable({ taskTypes: this.#localTypeList, models: this.#localModels }, spec)) return true
    return this.#init.fetchableModel?.(spec) === true
  }

  #readLocal(): void {
    const now = performance.now()
    if (now - this.#localReadAt <= LOCAL_TYPES_TTL_MS) return
    const caps = this.#init.engine.capabilities()
    this.#localTypeList = caps.taskTypes.map((t) => t.name)
    this.#localTypes = new Set(this.#localTypeList)
    this.#localModels = caps.models.map((m) => ({
      id: m.name,
      sha256: m.sha256,
      taskTypes: m.taskTypes,
      ...(m.family === undefined ? {} : { family: m.family }),
      ...(m.quantization === undefined ? {} : { quantization: m.quantization }),
      ...(m.contextLength === undefined ? {} : { contextLength: m.contextLength }),
    }))
    this.#localReadAt = now
  }
}

/**
 * Whether a peer takes content by CID of `size` bytes (minor 5): it announced `content` with room
 * for it. Only such peers get a request with `inputRef`, or send a result with `outputRef` back.
 */
export function takesContent(record: Pick<PeerRecord, 'capabilities'> | undefined, size: number): boolean {
  const caps = record?.capabilities
  return (
    caps !== undefined &&
    caps.protocolMinor >= CONTENT_MINOR &&
    caps.content !== undefined &&
    size <= caps.content.maxBytes
  )
}

/** A model as routing sees it: announced by a peer, or served by this node's engine. */
interface AnnouncedModel {
  readonly id: string
  readonly sha256: string
  readonly taskTypes: readonly string[]
  readonly family?: string
  readonly quantization?: string
  readonly contextLength?: number
}

/** Whether the capabilities list, for the task's type, the model its input names. */
export function namesModel(
  caps: { readonly models: readonly AnnouncedModel[] },
  spec: Pick<RouteSpec, 'type' | 'input'>,
): boolean {
  const name = spec.input.model
  return typeof name === 'string' && caps.models.some((m) => m.id === name && m.taskTypes.includes(spec.type))
}

/**
 * Whether announced capabilities cover the task: its type, and a model that meets everything the
 * task asks of one (its name in the input's `model`, `modelSha256`, the `model` requirement).
 */
export function capable(
  caps: { readonly taskTypes: readonly string[]; readonly models: readonly AnnouncedModel[] },
  spec: Pick<RouteSpec, 'type' | 'input' | 'modelSha256' | 'model'>,
): boolean {
  if (!caps.taskTypes.includes(spec.type)) return false
  const models = caps.models.filter((m) => m.taskTypes.includes(spec.type))
  const name = typeof spec.input.model === 'string' ? spec.input.model : undefined
  const { family, quantization, minContextLength } = spec.model ?? {}
  const strict =
    spec.modelSha256 !== undefined ||
    family !== undefined ||
    quantization !== undefined ||
    minContextLength !== undefined
  // A task that only names a model goes to peers that have it; a peer that lists no models for the
  // type either needs none or fetches them itself. Anything more must be announced to be met.
  if (!strict && (name === undefined || models.length === 0)) return true
  return models.some(
    (m) =>
      (name === undefined || m.id === name) &&
      (spec.modelSha256 === undefined || m.sha256 === spec.modelSha256) &&
      (family === undefined || m.family === family) &&
      (quantization === undefined || m.quantization === quantization) &&
      (minContextLength === undefined || (m.contextLength ?? 0) >= minContextLength),
  )
}
