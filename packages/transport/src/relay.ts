import type { CircuitRelayServerInit, CircuitRelayTransportInit } from '@libp2p/circuit-relay-v2'
import type { Connection, PeerId } from '@libp2p/interface'
import { intOption, objectOption } from './config.js'
import {
  DEFAULT_RELAY_CIRCUIT_BYTES,
  DEFAULT_RELAY_CIRCUIT_DURATION_MS,
  DEFAULT_RELAY_MAX_CIRCUITS,
  DEFAULT_RELAY_MAX_CIRCUITS_PER_PEER,
  DEFAULT_RELAY_MAX_CIRCUITS_TO_PEER,
  DEFAULT_RELAY_MAX_RESERVATIONS,
  DEFAULT_RELAY_RESERVATION_TTL_MS,
  DEFAULT_RELAY_RESERVATIONS,
  RELAY_HOP_PROTOCOL,
  RELAY_RESERVATION_TIMEOUT_MS,
} from './constants.js'
import { InvalidTransportOptionError } from './errors.js'

/**
 * Circuit relay v2 options of `createTransport()`. Every node can dial through relays and reserve
 * slots on them (the client); publicly reachable nodes also relay for others (the server), within
 * the limits below.
 */
export interface TransportRelayOptions {
  /**
   * Relays to hold a reservation on, found among connected peers, bootstrap peers and by DHT random
   * walk; renewed before they expire and replaced when a relay goes away. Peers reach this node
   * through them while it is behind NAT. `0` makes none (the node can still dial through relays).
   * @default 1 when `bootstrap` is given (a node reaching beyond its LAN); 0 without bootstrap
   * peers (on a LAN everyone dials everyone directly), when `announce` lists a public address, or
   * with `autoDial: false` (looking for relays dials discovered peers)
   */
  reservations?: number
  /**
   * Relay for other peers: `'auto'` does so unless this node has found out it is not publicly
   * reachable (then it refuses reservations, since nobody could use them); `true` always; `false`
   * never.
   * @default 'auto'
   */
  server?: 'auto' | boolean
  /** Reservations this node grants at once, over all peers. @default 128 */
  maxReservations?: number
  /** How long a reservation lasts before the client must renew it. @default 3_600_000 (1 h) */
  reservationTtlMs?: number
  /** How long one relayed connection may last before the relay resets it. @default 600_000 (10 min) */
  circuitDurationMs?: number
  /**
   * Bytes one relayed connection may carry, both directions together, before the relay resets it.
   * @default 8 MiB
   */
  circuitBytes?: number
  /** Relayed connections one peer may open through this relay at once. @default 16 */
  maxCircuitsPerPeer?: number
  /**
   * Relayed connections this relay carries at once, over all peers: with `circuitBytes` and
   * `circuitDurationMs`, what the relay as a whole gives. (libp2p's relay has no rate limit in
   * bytes per second; a machine's traffic shaper sets one.) @default 256
   */
  maxCircuits?: number
  /** Relayed connections one reserved peer may receive through this relay at once. @default 64 */
  maxCircuitsToPeer?: number
}

/** The relay settings in force, after defaults and validation. */
export interface ResolvedRelay {
  reservations: number
  server: 'auto' | boolean
  serverInit: CircuitRelayServerInit
  transportInit: CircuitRelayTransportInit
  /** Circuits carried at once: over all peers, and from one peer over all its connections. */
  circuits: CircuitBudget
}

/** How many relayed connections a relay carries at once. */
export interface CircuitBudget {
  readonly total: number
  readonly perPeer: number
}

/**
 * Whether one more circuit from `source` goes over `budget`, asked while the relay handles its
 * request (the connection gater's `denyOutboundRelayedConnection`). Each circuit a relay carries
 * is an open inbound hop stream, the request's own among them; libp2p's relay counts circuits
 * per connection only (its hop stream limit), so a peer with several connections, or many peers,
 * could otherwise take any number.
 */
