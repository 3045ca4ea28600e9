import type {
  ComponentLogger,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  Startable,
  TypedEventTarget,
} from '@libp2p/interface'
import { getNetConfig, isNetworkAddress, isPrivate } from '@libp2p/utils'
import { CODE_P2P, CODE_P2P_CIRCUIT, type Multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { MAX_OBSERVED_ADDRESSES } from './constants.js'
import type { QuicStatus } from './quic.js'

/**
 * Whether peers on the internet can dial this node directly:
 *
 * - `'public'`: it announces a public address that something confirmed: a peer dialled it back
 *   (AutoNAT), the router mapped a port for it (UPnP), or the operator declared it (`announce`);
 * - `'private'`: peers on the internet see it behind a NAT (the address they observe is not one of
 *   its own), or AutoNAT found its public addresses undialable; peers reach it through relays;
 * - `'unknown'`: nothing tells yet (no peer on a public address has talked to it).
 */
export type Reachability = 'public' | 'private' | 'unknown'

/** What the node knows about how others reach it. */
export interface ReachabilityStatus {
  reachability: Reachability
  /**
   * Addresses that peers on public addresses saw this node's connections come from (identify),
   * newest first. Behind NAT they name the router, with the port it mapped for each connection.
   */
  observed: string[]
  /** The addresses the node announces (identify, DHT): confirmed public ones, relay ones, LAN ones. */
  announced: string[]
  /** Relays holding a reservation for this node, by PeerId. */
  relays: string[]
  /** Whether the QUIC transport is loaded, and if not, why. */
  quic: QuicStatus
}

/** What the reachability service is told by `createTransport()`. */
export interface ReachabilityInit {
  /** Whether QUIC could be loaded, for `status()`. @default unavailable, reason 'unknown' */
  quic?: QuicStatus
}

export interface ReachabilityEvents {
  /** The reachability changed; `detail` is the new status. */
  change: CustomEvent<ReachabilityStatus>
}

export interface ReachabilityComponents {
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
  addressManager: {
    getAddresses(): Multiaddr[]
    getAddressesWithMetadata(): Array<{
      multiaddr: Multiaddr
      verified: boolean
      expires: number
      type: string
    }>
  }
  transportManager: { getAddrs(): Multiaddr[] }
}

/**
 * Keeps track of this node's reachability from what libp2p already learns: identify's observed
 * addresses (a NAT shows as an address that is not ours) and the addresses AutoNAT, UPnP or the
 * operator confirmed. It sends nothing itself.
 */
export class ReachabilityService extends TypedEventEmitter<ReachabilityEvents> implements Startable {
  readonly [Symbol.toStringTag] = '@p2p-ai/transport:reachability'

  private readonly components: ReachabilityComponents
  private readonly log: Logger
  /** Observed address → when, newest last. */
  private readonly observedAt = new Map<string, number>()
  private behindNat = false
  private current: Reachability = 'unknown'
  private started = false
  private readonly quic: QuicStatus

  constructor(components: ReachabilityComponents, init: ReachabilityInit = {}) {
    super()
    this.components = components
    this.quic = init.quic ?? { available: false, reason: 'unknown' }
    this.log = components.logger.forComponent('p2p-ai:transport:reachability')
  }

  isStarted(): boolean {
    return this.started
  }

  start(): void {
    this.started = true
    this.components.events.addEventListener('peer:identify', this.onIdentify)
    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
  }

  stop(): void {
    this.started = false
    this.components.events.removeEventListener('peer:identify', this.onIdentify)
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
  }

  /** The current reachability; see `Reachability`. */
  get reachability(): Reachability {
    return this.current
  }

  /** Reachability, observed and announced addresses, and relay reservations, as of now. */
  status(): ReachabilityStatus {
    const announced = this.components.addressManager.getAddresses()
    return {
      reachability: this.current,
      observed: [...this.observedAt.keys()].reverse(),
      announced: announced.map(String),
      relays: [...new Set(announced.flatMap((ma) => relayOf(ma) ?? []))],
      quic: { ...this.quic },
    }
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { observedAddr, connection } = evt.detail
    // Only a peer on the internet says anything about NAT: one on our LAN sees our LAN address.
    if (
      observedAddr === undefined ||
      !isPublicDirect(connection.remoteAddr) ||
      !isNetworkAddress(observedAddr)
    ) {
      return
    }
    const observed = observedAddr.decapsulateCode(CODE_P2P)
    if (isPrivate(observed)) {
      return
    }
    const key = observed.toString()
    this.observedAt.delete(key)
    this.observedAt.set(key, Date.now())
    if (this.observedAt.size > MAX_OBSERVED_ADDRESSES) {
      const oldest = this.observedAt.keys().next()
      if (oldest.done !== true) this.observedAt.delete(oldest.value)
    }
    const ownHosts = new Set(this.components.transportManager.getAddrs().flatMap((ma) => hostOf(ma) ?? []))
    const host = hostOf(observed)
    if (host !== undefined && !ownHosts.has(host)) {
      this.behindNat = true
    }
    this.update()
  }

  private readonly onSelfUpdate = (): void => {
    this.update()
  }

  private update(): void {
    const next = this.compute()
    if (next !== this.current) {
      this.log('reachability %s -> %s', this.current, next)
      this.current = next
      this.safeDispatchEvent('change', { detail: this.status() })
    }
  }

  private compute(): Reachability {
    const addresses = this.components.addressManager.getAddressesWithMetadata()
    const confirmedPublic = addresses.some(
      (a) =>
        a.verified &&
        isNetworkAddress(a.multiaddr) &&
        !isPrivate(a.multiaddr) &&
        relayOf(a.multiaddr) === undefined,
    )
    if (confirmedPublic) {
      return 'public'
    }
    // AutoNAT un-confirms an address that peers failed to dial: it stays unverified with a retry time.
    const rejected = addresses.some(
      (a) =>
        !a.verified && a.expires > Date.now() && isNetworkAddress(a.multiaddr) && !isPrivate(a.multiaddr),
    )
    return this.behindNat || rejected ? 'private' : 'unknown'
  }
}

/** The relay's PeerId in a `/…/p2p/<relay>/p2p-circuit/…` address. */
export function relayOf(ma: Multiaddr): string | undefined {
  const components = ma.getComponents()
  const circuit = components.findIndex((c) => c.code === CODE_P2P_CIRCUIT)
  if (circuit < 0) {
    return undefined
  }
  return components.slice(0, circuit).findLast((c) => c.code === CODE_P2P)?.value
}

/** The host of a direct address; undefined for a circuit address (it names the relay's host). */
function hostOf(ma: Multiaddr): string | undefined {
  if (!isNetworkAddress(ma) || relayOf(ma) !== undefined) {
    return undefined
  }
  return getNetConfig(ma).host
}

function isPublicDirect(ma: Multiaddr): boolean {
  return relayOf(ma) === undefined && isNetworkAddress(ma) && !isPrivate(ma)
}

/** The reachability service, for `services` of a libp2p config. */
export function reachability(
  init: ReachabilityInit = {},
): (components: ReachabilityComponents) => ReachabilityService {
  return (components) => new ReachabilityService(components, init)
}
