/**
 * The peer directory: the one place that knows each peer. Connections and their kind, addresses,
 * identify results, capabilities and protocol version from its announcements, liveness and
 * round-trip time, reputation, and what routing learns as it goes (this node's tasks outstanding
 * there, an estimate of everyone else's, refused routes). Every service reads it; nothing keeps a
 * copy.
 *
 * Liveness has one mechanism: the directory's heartbeat pings every connected peer each
 * `heartbeatIntervalMs` (and once as soon as it connects, for its round-trip time); a ping that
 * takes longer than `heartbeatTimeoutMs` marks the peer failed and closes its connection. libp2p's
 * own connection monitor is turned off on a node so that peers are not pinged twice. A lost peer
 * is handed to the transport's connection pool, the one redial path, which retries with backoff
 * and gives up after `reconnect.maxAttempts` dials: the peer is then removed (`unreachable`); a
 * discovery (mDNS, bootstrap, DHT) brings it back. A peer that says goodbye is removed at once and
 * never redialled.
 */
import type { PeerId } from '@libp2p/interface'
import type { Capabilities } from '@p2p-ai/protocol'
import { TypedEventEmitter } from 'main-event'
import type { Logger } from 'pino'
import { DEFAULT_HEARTBEAT_INTERVAL_MS, DEFAULT_HEARTBEAT_TIMEOUT_MS } from '../constants.js'
import { DISPATCH_HALF_LIFE_MS, ROUTE_REFUSED_MS } from './constants.js'
import { PeerLiveness } from './liveness.js'
import { type PeerBan, type PeerReputation, ReputationBook } from './reputation.js'
import type {
  AddressLike,
  PeerConnection,
  PeerDirectorySettings,
  PeerInfo,
  PeerNetwork,
  PeerRemoveReason,
  PeerStatus,
} from './types.js'

/** A peer failed: its connection closed without a goodbye, or it stopped answering heartbeats. */
export interface PeerFailure {
  readonly peer: PeerInfo
  readonly reason: string
}

/** A peer left the directory: it said goodbye, or redials gave up. */
export interface PeerRemoval {
  readonly peerId: string
  readonly reason: PeerRemoveReason
}

export interface PeerDirectoryEvents {
  /** A peer connected (first connection, or back after a failure). */
  'peer:connect': CustomEvent<PeerInfo>
  /** identify finished, its connection changed kind, or it announced new capabilities. */
  'peer:update': CustomEvent<PeerInfo>
  /** A capability announcement arrived (also when it changed nothing a snapshot shows). */
  'peer:capabilities': CustomEvent<PeerInfo>
  'peer:failed': CustomEvent<PeerFailure>
  'peer:remove': CustomEvent<PeerRemoval>
}

/**
 * A peer as routing reads it: the directory's live record, read-only. Reading it costs nothing;
 * `PeerInfo` snapshots are for everyone else.
 */
export interface PeerRecord {
  readonly peer: string
  readonly id: PeerId
  readonly status: PeerStatus
  readonly connection: PeerConnection | undefined
  readonly capabilities: Capabilities | undefined
  readonly protocolMinor: number
  readonly rttMs: number | undefined
  /** This node's tasks outstanding there now. */
  readonly outstanding: number
  /** Other requesters' load there, as of its latest announcement (see `onCapabilities`). */
  readonly othersLoad: number
}

interface Entry extends PeerRecord {
  id: PeerId
  status: PeerStatus
  connection: PeerConnection | undefined
  addresses: Map<string, AddressLike>
  rttMs: number | undefined
  lastSeen: number
  agentVersion: string | undefined
  protocols: readonly string[]
  capabilities: Capabilities | undefined
  protocolMinor: number
  connectedAt: number
  failedAt: number | undefined
  failureReason: string | undefined
  reconnectAttempts: number
  nextReconnectAt: number | undefined
  outstanding: number
  /** The most outstanding at once since the last announcement. */
  peak: number
  othersLoad: number
  dispatches: number
  dispatchesAt: number
  /** Task type → the announcement it was refused under, and until when. */
  refused: Map<string, { caps: Capabilities; until: number }> | undefined
}

