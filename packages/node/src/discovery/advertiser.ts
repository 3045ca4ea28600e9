/**
 * Advertising what this node runs on the DHT: a provider record per capability key (its task
 * types and its models' hashes, keys.ts), published when the node has DHT peers to publish to,
 * again when what it runs changes or a small DHT gains a server, and withdrawn when it no longer
 * runs something. The DHT itself re-publishes records before they expire
 * (`dht.reprovideIntervalMs` of the transport).
 */
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

/** What the advertiser reads of kad-dht's routing table: its size, and when a server enters it. */
export interface RoutingTableView {
  readonly size: number
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
  /** Keys published, and those that failed with when to try again. */
  readonly #provided = new Set<string>()
  readonly #retry = new Map<string, { at: number; delayMs: number }>()
  /** DHT servers known when the records were last published. */
  #publishedWith = 0
  #timer: NodeJS.Timeout | undefined
  #running = false
  #busy = false

  constructor(init: CapabilityAdvertiserInit) {
    this.#init = init
  }

  /** The keys published so far. */
  get provided(): readonly string[] {
    return [...this.#provided]
  }

  start(): void {
    this.#running = true
    this.#timer ??= setInterval(() => void this.check(), ADVERTISE_CHECK_MS)
    this.#timer.unref()
    // A server entering the routing table can take the records now, not at the next tick.
    this.#routingTable()?.addEventListener('peer:add', this.#onServer)
    void this.check()
  }

  stop(): void {
    this.#running = false
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#routingTable()?.removeEventListener('peer:add', this.#onServer)
  }

  readonly #onServer = (): void => {
    void this.check()
  }

  /** Publishes what is missing and withdraws what is no longer run. Resolves when done. */
  async check(): Promise<void> {
    if (!this.#running || this.#busy || !this.#hasDhtPeers()) return
    this.#busy = true
    try {
      // A small DHT grew: the new server is likely among the closest to our keys but holds none of
      // our records (they go out again only at the next reprovide, an hour on). Publish them again
      // while the swarm is smaller than a replication set; a large one has copies everywhere.
      const servers = this.#dhtServers()
      if (servers > this.#publishedWith && this.#publishedWith < DHT_REPLICATION) this.#provided.clear()
      const wanted = new Set(capabilityKeys(this.#init.capabilities()))
      for (const key of [...this.#provided]) {
        if (wanted.has(key)) continue
        this.#provided.delete(key)
        await stopProvidingCapability(this.#init.transport, key).catch(() => {})
      }
      // Several at once: each publication is a DHT walk that may wait on slow peers, and a type
      // published last must not wait for every other one; a bound keeps a node with many models
      // from flooding the few DHT servers of a young swarm.
      const now = Date.now()
      const due = [...wanted].filter((key) => {
        const retry = this.#retry.get(key)
        return !this.#provided.has(key) && (retry === undefined || retry.at <= now)
      })
      const next = due.values()
      const worker = async (): Promise<void> => {
        for (let key = next.next(); key.done !== true; key = next.next())
          await this.#publish(key.value, servers)
      }
      await Promise.all(Array.from({ length: Math.min(ADVERTISE_CONCURRENCY, due.length) }, worker))
    } finally {
      this.#busy = false
    }
  }

  async #publish(key: string, servers: number): Promise<void> {
    if (!this.#running) return
    const retry = this.#retry.get(key)
    try {
      await provideCapability(this.#init.transport, key, {
        signal: AbortSignal.timeout(ADVERTISE_TIMEOUT_MS),
      })
      if (!this.#running) return
      this.#provided.add(key)
      this.#retry.delete(key)
      this.#publishedWith = servers
      this.#init.log.debug({ key }, 'advertised a capability on the DHT')
    } catch (err) {
      const delayMs = Math.min((retry?.delayMs ?? ADVERTISE_CHECK_MS / 2) * 2, ADVERTISE_RETRY_MAX_MS)
      this.#retry.set(key, { at: Date.now() + delayMs, delayMs })
      this.#init.log.debug({ key, err }, 'could not advertise a capability on the DHT yet')
    }
  }

  /** A record published with nobody to hold it is lost: wait for a peer that serves the DHT. */
  #hasDhtPeers(): boolean {
    return this.#init.transport.services.dht !== undefined && this.#dhtServers() > 0
  }

  /** DHT servers in the routing table (1 when the DHT does not say). */
  #dhtServers(): number {
    return this.#routingTable()?.size ?? 1
  }

  #routingTable(): RoutingTableView | undefined {
    return (this.#init.transport.services.dht as { routingTable?: RoutingTableView } | undefined)
      ?.routingTable
  }
}
