/**
 * Advertising what this node runs on the DHT: a provider record per capability key (its task
 * types and its models' hashes, keys.ts), published when the node has DHT peers to publish to,
 * again when what it runs changes, and withdrawn when it no longer runs something. The DHT itself
 * re-publishes records before they expire (`dht.reprovideIntervalMs` of the transport).
 *
 * In a DHT smaller than a replication set every server should hold every record, or a record on
 * one server dies with it: the advertiser knows which servers took each record (a walk may miss
 * one that is slow to answer, and kad-dht reports success all the same), and publishes again to
 * a connected server that lacks it: one that joined, or one that came back (a server that
 * disconnects is no longer counted as holding anything; it may have restarted empty).
 *
 * A server answers a lookup with the addresses it knows for the provider, which a provider's
 * publication refreshes (kad-dht merges the addresses it carries). So when this node's announced
 * addresses change (its relay died and it reserved on another, say), every record goes out again
 * at once: servers it is not connected to would otherwise hand out a dead relay's address until
 * the next re-provide, hours on.
 */
import type { PeerId } from '@libp2p/interface'
import type { Capabilities } from '@p2p-ai/protocol'
import { provideCapability, stopProvidingCapability, type Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import {
  ADVERTISE_CHECK_MS,
  ADVERTISE_CONCURRENCY,
  ADVERTISE_RETRY_MAX_MS,
  ADVERTISE_TIMEOUT_MS,
  DHT_REPLICATION,
} from './constants.js'
import { capabilityKeys } from './keys.js'

/** What the advertiser reads of kad-dht's routing table: its servers, and when one enters it. */
export interface RoutingTableView {
  readonly size: number
  readonly kb?: { toIterable(): Iterable<{ peerId: PeerId }> }
  addEventListener(type: 'peer:add', listener: () => void): void
  removeEventListener(type: 'peer:add', listener: () => void): void
}

export interface CapabilityAdvertiserInit {
  transport: Transport
  /** What this node announces now (the exchange's announcer). */
  capabilities(): Capabilities
  log: Logger
}

/** Keeps this node's provider records on the DHT in step with what it runs. */
export class CapabilityAdvertiser {
  readonly #init: CapabilityAdvertiserInit
  /** Keys published, each with the servers known to hold it. */
  readonly #holders = new Map<string, Set<string>>()
  /** Keys whose last publication failed or missed a server, with when to try again. */
  readonly #retry = new Map<string, { at: number; delayMs: number }>()
  /** Keys published with addresses this node no longer announces. */
  readonly #stale = new Set<string>()
  /** This node's announced addresses, as last seen. */
  #announced = ''
  #timer: NodeJS.Timeout | undefined
  #running = false
  #busy = false

  constructor(init: CapabilityAdvertiserInit) {
    this.#init = init
  }

  /** The keys published so far. */
  get provided(): readonly string[] {
    return [...this.#holders.keys()]
  }

  /** The servers known to hold the record of `key` (PeerIds). */
  holdersOf(key: string): readonly string[] {
    return [...(this.#holders.get(key) ?? [])]
  }

  start(): void {
    this.#running = true
    this.#timer ??= setInterval(() => void this.check(), ADVERTISE_CHECK_MS)
    this.#timer.unref()
    // A server entering the routing table can take the records now, not at the next tick.
    this.#routingTable()?.addEventListener('peer:add', this.#onServer)
    this.#init.transport.addEventListener('peer:disconnect', this.#onDisconnect)
    this.#announced = this.#announcedNow()
    this.#init.transport.addEventListener('self:peer:update', this.#onSelfUpdate)
    void this.check()
  }

  stop(): void {
    this.#running = false
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#routingTable()?.removeEventListener('peer:add', this.#onServer)
    this.#init.transport.removeEventListener('peer:disconnect', this.#onDisconnect)
    this.#init.transport.removeEventListener('self:peer:update', this.#onSelfUpdate)
  }

  readonly #onServer = (): void => {
    void this.check()
  }

  readonly #onSelfUpdate = (): void => {
    const announced = this.#announcedNow()
    if (announced === this.#announced) return
    this.#announced = announced
    for (const key of this.#holders.keys()) {
      this.#stale.add(key)
      // Now, not after a backoff: lookups hand out the old addresses meanwhile.
      this.#retry.delete(key)
    }
    void this.check()
  }

  #announcedNow(): string {
    return this.#init.transport.getMultiaddrs().map(String).sort().join(' ')
  }

  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    for (const holders of this.#holders.values()) holders.delete(peer)
  }

  /** Publishes what is missing and withdraws what is no longer run. Resolves when done. */
  async check(): Promise<void> {
    if (!this.#running || this.#busy || !this.#hasDhtPeers()) return
    this.#busy = true
    try {
      const wanted = new Set(capabilityKeys(this.#init.capabilities()))
      for (const key of [...this.#holders.keys()]) {
        if (wanted.has(key)) continue
        this.#holders.delete(key)
        this.#retry.delete(key)
        this.#stale.delete(key)
        await stopProvidingCapability(this.#init.transport, key).catch(() => {})
      }
      // A large DHT keeps copies on the k servers closest to each key, and re-provides them; a
      // small one has every server among them, and each should hold every record.
      const servers = this.#connectedServers()
      // Several at once: each publication is a DHT walk that may wait on slow peers, and a type
      // published last must not wait for every other one; a bound keeps a node with many models
      // from flooding the few DHT servers of a young swarm.
      const now = Date.now()
      const due = [...wanted].filter((key) => {
        const retry = this.#retry.get(key)
        if (retry !== undefined && retry.at > now) return false
        const holders = this.#holders.get(key)
        return holders === undefined || this.#stale.has(key) || servers.some((server) => !holders.has(server))
      })
      const next = due.values()
      const worker = async (): Promise<void> => {
        for (let key = next.next(); key.done !== true; key = next.next()) await this.#publish(key.value)
      }
      await Promise.all(Array.from({ length: Math.min(ADVERTISE_CONCURRENCY, due.length) }, worker))
    } finally {
      this.#busy = false
    }
  }

  async #publish(key: string): Promise<void> {
    if (!this.#running) return
    const announced = this.#announced
    try {
      const { storedOn } = await provideCapability(this.#init.transport, key, {
        signal: AbortSignal.timeout(ADVERTISE_TIMEOUT_MS),
      })
      if (!this.#running) return
      const holders = this.#holders.get(key) ?? new Set<string>()
      for (const server of storedOn) holders.add(server)
      this.#holders.set(key, holders)
      // What it carried is current unless the addresses changed during the walk.
      if (this.#announced === announced) this.#stale.delete(key)
      // A connected server the walk did not reach (slow to answer, just joined): again, later.
      if (this.#connectedServers().some((server) => !holders.has(server))) this.#backOff(key)
      else this.#retry.delete(key)
      this.#init.log.debug({ key, storedOn }, 'advertised a capability on the DHT')
    } catch (err) {
      this.#backOff(key)
      this.#init.log.debug({ key, err }, 'could not advertise a capability on the DHT yet')
    }
  }

  #backOff(key: string): void {
    const delayMs = Math.min(
      (this.#retry.get(key)?.delayMs ?? ADVERTISE_CHECK_MS / 2) * 2,
      ADVERTISE_RETRY_MAX_MS,
    )
    this.#retry.set(key, { at: Date.now() + delayMs, delayMs })
  }

  /** A record published with nobody to hold it is lost: wait for a peer that serves the DHT. */
  #hasDhtPeers(): boolean {
    return this.#init.transport.services.dht !== undefined && (this.#routingTable()?.size ?? 1) > 0
  }

  /**
   * The DHT servers in the routing table this node is connected to, while there are fewer than
   * a replication set (every one of them should hold every record); none in a larger DHT.
   */
  #connectedServers(): string[] {
    const table = this.#routingTable()
    if (table?.kb === undefined || table.size >= DHT_REPLICATION) return []
    const { transport } = this.#init
    const servers: string[] = []
    for (const { peerId } of table.kb.toIterable()) {
      if (transport.getConnections(peerId).some((c) => c.status === 'open')) servers.push(peerId.toString())
    }
    return servers
  }

  #routingTable(): RoutingTableView | undefined {
    return (this.#init.transport.services.dht as { routingTable?: RoutingTableView } | undefined)
      ?.routingTable
  }
}
