import type {
  ComponentLogger,
  Connection,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  PeerId,
  PeerUpdate,
  Startable,
  Stream,
  StreamHandler,
  StreamHandlerOptions,
  Transport,
  TypedEventTarget,
  Upgrader,
} from '@libp2p/interface'
import { getNetConfig, isNetworkAddress, lpStream } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import {
  TCP_PUNCH_ATTEMPTS,
  TCP_PUNCH_COOLDOWN_MS,
  TCP_PUNCH_DIAL_TIMEOUT_MS,
  TCP_PUNCH_EXCHANGE_TIMEOUT_MS,
  TCP_PUNCH_MAPPING_WAIT_MS,
  TCP_PUNCH_MAX_MESSAGE_BYTES,
  TCP_PUNCH_PROTOCOL,
} from './constants.js'
import { freeTcpPort, PunchPort, type PunchPortStatus, publicTcp } from './punch-port.js'

/**
 * TCP hole punching between two NATed nodes, over the relayed connection they already share: both
 * connect at the same moment from their punch port (see punch-port.ts) to the address at which the
 * other's NAT maps the other's punch port. Each SYN leaves a mapping in its own NAT that the other
 * side's SYN then matches, so one of them gets through and the kernels complete the handshake (a
 * TCP simultaneous open, or a plain one when one SYN was dropped). It works where both NATs map
 * endpoint-independently ("cone" NATs, most home routers) and cannot where either does not.
 *
 * libp2p's DCUtR does the same for QUIC and for TCP with reuseport, neither of which js-libp2p can
 * do (its TCP transport dials from ephemeral ports; QUIC dials from another UDP socket), so DCUtR
 * only helps a NATed node and a public one here. This service runs next to it. The protocol, one
 * stream per attempt, length-prefixed JSON messages:
 *
 * 1. the side that dialled the relayed connection (A) sends `{ "type": "connect", "addrs": [...] }`
 *    with its punch port's mapped addresses, and measures the time to the answer;
 * 2. the other side (B) answers the same with its own (none when its NAT maps per destination, or
 *    it has no mapping yet: then nothing happens);
 * 3. A sends `{ "type": "sync" }` and connects half a round trip later; B connects as the sync
 *    arrives. A upgrades the socket as the initiator (Noise, multistream-select), B as the
 *    responder, so the direct connection has the relayed one's direction.
 */

export interface TcpHolePunchInit {
  /** Attempts per relayed connection. @default 3 */
  attempts?: number
}

/** What hole punching did so far. */
export interface TcpHolePunchStatus extends PunchPortStatus {
  /** Direct connections made by punching. */
  punched: number
  /** Attempts that failed (a simultaneous open that timed out or was refused). */
  failed: number
}

export interface TcpHolePunchComponents {
  peerId: PeerId
  logger: ComponentLogger
  events: TypedEventTarget<Libp2pEvents>
  registrar: {
    handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions): Promise<void>
    unhandle(protocol: string): Promise<void>
  }
  transportManager: {
    dialTransportForMultiaddr(ma: Multiaddr): Pick<Transport, 'dial'> | undefined
    getAddrs(): Multiaddr[]
  }
  upgrader: Upgrader
  connectionManager: { getConnections(peerId?: PeerId): Connection[] }
}

