import type {
  AbortOptions,
  ComponentLogger,
  Connection,
  DialTarget,
  Libp2pEvents,
  Logger,
  PeerId,
  PeerInfo,
  Startable,
  TypedEventTarget,
} from '@libp2p/interface'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { intOption } from './config.js'
import {
  POOL_DIAL_BACKOFF_MAX_MS,
  POOL_DIAL_BACKOFF_MS,
  POOL_DIAL_DEFER_MS,
  POOL_MAX_DIAL_ATTEMPTS,
  POOL_MAX_PARALLEL_DIALS,
  POOL_MAX_PROCESS_DIALS,
  POOL_TRIM_CLOSE_TIMEOUT_MS,
  POOL_TRIM_DELAY_MS,
} from './constants.js'
import { InvalidTransportOptionError } from './errors.js'
import { duplicateConnections, excessConnections, isIdle, supersededConnections } from './pool-trim.js'

/** How the pool retries a peer it failed to dial. */
export interface DialBackoff {
  /**
   * Wait after the first failed dial; it doubles after each further failure (±20 % jitter).
   *
   * @default 1_000
   */
  initialDelayMs: number
  /**
   * Longest wait between two dials of the same peer.
   *
   * @default 30_000
   */
  maxDelayMs: number
  /**
   * Dials to a failing peer before the pool gives up on it (`dial:gave-up`), the first included.
   * A new sighting, or `redial()`, starts again.
   *
   * @default 6
   */
  maxAttempts: number
}

/** A failed dial the pool will retry. */
export interface DialRetry {
  readonly peer: PeerId
  /** Dials made so far, the failed one included. */
  readonly attempts: number
  /** `Date.now()` of the next dial. */
  readonly at: number
  /** Milliseconds from the failure to the next dial: the backoff with its jitter. */
  readonly delay: number
}

/** The pool gave up on a peer after `attempts` failed dials. */
export interface DialGaveUp {
  readonly peer: PeerId
  readonly attempts: number
}

export interface ConnectionPoolEvents {
  'dial:retry': CustomEvent<DialRetry>
  'dial:gave-up': CustomEvent<DialGaveUp>
}

export interface ConnectionPoolInit {
  /** Stop dialling once this many connections are open. */
  maxConnections: number
  /** Retries of failed dials. @default { initialDelayMs: 1_000, maxDelayMs: 30_000, maxAttempts: 6 } */
  backoff?: Partial<DialBackoff>
  /** Dials in flight at once. @default 8 */
  maxParallelDials?: number
  /** Dial peers as discovery reports them. With `false`, only `offer()` dials. @default true */
  autoDial?: boolean
  /** Delay before the peer with the larger id dials, to avoid crossed duplicate connections. @default 250 */
  deferMs?: number
}

export interface ConnectionPoolComponents {
  peerId: PeerId
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[]
    openConnection(peer: DialTarget, options?: AbortOptions): Promise<Connection>
  }
}

export interface ConnectionPoolStats {
  dialsStarted: number
  dialsSucceeded: number
  dialsFailed: number
  /** Connections closed as duplicates of another one to the same peer, or beyond `maxConnections`. */
  trimmed: number
}

interface Backoff {
  until: number
  delay: number
  attempts: number
}

/**
 * Dials in flight across every pool of this process. A handshake costs tens of milliseconds of CPU
 * at both ends; a process hosting many nodes (tests, demos, benchmarks) that starts hundreds at once
 * slows every one of them past libp2p's timeouts and completes none. Queued dials wait their turn.
 */
class DialGate {
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }
}

const processDialGate = new DialGate(POOL_MAX_PROCESS_DIALS)

/** Failed peers remembered for backoff. */
const MAX_BACKOFF_ENTRIES = 4096

/** Candidates waiting for a dial slot; discoveries beyond this are dropped until seen again. */
const MAX_QUEUED = 1024

/**
 * Dials discovered peers until `maxConnections` connections are open. libp2p 3 no longer dials
 * discovered peers by itself, so without this service mDNS and bootstrap would only fill the peer
 * store. Failed peers back off exponentially (1 s doubling to 60 s), so an unreachable address
 * announced over and over costs one dial per backoff period.
 */