export function overCircuitBudget(
  connections: readonly Connection[],
  source: PeerId,
  budget: CircuitBudget,
): boolean {
  let total = 0
  let fromSource = 0
  for (const connection of connections) {
    for (const stream of connection.streams) {
      if (
        stream.protocol !== RELAY_HOP_PROTOCOL ||
        stream.direction !== 'inbound' ||
        stream.status !== 'open'
      )
        continue
      total++
      if (connection.remotePeer.equals(source)) fromSource++
    }
  }
  return total - 1 >= budget.total || fromSource - 1 >= budget.perPeer
}

const SERVER_MODES: ReadonlyArray<unknown> = ['auto', true, false]

/**
 * Validates `relay` and turns it into libp2p's server and transport settings; `undefined` when
 * relays are off entirely (`relay: false`).
 *
 * @throws {InvalidTransportOptionError}
 */
export function resolveRelay(
  option: unknown,
  context: { announcesPublic: boolean; autoDial: boolean; bootstrap: boolean },
): ResolvedRelay | undefined {
  const value = objectOption<TransportRelayOptions>('relay', option)
  if (value === false) {
    return undefined
  }
  const init: TransportRelayOptions = typeof value === 'object' ? value : {}
  if (!SERVER_MODES.includes(init.server)) {
    if (init.server !== undefined) {
      throw new InvalidTransportOptionError(
        'relay.server',
        `expected 'auto', true or false, got ${String(init.server)}`,
      )
    }
  }
  const reservations = intOption(
    'relay.reservations',
    init.reservations,
    context.announcesPublic || !context.autoDial || !context.bootstrap ? 0 : DEFAULT_RELAY_RESERVATIONS,
    0,
    16,
  )
  const maxReservations = intOption(
    'relay.maxReservations',
    init.maxReservations,
    DEFAULT_RELAY_MAX_RESERVATIONS,
    1,
    100_000,
  )
  const reservationTtl = intOption(
    'relay.reservationTtlMs',
    init.reservationTtlMs,
    DEFAULT_RELAY_RESERVATION_TTL_MS,
    60_000,
    7 * 24 * 60 * 60_000,
  )
  const duration = intOption(
    'relay.circuitDurationMs',
    init.circuitDurationMs,
    DEFAULT_RELAY_CIRCUIT_DURATION_MS,
    1_000,
    24 * 60 * 60_000,
  )
  const bytes = intOption(
    'relay.circuitBytes',
    init.circuitBytes,
    DEFAULT_RELAY_CIRCUIT_BYTES,
    1_024,
    Number.MAX_SAFE_INTEGER,
  )
  const perPeer = intOption(
    'relay.maxCircuitsPerPeer',
    init.maxCircuitsPerPeer,
    DEFAULT_RELAY_MAX_CIRCUITS_PER_PEER,
    1,
    1_024,
  )
  const total = intOption('relay.maxCircuits', init.maxCircuits, DEFAULT_RELAY_MAX_CIRCUITS, 1, 100_000)
  const toPeer = intOption(
    'relay.maxCircuitsToPeer',
    init.maxCircuitsToPeer,
    DEFAULT_RELAY_MAX_CIRCUITS_TO_PEER,
    1,
    1_024,
  )
  return {
    reservations,
    server: init.server ?? 'auto',
    serverInit: {
      reservations: {
        maxReservations,
        reservationTtl,
        applyDefaultLimit: true,
        defaultDurationLimit: duration,
        defaultDataLimit: BigInt(bytes),
      },
      maxInboundHopStreams: perPeer,
      maxOutboundStopStreams: toPeer,
    },
    transportInit: {
      reservationCompletionTimeout: RELAY_RESERVATION_TIMEOUT_MS,
      maxInboundStopStreams: toPeer,
      maxOutboundStopStreams: toPeer,
    },
    circuits: { total, perPeer },
  }
}