interface PunchMessage {
  type: 'connect' | 'sync'
  addrs?: string[]
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class TcpHolePunch implements Startable {
  readonly [Symbol.toStringTag] = '@p2p-ai/transport:tcp-hole-punch'

  readonly #components: TcpHolePunchComponents
  readonly #log: Logger
  readonly #attempts: number
  #port: PunchPort | undefined
  #started = false
  /** Peers being punched to now. */
  readonly #inFlight = new Set<string>()
  /** Peers every attempt failed with, and until when they are left alone. */
  readonly #cooldown = new Map<string, number>()
  #punched = 0
  #failed = 0
  readonly #listeners = new Set<(detail: { peer: string; ok: boolean; ms: number }) => void>()

  constructor(components: TcpHolePunchComponents, init: TcpHolePunchInit = {}) {
    this.#components = components
    this.#attempts = init.attempts ?? TCP_PUNCH_ATTEMPTS
    this.#log = components.logger.forComponent('p2p-ai:transport:tcp-hole-punch')
  }

  isStarted(): boolean {
    return this.#started
  }

  async start(): Promise<void> {
    const port = await freeTcpPort()
    this.#port = new PunchPort(
      {
        transportManager: this.#components.transportManager,
        upgrader: this.#components.upgrader,
        ownHosts: () => ownHosts(this.#components.transportManager.getAddrs()),
        log: this.#log,
      },
      port,
    )
    await this.#components.registrar.handle(TCP_PUNCH_PROTOCOL, this.#onStream, {
      runOnLimitedConnection: true,
      maxInboundStreams: 4,
      maxOutboundStreams: 4,
    })
    const { events } = this.#components
    events.addEventListener('peer:identify', this.#onIdentify)
    events.addEventListener('peer:update', this.#onPeerUpdate)
    events.addEventListener('connection:open', this.#onOpen)
    events.addEventListener('connection:close', this.#onClose)
    this.#started = true
  }

  async stop(): Promise<void> {
    this.#started = false
    const { events } = this.#components
    events.removeEventListener('peer:identify', this.#onIdentify)
    events.removeEventListener('peer:update', this.#onPeerUpdate)
    events.removeEventListener('connection:open', this.#onOpen)
    events.removeEventListener('connection:close', this.#onClose)
    await this.#components.registrar.unhandle(TCP_PUNCH_PROTOCOL).catch(() => {})
  }

  /** The punch port, its mapping, and the punches made. */
  status(): TcpHolePunchStatus {
    const port = this.#port?.status() ?? { port: 0, observed: [], mapping: 'unknown' as const }
    return { ...port, punched: this.#punched, failed: this.#failed }
  }

  /** Calls `listener` after every punch attempt (for tests and metrics). */
  onPunch(listener: (detail: { peer: string; ok: boolean; ms: number }) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    this.#port?.onIdentify(evt.detail)
  }

  readonly #onPeerUpdate = (evt: CustomEvent<PeerUpdate>): void => {
    const { peer } = evt.detail
    // Only peers this node reaches directly can observe: a dial to them is known to work.
    if (!this.#direct(peer.id)) return
    this.#port?.onPeerAddresses(
      peer.id,
      peer.addresses.map((a) => a.multiaddr),
    )
  }

  readonly #onClose = (evt: CustomEvent<Connection>): void => {
    this.#port?.onClose(evt.detail)
  }

  readonly #onOpen = (evt: CustomEvent<Connection>): void => {
    const connection = evt.detail
    // The side that dialled through the relay starts; the other answers (see the protocol above).
    if (connection.limits === undefined || connection.direction !== 'outbound') return
    if (!connection.remoteAddr.toString().includes('/p2p-circuit')) return
    void this.#punch(connection).catch((err: unknown) => {
      this.#log('punch to %p failed: %s', connection.remotePeer, (err as Error).message)
    })
  }

  /** Whether this node already has a direct connection to `peer`. */
  #direct(peer: PeerId): boolean {
    return this.#components.connectionManager
      .getConnections(peer)
      .some((c) => c.status === 'open' && c.limits === undefined)
  }

  async #mappedAddresses(): Promise<Multiaddr[]> {
    const deadline = Date.now() + TCP_PUNCH_MAPPING_WAIT_MS
    for (;;) {
      const port = this.#port
      if (port === undefined) return []
      const mapping = port.mapping
      if (mapping === 'endpoint-independent') return port.addresses()
      if (mapping !== 'unknown' || Date.now() > deadline || !this.#started) return []
      await sleep(100)
    }
  }

  async #punch(relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer
    const key = peer.toString()
    const coolUntil = this.#cooldown.get(key)
    if (this.#inFlight.has(key) || (coolUntil !== undefined && coolUntil > Date.now())) return
    this.#inFlight.add(key)
    try {
      const mine = await this.#mappedAddresses()
      if (mine.length === 0) return
      for (let attempt = 1; attempt <= this.#attempts; attempt++) {
        if (!this.#started || relayed.status !== 'open' || this.#direct(peer)) return
        const outcome = await this.#attempt(relayed, mine)
        if (outcome !== 'failed') return
      }
      this.#cooldown.set(key, Date.now() + TCP_PUNCH_COOLDOWN_MS)
    } finally {
      this.#inFlight.delete(key)
    }
  }

  /** One attempt from the initiating side: `'punched'`, `'failed'`, or `'impossible'` (no retry). */
  async #attempt(relayed: Connection, mine: Multiaddr[]): Promise<'punched' | 'failed' | 'impossible'> {
    const signal = AbortSignal.timeout(TCP_PUNCH_EXCHANGE_TIMEOUT_MS)
    let stream: Stream
    try {
      stream = await relayed.newStream(TCP_PUNCH_PROTOCOL, { runOnLimitedConnection: true, signal })
    } catch (err) {
      this.#log('%p does not punch: %s', relayed.remotePeer, (err as Error).message)
      return 'impossible'
    }
    const lp = lpStream(stream, { maxDataLength: TCP_PUNCH_MAX_MESSAGE_BYTES })
    let theirs: Multiaddr[]
    let rtt: number
    try {
      const sent = performance.now()
      await lp.write(encode({ type: 'connect', addrs: mine.map(String) }), { signal })
      theirs = punchable(decode(await lp.read({ signal })), 'connect')
      rtt = performance.now() - sent
      if (theirs.length === 0) {
        await stream.close({ signal })
        return 'impossible'
      }
      await lp.write(encode({ type: 'sync' }), { signal })
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
      this.#log('punch exchange with %p failed: %s', relayed.remotePeer, (err as Error).message)
      return 'failed'
    }
    await sleep(rtt / 2)
    return (await this.#connect(relayed.remotePeer, theirs, true)) ? 'punched' : 'failed'
  }

  readonly #onStream = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(TCP_PUNCH_EXCHANGE_TIMEOUT_MS)
    const lp = lpStream(stream, { maxDataLength: TCP_PUNCH_MAX_MESSAGE_BYTES })
    try {
      if (connection.limits === undefined) throw new Error('hole punching runs on relayed connections only')
      const theirs = punchable(decode(await lp.read({ signal })), 'connect')
      const port = this.#port
      const mine =
        port?.mapping === 'endpoint-independent' && !this.#direct(connection.remotePeer)
          ? port.addresses()
          : []
      await lp.write(encode({ type: 'connect', addrs: mine.map(String) }), { signal })
      if (mine.length === 0 || theirs.length === 0) {
        await stream.close({ signal })
        return
      }
      decode(await lp.read({ signal }), 'sync')
      await stream.close({ signal })
      await this.#connect(connection.remotePeer, theirs, false)
    } catch (err) {
      stream.abort(err as Error)
    }
  }

  /** The simultaneous open: dials the peer's mapped punch address from the punch port. */
  async #connect(peer: PeerId, theirs: Multiaddr[], initiator: boolean): Promise<boolean> {
    const port = this.#port
    const target = theirs[0]
    if (port === undefined || target === undefined) return false
    const started = performance.now()
    let ok = false
    try {
      const connection = await port.dial(target.encapsulate(`/p2p/${peer.toString()}`), {
        timeoutMs: TCP_PUNCH_DIAL_TIMEOUT_MS,
        initiator,
      })
      ok = connection.remotePeer.equals(peer)
      if (!ok) await connection.close()
    } catch (err) {
      this.#log('simultaneous open with %p at %a failed: %s', peer, target, (err as Error).message)
    }
    if (ok) this.#punched++
    else this.#failed++
    const detail = { peer: peer.toString(), ok, ms: performance.now() - started }
    for (const listener of this.#listeners) listener(detail)
    return ok
  }
}

function encode(message: PunchMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message))
}

