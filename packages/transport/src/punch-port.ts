import { createServer } from 'node:net'
import type {
  Connection,
  IdentifyResult,
  Logger,
  MultiaddrConnection,
  PeerId,
  Transport,
  Upgrader,
  UpgraderOptions,
} from '@libp2p/interface'
import { getNetConfig, isNetworkAddress, isPrivate } from '@libp2p/utils'
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { PUNCH_OBSERVE_TIMEOUT_MS, PUNCH_OBSERVERS } from './constants.js'

/**
 * The punch port: one local TCP port that this node makes its hole-punching connections from, and
 * what the NAT in front of it makes of that port.
 *
 * Why a port of its own: a TCP hole punch is a simultaneous open, each side connecting to the
 * address at which the other's NAT maps the other's port; that only works if each side connects
 * from the very port whose mapping it announced. js-libp2p's TCP transport dials from a fresh
 * ephemeral port, and cannot dial from its listening port (Node has no SO_REUSEPORT on listening
 * sockets). But libuv binds every TCP socket with SO_REUSEADDR, and Linux lets several connecting
 * (not listening) sockets share a local port as long as their 4-tuples differ. So the node keeps a
 * port nobody listens on and dials from it:
 *
 * 1. to a peer on a public address (a bootstrap or relay node), so that peer's identify tells the
 *    address the NAT maps the punch port to (the observation connection, kept open: an
 *    endpoint-independent NAT keeps the mapping while it is in use);
 * 2. to a second such peer when there is one: two observers seeing the same address mean an
 *    endpoint-independent mapping (a "cone" NAT: punching can work); different addresses mean an
 *    endpoint-dependent one (a "symmetric" NAT: it cannot, without port prediction);
 * 3. to a NATed peer's mapped punch address at the moment it dials ours (`hole-punch.ts`).
 */

/** What this node knows of its punch port's mapping. */
export type PortMapping =
  /** Nothing observed it yet. */
  | 'unknown'
  /** Peers on public addresses see this node at its own address: no NAT in front of it. */
  | 'none'
  /** Observed at one address by every observer (one observer so far counts as this). */
  | 'endpoint-independent'
  /** Observed at different addresses by different observers: hole punching cannot work. */
  | 'endpoint-dependent'

/** The punch port, as `status()` reports it. */
export interface PunchPortStatus {
  /** The local TCP port punches are made from. */
  port: number
  /** Addresses peers on public addresses saw the port at, one per observer. */
  observed: string[]
  mapping: PortMapping
}

/** What the punch port needs of libp2p's transport manager and upgrader. */
/** identify results kept for connections whose dial has not returned yet. */
const MAX_EARLY_IDENTIFIED = 64

export interface PunchPortComponents {
  transportManager: {
    dialTransportForMultiaddr(ma: Multiaddr): Pick<Transport, 'dial'> | undefined
  }
  upgrader: Upgrader
  /** This node's own (listen) addresses: an observation at one of their hosts means no NAT. */
  ownHosts(): Set<string>
  log: Logger
}

interface Observation {
  peer: string
  /** The observer's address the connection went to. */
  target: string
  /** Undefined until identify on the connection reports it. */
  observed: Multiaddr | undefined
}

/** A free TCP port on this host, as the OS hands out: the punch port. */
export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '0.0.0.0', () => {
      const address = server.address()
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no TCP port'))
        else resolve(address.port)
      })
    })
  })
}

/** The host of a direct (not relayed) address on a public IP, any transport. */
function publicHost(ma: Multiaddr): string | undefined {
  if (ma.toString().includes('/p2p-circuit') || !isNetworkAddress(ma) || isPrivate(ma)) return undefined
  return getNetConfig(ma).host
}