export class ConnectionPool extends TypedEventEmitter<ConnectionPoolEvents> implements Startable {
  readonly [Symbol.toStringTag] = '@p2p-ai/transport:pool'
  readonly stats: ConnectionPoolStats = { dialsStarted: 0, dialsSucceeded: 0, dialsFailed: 0, trimmed: 0 }

  private readonly components: ConnectionPoolComponents
  private readonly log: Logger
  private maxConnections: number
  private readonly maxParallelDials: number
  private readonly deferMs: number
  private readonly autoDial: boolean
  private readonly selfId: string
  private readonly queue = new Map<string, PeerInfo>()
  private readonly dialling = new Set<string>()
  private readonly deferred = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly backoff = new Map<string, Backoff>()
  private readonly retries = new Map<string, ReturnType<typeof setTimeout>>()
  private started = false
  private trimTimer: ReturnType<typeof setTimeout> | undefined
  private dialBackoff: DialBackoff

  constructor(components: ConnectionPoolComponents, init: ConnectionPoolInit) {
    super()
    this.components = components
    this.dialBackoff = resolveBackoff(init.backoff)
    this.log = components.logger.forComponent('p2p-ai:transport:pool')
    this.maxConnections = init.maxConnections
    this.maxParallelDials = init.maxParallelDials ?? POOL_MAX_PARALLEL_DIALS
    this.deferMs = init.deferMs ?? POOL_DIAL_DEFER_MS
    this.autoDial = init.autoDial ?? true
    this.selfId = components.peerId.toString()
  }

  isStarted(): boolean {
    return this.started
  }

  start(): void {
    this.started = true
    if (this.autoDial) {
      this.components.events.addEventListener('peer:discovery', this.onDiscovery)
    }
    this.components.events.addEventListener('connection:open', this.onConnectionOpen)
  }

  stop(): void {
    this.started = false
    this.components.events.removeEventListener('peer:discovery', this.onDiscovery)
    this.components.events.removeEventListener('connection:open', this.onConnectionOpen)
    clearTimeout(this.trimTimer)
    this.trimTimer = undefined
    for (const timer of this.deferred.values()) {
      clearTimeout(timer)
    }
    this.deferred.clear()
    this.queue.clear()
    this.backoff.clear()
    for (const timer of this.retries.values()) {
      clearTimeout(timer)
    }
    this.retries.clear()
  }

  /** The retry policy in force. */
  get backoffSettings(): Readonly<DialBackoff> {
    return this.dialBackoff
  }

  /**
   * Changes the retry policy, or the most connections, of a running pool; retries already
   * scheduled keep their time, connections over a lower maximum are closed (idle ones first).
   *
   * @throws {InvalidTransportOptionError} for a value out of range (nothing changes)
   */
  configure(settings: { backoff?: Partial<DialBackoff>; maxConnections?: number }): void {
    const backoff = resolveBackoff({ ...this.dialBackoff, ...settings.backoff })
    const max = intOption('maxConnections', settings.maxConnections, this.maxConnections, 1, 100_000)
    this.dialBackoff = backoff
    if (max !== this.maxConnections) {
      this.maxConnections = max
      this.onConnectionOpen()
    }
  }

  /**
   * A peer this node was connected to is gone (its connection closed without a goodbye, or it
   * stopped answering): dial it again now at the addresses given (and those the peer store knows),
   * then with backoff until it answers or `maxAttempts` dials failed (`dial:gave-up`). The one
   * way a lost peer is redialled.
   */
  redial(peer: PeerInfo): void {
    const id = peer.id.toString()
    if (!this.started || id === this.selfId) {
      return
    }
    this.forgetBackoff(id)
    if (this.dialBackoff.maxAttempts === 0) {
      this.safeDispatchEvent('dial:gave-up', { detail: { peer: peer.id, attempts: 0 } })
      return
    }
    if (!this.isBusy(peer.id, id)) {
      this.enqueue(id, peer)
    }
  }

  /** Stops retrying a peer (it said goodbye, or it came back by itself). */
  forget(peer: PeerId): void {
    this.forgetBackoff(peer.toString())
  }

  private forgetBackoff(id: string): void {
    this.backoff.delete(id)
    clearTimeout(this.retries.get(id))
    this.retries.delete(id)
  }

