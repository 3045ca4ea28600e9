import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import { RECONNECT_BACKOFF_FACTOR, RECONNECT_DIAL_TIMEOUT_MS } from './constants.js'
import { UnknownPeerError } from './errors.js'
import {
  type AddressLike,
  DEFAULT_PEER_TABLE_SETTINGS,
  type PeerInfo,
  type PeerNetwork,
  type PeerRemoveReason,
  type PeerStatus,
  type PeerTableEvents,
  type PeerTableSettings,
} from './peer-types.js'

export * from './peer-types.js'

interface Entry {
  readonly id: PeerId
  status: PeerStatus
  /** Text form → address; listen addresses first. */
  addresses: Map<string, AddressLike>
  rttMs?: number
  lastSeen: number
  agentVersion?: string
  protocols: readonly string[]
  capabilities?: unknown
  connectedAt: number
  failedAt?: number
  failureReason?: string
  reconnectAttempts: number
  nextReconnectAt?: number
  reconnectTimer: NodeJS.Timeout | undefined
  pinging: boolean
  snapshot: PeerInfo | undefined
}

/**
 * The peer table: who we are connected to, how fast they answer and what they run. Heartbeats
 * ping every connected peer each `heartbeatIntervalMs`; a ping that takes longer than
 * `heartbeatTimeoutMs` marks the peer failed and closes its connection, so a silent peer is
 * detected within interval + timeout. Failed peers are redialled at their known addresses with
 * exponential backoff; a peer that says goodbye is removed at once and not redialled.
 */
export class PeerTable {
  readonly #entries = new Map<string, Entry>()
  readonly #network: PeerNetwork
  readonly #events: PeerTableEvents
  readonly #log: Logger
  #settings: PeerTableSettings
  #timer: NodeJS.Timeout | undefined
  #running = false
  readonly #controller = new AbortController()

  constructor(
    network: PeerNetwork,
    events: PeerTableEvents,
    log: Logger,
    settings: Partial<PeerTableSettings> = {},
  ) {
    this.#network = network
    this.#events = events
    this.#log = log
    this.#settings = { ...DEFAULT_PEER_TABLE_SETTINGS, ...settings }
  }

  get settings(): Readonly<PeerTableSettings> {
    return this.#settings
  }

  /** Starts heartbeats. */
  start(): void {
    this.#running = true
    this.#schedule()
  }

