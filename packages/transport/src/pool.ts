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
import { duplicateConnections, excessConnections, isIdle } from './pool-trim.js'

export interface ConnectionPoolInit {
  /** Stop dialling once this many connections are open. */
  maxConnections: number
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
export class ConnectionPool implements Startable {
  readonly [Symbol.toStringTag] = '@p2p-ai/transport:pool'
  readonly stats: ConnectionPoolStats = { dialsStarted: 0, dialsSucceeded: 0, dialsFailed: 0, trimmed: 0 }

  private readonly components: ConnectionPoolComponents
  private readonly log: Logger
  private readonly maxConnections: number
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

  constructor(components: ConnectionPoolComponents, init: ConnectionPoolInit) {
    this.components = components
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
    const duplicates = duplicateConnections(all, this.selfId)
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
        'closing %s connection to %p: duplicate or over the limit',
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
   * Backs off from the peer, doubling from 1 s to 60 s, and tries again when the backoff ends, a
   * few times: once peers know each other, mDNS goes quiet (known-answer suppression), so a failed
   * peer would otherwise wait a minute or more for its next sighting.
   */
  private onDialFailed(id: string, peer: PeerInfo, err: unknown): void {
    const previous = this.backoff.get(id)
    const delay = Math.min((previous?.delay ?? POOL_DIAL_BACKOFF_MS / 2) * 2, POOL_DIAL_BACKOFF_MAX_MS)
    const attempts = (previous?.attempts ?? 0) + 1
    this.backoff.delete(id)
    this.backoff.set(id, { until: Date.now() + delay, delay, attempts })
    if (this.backoff.size > MAX_BACKOFF_ENTRIES) {
      // Bounded against floods of made-up peers: forget the longest-known failure first.
      const oldest = this.backoff.keys().next()
      if (oldest.done !== true) {
        this.backoff.delete(oldest.value)
        clearTimeout(this.retries.get(oldest.value))
        this.retries.delete(oldest.value)
      }
    }
    this.log('dial to %s failed (attempt %d), retrying in %d ms - %e', id, attempts, delay, err)
    clearTimeout(this.retries.get(id))
    if (attempts < POOL_MAX_DIAL_ATTEMPTS && this.started) {
      this.retries.set(
        id,
        setTimeout(() => {
          this.retries.delete(id)
          this.offer(peer)
        }, delay),
      )
    } else {
      this.retries.delete(id)
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

function withPeerId(ma: Multiaddr, id: string): Multiaddr {
  return ma.getComponents().at(-1)?.code === CODE_P2P ? ma : ma.encapsulate(multiaddr(`/p2p/${id}`))
}

/** The pool service, for `services` of a libp2p config. */
export function connectionPool(
  init: ConnectionPoolInit,
): (components: ConnectionPoolComponents) => ConnectionPool {
  return (components) => new ConnectionPool(components, init)
}