  /**
   * Offers a peer for the pool: it is dialled if the pool has room, it is not connected or being
   * dialled already, and it is not backing off after a failure.
   */
  offer(peer: PeerInfo): void {
    const id = peer.id.toString()
    if (!this.started || id === this.selfId || this.isBusy(peer.id, id)) {
      return
    }
    const backoff = this.backoff.get(id)
    if (backoff !== undefined && backoff.until > Date.now()) {
      return
    }
    // Both sides usually discover each other within milliseconds; only the smaller id dials at
    // once, so the pair ends up with one connection instead of two crossed ones.
    if (this.selfId > id && this.deferMs > 0) {
      this.deferred.set(
        id,
        setTimeout(() => {
          this.deferred.delete(id)
          if (!this.isBusy(peer.id, id)) {
            this.enqueue(id, peer)
          }
        }, this.deferMs),
      )
      return
    }
    this.enqueue(id, peer)
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    this.offer(evt.detail)
  }

  /**
   * libp2p checks the limit when an inbound connection starts its upgrade, so several that race
   * in together can overshoot it; its pruner then runs at once, while identify still has a stream
   * open on the new connection, skips that "busy" connection and never looks again. Crossed dials
   * leave two connections to one peer. So a moment after a connection opens, we look again: close
   * duplicates, then the excess, newest inbound connections first.
   */
  private readonly onConnectionOpen = (): void => {
    if (this.trimTimer === undefined && this.started) {
      this.trimTimer = setTimeout(() => {
        this.trimTimer = undefined
        this.trim()
      }, POOL_TRIM_DELAY_MS)
    }
  }

  private trim(): void {
    if (!this.started) {
      return
    }
    const all = this.components.connectionManager.getConnections()
    const duplicates = [...duplicateConnections(all, this.selfId), ...supersededConnections(all)]
    const remaining = all.filter((c) => !duplicates.includes(c))
    let busy = false
    for (const connection of [...duplicates, ...excessConnections(remaining, this.maxConnections)]) {
      if (!isIdle(connection)) {
        // A task is in flight on it: never cut that short; look again later.
        busy = true
        continue
      }
      this.stats.trimmed++
      this.log(
        'closing %s connection to %p: duplicate, superseded or over the limit',
        connection.direction,
        connection.remotePeer,
      )
      connection.close({ signal: AbortSignal.timeout(POOL_TRIM_CLOSE_TIMEOUT_MS) }).catch((err: unknown) => {
        connection.abort(err as Error)
      })
    }
    if (busy) {
      this.onConnectionOpen()
    }
  }

  /**
   * Backs off from the peer (`backoff`: doubling from 1 s to 30 s by default) and tries again when
   * the backoff ends, up to `maxAttempts` dials: once peers know each other, mDNS goes quiet
   * (known-answer suppression), so a failed peer would otherwise wait a minute or more for its
   * next sighting.
   */
  private onDialFailed(id: string, peer: PeerInfo, err: unknown): void {
    const { initialDelayMs, maxDelayMs, maxAttempts } = this.dialBackoff
    const previous = this.backoff.get(id)
    const base = Math.min(previous === undefined ? initialDelayMs : previous.delay * 2, maxDelayMs)
    // Jitter keeps many nodes that lost the same peer from redialling it in lockstep.
    const delay = Math.round(base * (0.8 + Math.random() * 0.4))
    const attempts = (previous?.attempts ?? 0) + 1
    this.backoff.delete(id)
    this.backoff.set(id, { until: Date.now() + delay, delay: base, attempts })
    if (this.backoff.size > MAX_BACKOFF_ENTRIES) {
      // Bounded against floods of made-up peers: forget the longest-known failure first.
      const oldest = this.backoff.keys().next()
      if (oldest.done !== true) {
        this.backoff.delete(oldest.value)
        clearTimeout(this.retries.get(oldest.value))
        this.retries.delete(oldest.value)
      }
    }
    this.log('dial to %s failed (attempt %d) - %e', id, attempts, err)
    clearTimeout(this.retries.get(id))
    if (attempts < maxAttempts && this.started) {
      this.retries.set(
        id,
        setTimeout(() => {
          this.retries.delete(id)
          // Not through offer(): a timer may fire a millisecond before Date.now() reaches the
          // backoff's end, and offer() would then drop the retry with nothing left to try again.
          if (this.started && !this.isBusy(peer.id, id)) this.enqueue(id, peer)
        }, delay),
      )
      this.safeDispatchEvent('dial:retry', {
        detail: { peer: peer.id, attempts, at: Date.now() + delay, delay },
      })
    } else {
      this.retries.delete(id)
      this.safeDispatchEvent('dial:gave-up', { detail: { peer: peer.id, attempts } })
    }
  }