function decode(data: { subarray(): Uint8Array }, expected?: PunchMessage['type']): PunchMessage {
  const value = JSON.parse(decoder.decode(data.subarray())) as unknown
  if (typeof value !== 'object' || value === null) throw new Error('malformed punch message')
  const message = value as PunchMessage
  if (expected !== undefined && message.type !== expected) {
    throw new Error(`expected a ${expected} message, got ${String(message.type)}`)
  }
  return message
}

/**
 * The addresses of a `connect` message worth dialling: public IPv4 TCP addresses only, at most
 * four, so a peer cannot make this node connect anywhere else from its punch port.
 */
function punchable(message: PunchMessage, expected: PunchMessage['type']): Multiaddr[] {
  if (message.type !== expected) throw new Error(`expected a ${expected} message`)
  const addrs = Array.isArray(message.addrs) ? message.addrs.slice(0, 4) : []
  return addrs.flatMap((text) => {
    try {
      const ma = publicTcp(multiaddr(String(text)))
      return ma === undefined ? [] : [ma]
    } catch {
      return []
    }
  })
}

/**
 * The hosts this node listens on. Circuit listen addresses (`/…/p2p/<relay>/p2p-circuit`) name the
 * relay's host, not ours: left out.
 */
function ownHosts(addrs: Multiaddr[]): Set<string> {
  return new Set(
    addrs.flatMap((ma) =>
      isNetworkAddress(ma) && !ma.toString().includes('/p2p-circuit') ? [getNetConfig(ma).host] : [],
    ),
  )
}

async function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** TCP hole punching between NATed nodes, for `services` of a libp2p config. */
export function tcpHolePunch(
  init: TcpHolePunchInit = {},
): (components: TcpHolePunchComponents) => TcpHolePunch {
  return (components) => new TcpHolePunch(components, init)
}