export interface PeerDirectoryComponents {
  /** This node's PeerId: never an entry of its own directory. */
  self: string
  network: PeerNetwork
  log: Logger
  /** The reputation book, for a clock of your own in tests. @default a new one */
  reputation?: ReputationBook
}

/** Construction options of the directory. */
export interface PeerDirectoryInit {
  /**
   * Heartbeat period per connected peer.
   *
   * @default 10_000
   */
  heartbeatIntervalMs?: number
  /**
   * A heartbeat unanswered this long marks the peer failed: a silent peer is noticed within
   * interval + timeout.
   *
   * @default 3_000
   */
  heartbeatTimeoutMs?: number
}

export class PeerDirectory extends TypedEventEmitter<PeerDirectoryEvents> {
  /** Every peer's track record as a provider; outlives its entry (a peer that returns keeps it). */
  readonly book: ReputationBook
  readonly #self: string
  readonly #network: PeerNetwork
  readonly #log: Logger
  readonly #entries = new Map<string, Entry>()
  readonly #liveness: PeerLiveness
  /** Ends of bans of peers with an entry: the entry goes when its ban does. */
  readonly #banTimers = new Map<string, NodeJS.Timeout>()
  #running = false

  constructor(components: PeerDirectoryComponents, init: PeerDirectoryInit = {}) {
    super()
    this.#self = components.self
    this.#network = components.network
    this.#log = components.log
    this.book = components.reputation ?? new ReputationBook()
    this.book.addEventListener('peer:banned', (evt) => this.#onBan(evt.detail))
    this.#liveness = new PeerLiveness(components.network, {
      heartbeatIntervalMs: init.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS,
      heartbeatTimeoutMs: init.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS,
    })
  }

  /** The liveness settings in force. */
  get settings(): Readonly<PeerDirectorySettings> {
    return this.#liveness.settings
  }

  /** Starts heartbeats. */
  start(): void {
    this.#running = true
    this.#liveness.start(() => this.heartbeat())
  }

  /** Stops heartbeats; entries stay readable, lost peers are no longer handed to the pool. */
  stop(): void {
    this.#running = false
    this.#liveness.stop()
    for (const timer of this.#banTimers.values()) clearTimeout(timer)
    this.#banTimers.clear()
  }

  /** Applies new liveness settings to a running directory. */
  configure(settings: Partial<PeerDirectorySettings>): void {
    this.#liveness.configure(settings, () => this.heartbeat())
  }

  // ---- reading -------------------------------------------------------------------------------

  /**
   * Snapshots of every peer: connected ones, failed ones being redialled, and banned ones (also
   * those banned while not connected).
   */
  list(): PeerInfo[] {
    const list = [...this.#entries.values()].map((e) => this.#snapshot(e))
    for (const ban of this.book.banned()) {
      if (!this.#entries.has(ban.peer)) list.push(this.#bannedSnapshot(ban))
    }
    return list
  }

  get(peer: string): PeerInfo | undefined {
    const entry = this.#entries.get(peer)
    if (entry !== undefined) return this.#snapshot(entry)
    const ban = this.book.isBanned(peer) ? this.book.banned().find((b) => b.peer === peer) : undefined
    return ban === undefined ? undefined : this.#bannedSnapshot(ban)
  }

  /** The live record of a peer, for routing (see `PeerRecord`). */
  record(peer: string): PeerRecord | undefined {
    return this.#entries.get(peer)
  }

  /** Live records of the connected peers, for routing. */
  *connected(): IterableIterator<PeerRecord> {
    for (const entry of this.#entries.values()) if (entry.status === 'connected') yield entry
  }

  get connectedCount(): number {
    let n = 0
    for (const e of this.#entries.values()) if (e.status === 'connected') n++
    return n
  }

  get size(): number {
    return this.#entries.size
  }

  /** A peer's reputation (neutral for one never used). */
  reputation(peer: string): PeerReputation {
    return this.book.get(peer)
  }

  /** The protocol minor the peer announced; 0 until it did. */
  protocolMinor(peer: string): number {
    return this.#entries.get(peer)?.protocolMinor ?? 0
  }

  // ---- what routing learns -------------------------------------------------------------------

  /** A task of this node went to the peer (`+1`) or came back from it (`-1`). */
  track(peer: string, delta: 1 | -1): void {
    const entry = this.#entries.get(peer)
    if (entry === undefined) return
    entry.outstanding = Math.max(0, entry.outstanding + delta)
    if (entry.outstanding > entry.peak) entry.peak = entry.outstanding
  }

  /** Tasks routed to the peer recently (a decaying count): routing's tie-breaker. */
  recentDispatches(peer: string, now: number): number {
    const entry = this.#entries.get(peer)
    return entry === undefined ? 0 : decayed(entry.dispatches, entry.dispatchesAt, now)
  }

  /** Routing picked the peer. */
  noteDispatch(peer: string, now: number): void {
    const entry = this.#entries.get(peer)
    if (entry === undefined) return
    entry.dispatches = decayed(entry.dispatches, entry.dispatchesAt, now) + 1
    entry.dispatchesAt = now
    this.book.dispatched(peer)
  }

  /** The neighbour refused to forward `type` (no route, too far): its announcement is stale for it. */
  refuseRoute(peer: string, type: string, now = performance.now()): void {
    const entry = this.#entries.get(peer)
    if (entry?.capabilities === undefined) return
    entry.refused ??= new Map()
    for (const [key, mark] of entry.refused) if (mark.until <= now) entry.refused.delete(key)
    entry.refused.set(type, { caps: entry.capabilities, until: now + ROUTE_REFUSED_MS })
  }

  /** Whether the neighbour refused `type` recently, under the announcement it still has. */
  routeRefused(peer: string, type: string, now = performance.now()): boolean {
    const entry = this.#entries.get(peer)
    const mark = entry?.refused?.get(type)
    return mark !== undefined && mark.caps === entry?.capabilities && mark.until > now
  }

  // ---- what the network tells ----------------------------------------------------------------

  /** A connection to the peer opened (first connection, or a redial succeeded). */
  onConnect(id: PeerId, remoteAddr?: AddressLike): void {
    const peer = id.toString()
    if (peer === this.#self) return
    if (this.book.isBanned(peer)) {
      // A connection that got through before the gater knew (it was already upgrading).
      this.#hangUp(id, peer)
      return
    }
    const now = Date.now()
    let entry = this.#entries.get(peer)
    if (entry === undefined) {
      entry = newEntry(id, now)
      this.#entries.set(peer, entry)
    } else {
      entry.status = 'connected'
      entry.connectedAt = now
      entry.lastSeen = now
      entry.failedAt = undefined
      entry.failureReason = undefined
      entry.reconnectAttempts = 0
      entry.nextReconnectAt = undefined
      entry.id = id
    }
    if (remoteAddr !== undefined) addAddress(entry, remoteAddr, false)
    entry.connection = bestConnection(this.#network.connections(id))
    this.#log.info({ remotePeer: peer, address: remoteAddr?.toString() }, 'peer connected')
    this.safeDispatchEvent('peer:connect', { detail: this.#snapshot(entry) })
    // Its round-trip time now, rather than at the first heartbeat up to an interval later.
    if (this.#running) void this.#beat(entry)
  }

  /** A connection to the peer opened or closed: it may now be reached directly, or only relayed. */
  onConnectionsChanged(id: PeerId): void {
    const entry = this.#entries.get(id.toString())
    if (entry === undefined || entry.status !== 'connected') return
    const connection = bestConnection(this.#network.connections(id))
    if (sameConnection(connection, entry.connection)) return
    entry.connection = connection
    this.safeDispatchEvent('peer:update', { detail: this.#snapshot(entry) })
  }

  /** identify finished: agent version, protocols and listen addresses. */
  onIdentify(
    id: PeerId,
    info: {
      agentVersion?: string | undefined
      protocols: readonly string[]
      listenAddrs: readonly AddressLike[]
    },
  ): void {
    // libp2p reports peer:connect before identify completes, so an unknown peer here is one that
    // left the directory while its connection lives on: it said goodbye and is shutting down (its
    // identify push announces the protocols it just unregistered). It stays out.
    const entry = this.#entries.get(id.toString())
    if (entry === undefined || entry.status === 'banned') return
    if (info.agentVersion !== undefined) entry.agentVersion = info.agentVersion
    entry.protocols = [...info.protocols]
    for (const addr of info.listenAddrs) addAddress(entry, addr, true)
    entry.lastSeen = Date.now()
    this.safeDispatchEvent('peer:update', { detail: this.#snapshot(entry) })
  }

  /** The last connection to the peer closed. */
  onDisconnect(id: PeerId): void {
    const entry = this.#entries.get(id.toString())
    if (entry === undefined || entry.status !== 'connected' || !this.#running) return
    this.#fail(entry, 'connection closed')
  }

  /**
   * The peer announced its capabilities (signed, verified by the announce handler). Its load as
   * announced counts this node's tasks of some moment shortly before; subtracting the most of ours
   * outstanding there since the previous announcement leaves (a lower bound of) other requesters'
   * load, which routing assumes unchanged until the next announcement, while our own part is known
   * exactly at any moment.
   */
  onCapabilities(id: PeerId, capabilities: Capabilities): void {
    const entry = this.#entries.get(id.toString())
    if (entry === undefined || entry.status === 'banned') return
    // A peer that was paused says it takes tasks again: whatever "busy" it answered is over.
    if (entry.capabilities?.resources?.paused === true && capabilities.resources?.paused !== true) {
      this.book.clearBusy(entry.peer)
    }
    entry.capabilities = capabilities
    entry.protocolMinor = capabilities.protocolMinor
    const announced = capabilities.load.running + capabilities.load.queued
    entry.othersLoad = Math.max(0, announced - Math.max(entry.peak, entry.outstanding))
    entry.peak = entry.outstanding
    entry.lastSeen = Date.now()
    const snapshot = this.#snapshot(entry)
    this.safeDispatchEvent('peer:capabilities', { detail: snapshot })
    this.safeDispatchEvent('peer:update', { detail: snapshot })
  }

  /**
   * The peer said goodbye (signed): drop it now and never redial it. Its connection closing
   * afterwards finds no entry, so it is not taken for a failure.
   */
  onGoodbye(id: PeerId, reason?: string): void {
    const entry = this.#entries.get(id.toString())
    if (entry === undefined) return
    this.#log.info({ remotePeer: entry.peer, reason }, 'peer said goodbye')
    this.#network.forget(id)
    this.#remove(entry, 'goodbye')
  }

  /** The pool will dial the failed peer again at `at` (its `attempts`-th dial failed). */
  onRedialScheduled(id: PeerId, attempts: number, at: number): void {
    const entry = this.#entries.get(id.toString())
    if (entry === undefined || entry.status !== 'failed') return
    entry.reconnectAttempts = attempts
    entry.nextReconnectAt = at
  }

  /** The pool gave up redialling the peer: it is forgotten until discovery brings it back. */
  onRedialGaveUp(id: PeerId, attempts: number): void {
    const entry = this.#entries.get(id.toString())
    if (entry === undefined || entry.status !== 'failed') return
    this.#log.info({ remotePeer: entry.peer, attempts }, 'giving up on peer')
    this.#remove(entry, 'unreachable')
  }

  // ---- liveness ------------------------------------------------------------------------------

  /** One heartbeat round: pings every connected peer that has no ping in flight. */
  async heartbeat(): Promise<void> {
    const beats: Promise<void>[] = []
    for (const entry of this.#entries.values()) {
      if (entry.status === 'connected') beats.push(this.#beat(entry))
    }
    await Promise.all(beats)
  }

  /**
   * One ping of a connected peer within `timeoutMs`: resolves true if it answered (its round-trip
   * time and last-seen time are updated), false if not. The requester's fast check of a provider
   * that went quiet with tasks pending; unlike a heartbeat, a failed probe does not mark the peer
   * failed (the requester fails its own tasks over).
   */
  async probe(peer: string, timeoutMs: number): Promise<boolean> {
    const entry = this.#entries.get(peer)
    if (entry === undefined || entry.status !== 'connected') return false
    const rtt = await this.#liveness.ping(entry.id, timeoutMs)
    if (typeof rtt !== 'number') return false
    this.#heard(entry, rtt)
    return true
  }

  async #beat(entry: Entry): Promise<void> {
    const outcome = await this.#liveness.beat(entry.id)
    if (outcome === 'busy' || entry.status !== 'connected' || this.#entries.get(entry.peer) !== entry) return
    if (typeof outcome === 'number') {
      this.#heard(entry, outcome)
      return
    }
    if (!this.#running) return
    this.#fail(entry, outcome.reason, false)
    // Close what is left of the connection (it is dead or too slow to be useful), then redial: a
    // redial while the old connection still looks open would be taken for a duplicate.
    this.#network
      .hangUp(entry.id)
      .catch((err: unknown) => {
        this.#log.debug({ remotePeer: entry.peer, err }, 'hang up after a failed heartbeat failed')
      })
      .finally(() => {
        if (this.#running && entry.status === 'failed' && this.#entries.get(entry.peer) === entry) {
          this.#network.redial(entry.id, [...entry.addresses.values()])
        }
      })
  }

  #heard(entry: Entry, rttMs: number): void {
    entry.rttMs = Math.round(rttMs * 100) / 100
    entry.lastSeen = Date.now()
  }

  #fail(entry: Entry, reason: string, redial = true): void {
    entry.status = 'failed'
    entry.failedAt = Date.now()
    entry.failureReason = reason
    entry.reconnectAttempts = 0
    entry.nextReconnectAt = undefined
    entry.connection = undefined
    // What it announced may be stale by the time it is back: it announces again on reconnect.
    entry.capabilities = undefined
    this.#log.warn({ remotePeer: entry.peer, reason }, 'peer failed')
    this.safeDispatchEvent('peer:failed', { detail: { peer: this.#snapshot(entry), reason } })
    if (redial && this.#running) this.#network.redial(entry.id, [...entry.addresses.values()])
  }

  /**
   * The book banned the peer: its tasks fail over (`peer:failed`), its connections close, the pool
   * stops redialling it, and it stays listed as `banned` until the ban ends.
   */
  #onBan(ban: PeerBan): void {
    const until = new Date(ban.until).toISOString()
    this.#log.warn({ remotePeer: ban.peer, reason: ban.reason, until }, 'banned a peer')
    const entry = this.#entries.get(ban.peer)
    if (entry === undefined) return
    const wasConnected = entry.status === 'connected'
    entry.status = 'banned'
    entry.failedAt = Date.now()
    entry.failureReason = `banned until ${until} (${ban.reason})`
    entry.reconnectAttempts = 0
    entry.nextReconnectAt = undefined
    entry.connection = undefined
    entry.capabilities = undefined
    this.safeDispatchEvent('peer:failed', {
      detail: { peer: this.#snapshot(entry), reason: entry.failureReason },
    })
    this.#network.forget(entry.id)
    if (wasConnected) this.#hangUp(entry.id, entry.peer)
    clearTimeout(this.#banTimers.get(entry.peer))
    const timer = setTimeout(() => {
      this.#banTimers.delete(entry.peer)
      // Discovery brings it back, and it is let in again.
      if (entry.status === 'banned' && !this.book.isBanned(entry.peer)) this.#remove(entry, 'ban-ended')
    }, ban.durationMs + 1)
    timer.unref()
    this.#banTimers.set(entry.peer, timer)
  }

  /**
   * Ends the peer's ban now (the owner's decision: `node unban`): the gater lets it in again and
   * discovery or a dial brings it back. Its earlier bans still make the next one longer. False
   * when it was not banned.
   */
  unban(peer: string): boolean {
    if (!this.book.isBanned(peer)) return false
    this.book.unban(peer)
    clearTimeout(this.#banTimers.get(peer))
    this.#banTimers.delete(peer)
    const entry = this.#entries.get(peer)
    if (entry?.status === 'banned') this.#remove(entry, 'ban-ended')
    this.#log.info({ remotePeer: peer }, 'unbanned a peer')
    return true
  }

  #hangUp(id: PeerId, peer: string): void {
    this.#network.hangUp(id).catch((err: unknown) => {
      this.#log.debug({ remotePeer: peer, err }, 'hang up on a banned peer failed')
    })
  }

  #remove(entry: Entry, reason: PeerRemoveReason): void {
    if (this.#entries.get(entry.peer) !== entry) return
    this.#entries.delete(entry.peer)
    this.safeDispatchEvent('peer:remove', { detail: { peerId: entry.peer, reason } })
  }

  /** A frozen copy: taken when asked for, since outstanding tasks and reputation move all the time. */
  #snapshot(entry: Entry): PeerInfo {
    return Object.freeze({
      peerId: entry.peer,
      status: entry.status,
      ...(entry.connection === undefined ? {} : { connection: entry.connection }),
      addresses: [...entry.addresses.keys()],
      lastSeen: entry.lastSeen,
      protocols: entry.protocols,
      protocolMinor: entry.protocolMinor,
      outstanding: entry.outstanding,
      reputation: this.book.get(entry.peer),
      connectedAt: entry.connectedAt,
      reconnectAttempts: entry.reconnectAttempts,
      ...(entry.rttMs === undefined ? {} : { rttMs: entry.rttMs }),
      ...(entry.agentVersion === undefined ? {} : { agentVersion: entry.agentVersion }),
      ...(entry.capabilities === undefined ? {} : { capabilities: entry.capabilities }),
      ...(entry.failedAt === undefined ? {} : { failedAt: entry.failedAt }),
      ...(entry.failureReason === undefined ? {} : { failureReason: entry.failureReason }),
      ...(entry.nextReconnectAt === undefined ? {} : { nextReconnectAt: entry.nextReconnectAt }),
      ...this.#banOf(entry.peer),
    })
  }

  #banOf(peer: string): { bannedUntil?: number; banReason?: string } {
    const { bannedUntil, banReason } = this.book.get(peer)
    return bannedUntil === undefined ? {} : { bannedUntil, ...(banReason === undefined ? {} : { banReason }) }
  }

  /** A banned peer this node has no entry for (it was not connected when banned). */
  #bannedSnapshot(ban: PeerBan): PeerInfo {
    return Object.freeze({
      peerId: ban.peer,
      status: 'banned',
      addresses: [],
      lastSeen: 0,
      protocols: [],
      protocolMinor: 0,
      outstanding: 0,
      reputation: this.book.get(ban.peer),
      connectedAt: 0,
      reconnectAttempts: 0,
      failureReason: `banned until ${new Date(ban.until).toISOString()} (${ban.reason})`,
      bannedUntil: ban.until,
      banReason: ban.reason,
    })
  }
}

/** Creates a peer directory; feed it with `attachPeerDirectory` (or by hand, in tests). */
export function peerDirectory(
  components: PeerDirectoryComponents,
  init: PeerDirectoryInit = {},
): PeerDirectory {
  return new PeerDirectory(components, init)
}

function newEntry(id: PeerId, now: number): Entry {
  return {
    peer: id.toString(),
    id,
    status: 'connected',
    connection: undefined,
    addresses: new Map(),
    rttMs: undefined,
    lastSeen: now,
    agentVersion: undefined,
    protocols: [],
    capabilities: undefined,
    protocolMinor: 0,
    connectedAt: now,
    failedAt: undefined,
    failureReason: undefined,
    reconnectAttempts: 0,
    nextReconnectAt: undefined,
    outstanding: 0,
    peak: 0,
    othersLoad: 0,
    dispatches: 0,
    dispatchesAt: now,
    refused: undefined,
  }
}

/** Listen addresses go first: they are the ones a redial can use (an inbound connection's port is ephemeral). */
function addAddress(entry: Entry, addr: AddressLike, listen: boolean): void {
  const text = addr.toString()
  if (entry.addresses.has(text)) return
  if (listen) entry.addresses = new Map([[text, addr], ...entry.addresses])
  else entry.addresses.set(text, addr)
}

/** Direct connections before relayed ones; among equals, the first. */
function bestConnection(connections: readonly PeerConnection[]): PeerConnection | undefined {
  return connections.find((c) => c.kind === 'direct') ?? connections[0]
}

function sameConnection(a: PeerConnection | undefined, b: PeerConnection | undefined): boolean {
  return a?.kind === b?.kind && a?.via === b?.via && a?.remoteAddr === b?.remoteAddr
}

/** A count that halves every `DISPATCH_HALF_LIFE_MS`, `count` as of `at`, read at `now`. */
export function decayed(count: number, at: number, now: number): number {
  return count === 0 ? 0 : count * 0.5 ** ((now - at) / DISPATCH_HALF_LIFE_MS)
}