  /** Stops heartbeats and redials; entries stay readable. */
  stop(): void {
    this.#running = false
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#controller.abort()
    for (const entry of this.#entries.values()) this.#cancelReconnect(entry)
  }

  /** Applies new heartbeat and reconnect settings to a running table. */
  configure(settings: Partial<PeerTableSettings>): void {
    const intervalChanged =
      settings.heartbeatIntervalMs !== undefined &&
      settings.heartbeatIntervalMs !== this.#settings.heartbeatIntervalMs
    this.#settings = { ...this.#settings, ...settings }
    if (intervalChanged && this.#running) this.#schedule()
  }

  #schedule(): void {
    clearInterval(this.#timer)
    this.#timer = setInterval(() => void this.heartbeat(), this.#settings.heartbeatIntervalMs)
    this.#timer.unref()
  }

  list(): PeerInfo[] {
    return [...this.#entries.values()].map((e) => this.#snapshot(e))
  }

  get(peerId: string): PeerInfo | undefined {
    const entry = this.#entries.get(peerId)
    return entry === undefined ? undefined : this.#snapshot(entry)
  }

  /** Number of entries with status `connected`. */
  get connectedCount(): number {
    let n = 0
    for (const e of this.#entries.values()) if (e.status === 'connected') n++
    return n
  }

  get size(): number {
    return this.#entries.size
  }

  /** A connection to the peer opened (first connection, or a redial succeeded). */
  onConnect(id: PeerId, remoteAddr?: AddressLike): void {
    const key = id.toString()
    const now = Date.now()
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = {
        id,
        status: 'connected',
        addresses: new Map(),
        lastSeen: now,
        protocols: [],
        connectedAt: now,
        reconnectAttempts: 0,
        pinging: false,
        reconnectTimer: undefined,
        snapshot: undefined,
      }
      this.#entries.set(key, entry)
    } else {
      this.#cancelReconnect(entry)
      entry.status = 'connected'
      entry.connectedAt = now
      entry.lastSeen = now
      delete entry.failedAt
      delete entry.failureReason
      entry.reconnectAttempts = 0
    }
    if (remoteAddr !== undefined) addAddress(entry, remoteAddr, false)
    entry.snapshot = undefined
    this.#log.info({ remotePeer: key, address: remoteAddr?.toString() }, 'peer connected')
    this.#events.connect(this.#snapshot(entry))
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
    // left the table while its connection lives on: it said goodbye and is shutting down (its
    // identify push announces the protocols it just unregistered). It stays out.
    const entry = this.#entries.get(id.toString())
    if (entry === undefined) return
    if (info.agentVersion !== undefined) entry.agentVersion = info.agentVersion
    entry.protocols = [...info.protocols]
    for (const addr of info.listenAddrs) addAddress(entry, addr, true)
    entry.lastSeen = Date.now()
    entry.snapshot = undefined
    this.#events.update(this.#snapshot(entry))
  }

  /** The last connection to the peer closed. */
  onDisconnect(id: PeerId): void {
    const key = id.toString()
    const entry = this.#entries.get(key)
    if (entry === undefined) return
    if (entry.status === 'failed' || !this.#running) return
    this.#fail(entry, 'connection closed')
  }

  /**
   * The peer said goodbye (signed): drop it now and do not redial it. Its connection closing
   * afterwards finds no entry, so it is not taken for a failure.
   */
  onGoodbye(id: PeerId, reason?: string): void {
    const entry = this.#entries.get(id.toString())
    if (entry === undefined) return
    this.#log.info({ remotePeer: id.toString(), reason }, 'peer said goodbye')
    this.#remove(entry, 'goodbye')
  }

  /** Records what a peer can do (from its capability announcement). */
  setCapabilities(peerId: string, capabilities: unknown): PeerInfo {
    const entry = this.#entries.get(peerId)
    if (entry === undefined) throw new UnknownPeerError(`peer ${peerId} is not in the peer table`)
    entry.capabilities = capabilities
    entry.snapshot = undefined
    const snapshot = this.#snapshot(entry)
    this.#events.update(snapshot)
    return snapshot
  }

  /** One heartbeat round: pings every connected peer that has no ping in flight. */
  async heartbeat(): Promise<void> {
    const pings: Promise<void>[] = []
    for (const entry of this.#entries.values()) {
      if (entry.status === 'connected' && !entry.pinging) pings.push(this.#ping(entry))
    }
    await Promise.all(pings)
  }

  async #ping(entry: Entry): Promise<void> {
    entry.pinging = true
    const timeoutMs = this.#settings.heartbeatTimeoutMs
    const { signal, clear } = deadline(timeoutMs, this.#controller.signal)
    try {
      const rtt = await this.#network.ping(entry.id, { signal })
      if (entry.status !== 'connected' || !this.#entries.has(entry.id.toString())) return
      entry.rttMs = Math.round(rtt * 100) / 100
      entry.lastSeen = Date.now()
      entry.snapshot = undefined
    } catch (err) {
      if (!this.#running || entry.status !== 'connected') return
      if (!this.#entries.has(entry.id.toString())) return
      const reason = signal.aborted
        ? `no heartbeat answer within ${timeoutMs} ms`
        : `heartbeat failed: ${(err as Error).message}`
      this.#fail(entry, reason)
      // Close what is left of the connection: it is dead or too slow to be useful.
      this.#network.hangUp(entry.id).catch((e: unknown) => {
        this.#log.debug({ remotePeer: entry.id.toString(), err: e }, 'hang up after failed heartbeat failed')
      })
    } finally {
      clear()
      entry.pinging = false
    }
  }

  #fail(entry: Entry, reason: string): void {
    const now = Date.now()
    entry.status = 'failed'
    entry.failedAt = now
    entry.failureReason = reason
    entry.reconnectAttempts = 0
    entry.snapshot = undefined
    this.#log.warn({ remotePeer: entry.id.toString(), reason }, 'peer failed')
    this.#events.failed(this.#snapshot(entry), reason)
    this.#scheduleReconnect(entry)
  }

  /** Delay before redial number `attempt` (0-based): exponential, capped, with ±20 % jitter. */
  reconnectDelay(attempt: number): number {
    const { reconnectInitialDelayMs: initial, reconnectMaxDelayMs: max } = this.#settings
    const base = Math.min(max, initial * RECONNECT_BACKOFF_FACTOR ** attempt)
    // Jitter keeps many nodes that lost the same peer from redialling in lockstep.
    return Math.round(base * (0.8 + Math.random() * 0.4))
  }

  #scheduleReconnect(entry: Entry): void {
    this.#cancelReconnect(entry)
    if (!this.#running) return
    if (entry.reconnectAttempts >= this.#settings.reconnectMaxAttempts) {
      this.#log.info(
        { remotePeer: entry.id.toString(), attempts: entry.reconnectAttempts },
        'giving up on peer',
      )
      this.#remove(entry, 'unreachable')
      return
    }
    const delay = this.reconnectDelay(entry.reconnectAttempts)
    entry.nextReconnectAt = Date.now() + delay
    entry.snapshot = undefined
    entry.reconnectTimer = setTimeout(() => void this.#redial(entry), delay)
    entry.reconnectTimer.unref()
  }

  #cancelReconnect(entry: Entry): void {
    clearTimeout(entry.reconnectTimer)
    entry.reconnectTimer = undefined
    delete entry.nextReconnectAt
    entry.snapshot = undefined
  }

  async #redial(entry: Entry): Promise<void> {
    entry.reconnectTimer = undefined
    delete entry.nextReconnectAt
    if (!this.#running || entry.status !== 'failed' || this.#entries.get(entry.id.toString()) !== entry)
      return
    entry.reconnectAttempts++
    entry.snapshot = undefined
    const { signal, clear } = deadline(RECONNECT_DIAL_TIMEOUT_MS, this.#controller.signal)
    try {
      await this.#network.redial(entry.id, [...entry.addresses.values()], { signal })
      // Success arrives as onConnect (libp2p's peer:connect), which resets the entry.
      this.#log.debug(
        { remotePeer: entry.id.toString(), attempt: entry.reconnectAttempts },
        'redial succeeded',
      )
    } catch (err) {
      if (entry.status !== 'failed' || this.#entries.get(entry.id.toString()) !== entry) return
      this.#log.debug(
        { remotePeer: entry.id.toString(), attempt: entry.reconnectAttempts, err: (err as Error).message },
        'redial failed',
      )
      this.#scheduleReconnect(entry)
    } finally {
      clear()
    }
  }

  #remove(entry: Entry, reason: PeerRemoveReason): void {
    this.#cancelReconnect(entry)
    const key = entry.id.toString()
    if (this.#entries.get(key) !== entry) return
    this.#entries.delete(key)
    this.#events.remove(key, reason)
  }

  #snapshot(entry: Entry): PeerInfo {
    if (entry.snapshot !== undefined) return entry.snapshot
    const info: PeerInfo = {
      peerId: entry.id.toString(),
      status: entry.status,
      addresses: [...entry.addresses.keys()],
      lastSeen: entry.lastSeen,
      protocols: entry.protocols,
      connectedAt: entry.connectedAt,
      reconnectAttempts: entry.reconnectAttempts,
      ...(entry.rttMs === undefined ? {} : { rttMs: entry.rttMs }),
      ...(entry.agentVersion === undefined ? {} : { agentVersion: entry.agentVersion }),
      ...(entry.capabilities === undefined ? {} : { capabilities: entry.capabilities }),
      ...(entry.failedAt === undefined ? {} : { failedAt: entry.failedAt }),
      ...(entry.failureReason === undefined ? {} : { failureReason: entry.failureReason }),
      ...(entry.nextReconnectAt === undefined ? {} : { nextReconnectAt: entry.nextReconnectAt }),
    }
    entry.snapshot = Object.freeze(info)
    return entry.snapshot
  }
}

/**
 * A signal that aborts after `ms` or with `parent`. Built on setTimeout rather than
 * AbortSignal.timeout so the timer is cleared as soon as the operation settles.
 */
function deadline(ms: number, parent: AbortSignal): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${ms} ms`)), ms)
  const onAbort = (): void => controller.abort(parent.reason)
  parent.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer)
      parent.removeEventListener('abort', onAbort)
    },
  }
}

/** Listen addresses go first: they are the ones a redial can use (an inbound connection's port is ephemeral). */
function addAddress(entry: Entry, addr: AddressLike, listen: boolean): void {
  const text = addr.toString()
  if (entry.addresses.has(text)) return
  if (listen) entry.addresses = new Map([[text, addr], ...entry.addresses])
  else entry.addresses.set(text, addr)
}