/** A TCP multiaddr on a public IPv4 address (not relayed), without its `/p2p/` part. */
export function publicTcp(ma: Multiaddr): Multiaddr | undefined {
  const components = ma.getComponents()
  if (components.at(-1)?.code === CODE_P2P) components.pop()
  const [ip, tcp] = components
  if (components.length !== 2 || ip?.name !== 'ip4' || tcp?.name !== 'tcp') return undefined
  const bare = multiaddr(`/ip4/${ip.value}/tcp/${tcp.value}`)
  return isPrivate(bare) ? undefined : bare
}

export class PunchPort {
  readonly #components: PunchPortComponents
  #port: number
  /** Observation connections by connection id. */
  readonly #observations = new Map<string, Observation>()
  /** Observers being dialled, by PeerId. */
  readonly #dialling = new Set<string>()
  /** What identify saw on recent connections, by connection id (see `onIdentify`). */
  readonly #identified = new Map<string, Multiaddr>()
  /** Whether peers on public addresses see this node behind a NAT (from any connection). */
  #nat: 'unknown' | 'none' | 'behind' = 'unknown'

  constructor(components: PunchPortComponents, port: number) {
    this.#components = components
    this.#port = port
  }

  get port(): number {
    return this.#port
  }

  status(): PunchPortStatus {
    return {
      port: this.#port,
      observed: this.#observed().map(String),
      mapping: this.mapping,
    }
  }

