import type { AbortOptions, PeerId } from '@libp2p/interface'
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_RECONNECT_INITIAL_DELAY_MS,
  DEFAULT_RECONNECT_MAX_ATTEMPTS,
  DEFAULT_RECONNECT_MAX_DELAY_MS,
} from './constants.js'

/** A multiaddr as libp2p hands it out; only its text form is kept in snapshots. */
export interface AddressLike {
  toString(): string
}

/**
 * `connected`: at least one open connection and answering heartbeats.
 * `failed`: its connection closed without a goodbye, or a heartbeat timed out; redials are scheduled.
 */
export type PeerStatus = 'connected' | 'failed'

/** Why a peer left the table. */
export type PeerRemoveReason = 'goodbye' | 'unreachable'

/** A snapshot of one peer table entry. */
export interface PeerInfo {
  readonly peerId: string
  readonly status: PeerStatus
  /** Known multiaddrs: where it listens (from identify) and where we reached it. */
  readonly addresses: readonly string[]
  /** Round-trip time of the last heartbeat, in milliseconds. */
  readonly rttMs?: number
  /** `Date.now()` when we last heard from it (connection, identify or heartbeat). */
  readonly lastSeen: number
  /** From identify, e.g. `p2p-ai/0.1.0`. */
  readonly agentVersion?: string
  /** Protocols it speaks, from identify. */
  readonly protocols: readonly string[]
  /** What it can do, from its capability announcement (see `setPeerCapabilities`). */
  readonly capabilities?: unknown
  /** `Date.now()` of the current connection (or the last one, for a failed peer). */
  readonly connectedAt: number
  /** Set while `failed`: when and why. */
  readonly failedAt?: number
  readonly failureReason?: string
  /** Redials made since it failed. */
  readonly reconnectAttempts: number
  /** When the next redial is due, while `failed`. */
  readonly nextReconnectAt?: number
}

/** What the peer table needs of the network: a narrow slice of libp2p, easy to fake in tests. */
export interface PeerNetwork {
  ping(peer: PeerId, options: AbortOptions): Promise<number>
  hangUp(peer: PeerId, options?: AbortOptions): Promise<void>
  /** Dials the peer at the given known addresses (and whatever else the peer store knows). */
  redial(peer: PeerId, addresses: readonly AddressLike[], options: AbortOptions): Promise<void>
}

export interface PeerTableSettings {
  heartbeatIntervalMs: number
  heartbeatTimeoutMs: number
  reconnectInitialDelayMs: number
  reconnectMaxDelayMs: number
  reconnectMaxAttempts: number
}

export const DEFAULT_PEER_TABLE_SETTINGS: Readonly<PeerTableSettings> = Object.freeze({
  heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
  heartbeatTimeoutMs: DEFAULT_HEARTBEAT_TIMEOUT_MS,
  reconnectInitialDelayMs: DEFAULT_RECONNECT_INITIAL_DELAY_MS,
  reconnectMaxDelayMs: DEFAULT_RECONNECT_MAX_DELAY_MS,
  reconnectMaxAttempts: DEFAULT_RECONNECT_MAX_ATTEMPTS,
})

/** What the table reports to its owner (the node turns these into events). */
export interface PeerTableEvents {
  connect(peer: PeerInfo): void
  update(peer: PeerInfo): void
  failed(peer: PeerInfo, reason: string): void
  remove(peerId: string, reason: PeerRemoveReason): void
}