  /** Connected through an open connection: one being closed (trimmed, pruned) does not count. */
  private isConnected(peerId: PeerId): boolean {
    return this.components.connectionManager.getConnections(peerId).some((c) => c.status === 'open')
  }

  private isBusy(peerId: PeerId, id: string): boolean {
    return this.dialling.has(id) || this.queue.has(id) || this.deferred.has(id) || this.isConnected(peerId)
  }

  private hasRoom(): boolean {
    return (
      this.components.connectionManager.getConnections().length + this.dialling.size < this.maxConnections
    )
  }

  private enqueue(id: string, peer: PeerInfo): void {
    if (this.queue.size >= MAX_QUEUED) {
      return
    }
    this.queue.set(id, peer)
    this.pump()
  }

  private pump(): void {
    while (this.started && this.dialling.size < this.maxParallelDials && this.queue.size > 0) {
      const next = this.queue.entries().next()
      if (next.done === true) {
        return
      }
      const [id, peer] = next.value
      this.queue.delete(id)
      if (!this.hasRoom()) {
        // Full: drop the rest; peers are offered again when mDNS sees them next.
        this.queue.clear()
        return
      }
      if (this.isConnected(peer.id)) {
        continue
      }
      this.dial(id, peer)
    }
  }

  private dial(id: string, peer: PeerInfo): void {
    this.dialling.add(id)
    const target: DialTarget =
      peer.multiaddrs.length > 0 ? peer.multiaddrs.map((ma) => withPeerId(ma, id)) : peer.id
    processDialGate
      .run(async () => {
        // The wait for a slot can be long in a busy process: the peer may have dialled us
        // meanwhile, and a second connection would only be closed again.
        if (!this.started || this.isConnected(peer.id)) {
          return false
        }
        this.stats.dialsStarted++
        await this.components.connectionManager.openConnection(target)
        return true
      })
      .then((dialled) => {
        if (dialled) {
          this.stats.dialsSucceeded++
        }
        this.backoff.delete(id)
        clearTimeout(this.retries.get(id))
        this.retries.delete(id)
      })
      .catch((err: unknown) => {
        this.stats.dialsFailed++
        this.onDialFailed(id, peer, err)
      })
      .finally(() => {
        this.dialling.delete(id)
        this.pump()
      })
  }
}

const DEFAULT_BACKOFF: DialBackoff = Object.freeze({
  initialDelayMs: POOL_DIAL_BACKOFF_MS,
  maxDelayMs: POOL_DIAL_BACKOFF_MAX_MS,
  maxAttempts: POOL_MAX_DIAL_ATTEMPTS,
})

/**
 * A retry policy with defaults for what `backoff` leaves out, checked.
 *
 * @throws {InvalidTransportOptionError} for a value out of range
 */
export function resolveBackoff(backoff: Partial<DialBackoff> = {}): DialBackoff {
  const { initialDelayMs, maxDelayMs, maxAttempts } = { ...DEFAULT_BACKOFF, ...backoff }
  intOption('backoff.initialDelayMs', initialDelayMs, initialDelayMs, 1, 3_600_000)
  intOption('backoff.maxDelayMs', maxDelayMs, maxDelayMs, 1, 3_600_000)
  intOption('backoff.maxAttempts', maxAttempts, maxAttempts, 0, 1_000)
  if (maxDelayMs < initialDelayMs) {
    throw new InvalidTransportOptionError('backoff.maxDelayMs', 'must be at least backoff.initialDelayMs')
  }
  return Object.freeze({ initialDelayMs, maxDelayMs, maxAttempts })
}

function withPeerId(ma: Multiaddr, id: string): Multiaddr {
  return ma.getComponents().at(-1)?.code === CODE_P2P ? ma : ma.encapsulate(multiaddr(`/p2p/${id}`))
}

/** The pool service, for `services` of a libp2p config. */
export function connectionPool(
  init: ConnectionPoolInit,
): (components: ConnectionPoolComponents) => ConnectionPool {
  return (components) => new ConnectionPool(components, init)
}