  get mapping(): PortMapping {
    if (this.#nat === 'none') return 'none'
    const observed = this.#observed()
    if (observed.length === 0) return 'unknown'
    const own = this.#components.ownHosts()
    if (observed.some((ma) => own.has(getNetConfig(ma).host))) return 'none'
    return new Set(observed.map(String)).size === 1 ? 'endpoint-independent' : 'endpoint-dependent'
  }

  /**
   * Where a peer should connect to reach the punch port: the observed mapping, when it is the same
   * whoever looks (or only one observer looked); nothing when it depends on the destination.
   */
  addresses(): Multiaddr[] {
    const mapping = this.mapping
    if (mapping === 'endpoint-dependent' || mapping === 'unknown') return []
    return [...new Map(this.#observed().map((ma) => [ma.toString(), ma])).values()]
  }

  /** Whether an observation is still wanted (fewer observers than `PUNCH_OBSERVERS`). */
  get wantsObserver(): boolean {
    return this.#observations.size + this.#dialling.size < PUNCH_OBSERVERS
  }

  /**
   * identify finished on some connection: records what the observer saw on an observation
   * connection, and looks for a new observer among peers on public addresses.
   */
  onIdentify(result: IdentifyResult): void {
    const { connection, observedAddr, listenAddrs, peerId } = result
    const observed = observedAddr === undefined ? undefined : publicTcp(observedAddr)
    const observation = this.#observations.get(connection.id)
    if (observation !== undefined) {
      if (observed !== undefined) observation.observed = observed
      return
    }
    // identify may finish on an observation connection before its dial has returned: kept for it.
    if (observed !== undefined) {
      this.#identified.set(connection.id, observed)
      if (this.#identified.size > MAX_EARLY_IDENTIFIED)
        this.#identified.delete(this.#identified.keys().next().value as string)
    }
    if (connection.limits !== undefined) return
    const own = this.#components.ownHosts()
    // What a peer on a public address sees of any connection (TCP or QUIC) tells whether a NAT is
    // in the way.
    const seen = observedAddr === undefined ? undefined : publicHost(observedAddr)
    if (seen !== undefined && publicHost(connection.remoteAddr) !== undefined) {
      this.#nat = own.has(seen) ? 'none' : 'behind'
    }
    // Only a node behind NAT needs its punch port observed. A public node would only add a
    // second connection to each public peer, crossing the one that peer dialled.
    // A peer reached by dialling has a dialable address for sure; its listen addresses may not be
    // announced yet (libp2p withholds public ones until AutoNAT confirms them).
    this.#consider(
      peerId,
      connection.direction === 'outbound' ? [connection.remoteAddr, ...listenAddrs] : listenAddrs,
    )
  }

  /**
   * A connected peer's addresses changed (identify push: it confirmed a public address, say):
   * it may now be an observer, e.g. a public node first reached over QUIC that turns out to
   * listen on TCP too.
   */
  onPeerAddresses(peerId: PeerId, addresses: Multiaddr[]): void {
    this.#consider(peerId, addresses)
  }

  /** Observes the punch port through `peerId` at the first public TCP address of `candidates`. */
  #consider(peerId: PeerId, candidates: Multiaddr[]): void {
    if (this.#nat !== 'behind' || !this.wantsObserver) return
    const peer = peerId.toString()
    const observers = [...this.#observations.values()]
    if (this.#dialling.has(peer) || observers.some((o) => o.peer === peer)) return
    const own = this.#components.ownHosts()
    const target = candidates
      .map(publicTcp)
      .find(
        (ma) =>
          ma !== undefined &&
          !own.has(getNetConfig(ma).host) &&
          !observers.some((o) => o.target === ma.toString()),
      )
    if (target !== undefined) void this.#observe(peerId, target)
  }

  /** A connection closed: an observation connection takes its observation with it. */
  onClose(connection: Connection): void {
    this.#observations.delete(connection.id)
  }

  /**
   * Dials `ma` from the punch port. With `initiator: false` the connection is upgraded as the
   * responder (Noise and multistream-select), which one side of a simultaneous open must be.
   */
  async dial(ma: Multiaddr, options: { timeoutMs: number; initiator?: boolean }): Promise<Connection> {
    const transport = this.#components.transportManager.dialTransportForMultiaddr(ma)
    if (transport === undefined) throw new Error(`no transport dials ${ma.toString()}`)
    // The TCP transport hands its options to net.connect, where a signal stays tied to the socket
    // for its whole life: a timeout signal would close the connection later. This one only ever
    // fires while dialling.
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(new Error('dial timed out')), options.timeoutMs)
    const upgrader = this.#components.upgrader
    try {
      return await transport.dial(ma, {
        signal: controller.signal,
        upgrader: options.initiator === false ? responder(upgrader) : upgrader,
        localAddress: '0.0.0.0',
        localPort: this.#port,
      } as Parameters<Transport['dial']>[1])
    } finally {
      clearTimeout(timer)
    }
  }

  async #observe(peerId: PeerId, address: Multiaddr): Promise<void> {
    const peer = peerId.toString()
    this.#dialling.add(peer)
    try {
      const connection = await this.dial(address.encapsulate(`/p2p/${peer}`), {
        timeoutMs: PUNCH_OBSERVE_TIMEOUT_MS,
      })
      this.#observations.set(connection.id, {
        peer,
        target: address.toString(),
        observed: this.#identified.get(connection.id),
      })
      this.#identified.delete(connection.id)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      this.#components.log('could not observe the punch port through %p: %s', peerId, (err as Error).message)
      // Something else took the port meanwhile (it was free when chosen): take another.
      if (code === 'EADDRINUSE' && this.#observations.size === 0) this.#port = await freeTcpPort()
    } finally {
      this.#dialling.delete(peer)
    }
  }

  #observed(): Multiaddr[] {
    return [...this.#observations.values()].flatMap((o) => (o.observed === undefined ? [] : [o.observed]))
  }
}

/**
 * An upgrader that upgrades the connections a dial makes as their responder: the side of a
 * simultaneous open that did not initiate the punch. libp2p's `initiator: false` picks the
 * responder's part of multistream-select and Noise, but the muxer (yamux) takes its role from the
 * connection's direction, which the TCP transport set to `outbound`: two clients, and the
 * connection fails ("Both endpoints are clients"). So the direction is set to `inbound` first.
 */
function responder(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, key, receiver) {
      if (key !== 'upgradeOutbound') return Reflect.get(target, key, receiver)
      return async (maConn: MultiaddrConnection, opts: UpgraderOptions) => {
        ;(maConn as { direction: 'inbound' | 'outbound' }).direction = 'inbound'
        return target.upgradeOutbound(maConn, { ...opts, initiator: false })
      }
    },
  })
}
