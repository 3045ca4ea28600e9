/**
 * What the peer directory says about a peer, and what it needs of the network.
 */
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { Capabilities } from '@p2p-ai/protocol'
import type { PeerReputation } from './reputation.js'

/** A multiaddr as libp2p hands it out; only its text form is kept in snapshots. */
export interface AddressLike {
  toString(): string
}

/**
 * `connected`: at least one open connection, answering heartbeats.
 * `failed`: its connection closed without a goodbye, or a heartbeat went unanswered; the
 * transport's connection pool redials it until it answers or gives up (then it is removed).
 * `banned`: it misbehaved towards this node (reputation.ts): disconnected, never redialled, and
 * refused by the connection gater until `bannedUntil` (then it is removed).
 */
export type PeerStatus = 'connected' | 'failed' | 'banned'

/** Why a peer left the directory. */
export type PeerRemoveReason = 'goodbye' | 'unreachable' | 'ban-ended'

/**
 * How this node reaches a peer: straight, or through a circuit relay (`via`: the relay's PeerId).
 * A relayed connection is `limited` (data and duration caps): only protocols that opt in run on it.
 */
export interface PeerConnection {
  readonly kind: 'direct' | 'relayed'
  readonly via?: string
  readonly limited: boolean
  /** The address of the remote end (for a relayed connection, the circuit address). */
  readonly remoteAddr: string
  readonly direction: 'inbound' | 'outbound'
}

/** A snapshot of everything this node knows about one peer. */
export interface PeerInfo {
  readonly peerId: string
  readonly status: PeerStatus
  /** The best open connection (direct before relayed), while connected. */
  readonly connection?: PeerConnection
  /** Known multiaddrs: where it listens (from identify) and where we reached it. */
  readonly addresses: readonly string[]
  /** Round-trip time of the last heartbeat, in milliseconds (measured as soon as it connects). */
  readonly rttMs?: number
  /** `Date.now()` when we last heard from it (connection, identify, heartbeat or announcement). */
  readonly lastSeen: number
  /** From identify, e.g. `p2p-ai/0.1.0`. */
  readonly agentVersion?: string
  /** Protocols it speaks, from identify. */
  readonly protocols: readonly string[]
  /** What it runs and how busy it is: its latest capability announcement. */
  readonly capabilities?: Capabilities
  /** The protocol minor version it announced (0 until it announced). */
  readonly protocolMinor: number
  /** Tasks of this node it is running or queueing right now. */
  readonly outstanding: number
  /** Its track record as a provider of this node's tasks. */
  readonly reputation: PeerReputation
  /** `Date.now()` of the current connection (or the last one, for a failed peer). */
  readonly connectedAt: number
  /** Set while `failed`: when and why. */
  readonly failedAt?: number
  readonly failureReason?: string
  /** Redials made since it failed. */
  readonly reconnectAttempts: number
  /** When the next redial is due, while `failed`. */
  readonly nextReconnectAt?: number
  /** While `banned`: `Date.now()` when the ban ends, and the offence that completed it. */
  readonly bannedUntil?: number
  readonly banReason?: string
}

/** What the directory needs of the network: a narrow slice of libp2p, easy to fake in tests. */
export interface PeerNetwork {
  /** One ping round trip, in milliseconds. */
  ping(peer: PeerId, options: AbortOptions): Promise<number>
  hangUp(peer: PeerId, options?: AbortOptions): Promise<void>
  /** Hands a lost peer to the one redial path (the transport's connection pool). */
  redial(peer: PeerId, addresses: readonly AddressLike[]): void
  /** The peer is gone for good (goodbye): stop redialling it. */
  forget(peer: PeerId): void
  /** The open connections to the peer, as the directory describes them. */
  connections(peer: PeerId): readonly PeerConnection[]
}

/** Liveness and redial settings of the directory (the `heartbeat.*` and `reconnect.*` settings). */
export interface PeerDirectorySettings {
  heartbeatIntervalMs: number
  heartbeatTimeoutMs: number
}
