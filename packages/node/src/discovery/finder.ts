/**
 * Finding providers beyond the peers this node knows: when a task has no route (no connected peer
 * runs its type, or only a neighbour reaches one by forwarding), the finder looks its capability
 * key up on the DHT (the model's hash when the task pins one, else the task type) and dials the
 * providers it finds, through a relay when that is all they have. Once connected they announce
 * their capabilities like any peer, and the router takes them from the peer directory; nothing
 * here routes. One lookup per key at a time, and not again soon after (positive and negative
 * caches), so a burst of tasks costs one DHT walk.
 */
import type { PeerId, PeerInfo } from '@libp2p/interface'
import { findCapabilityProviders, type Transport } from '@p2p-ai/transport'
import type { Logger } from 'pino'
import {
  FIND_DIAL_TIMEOUT_MS,
  FIND_MAX_PROVIDERS,
  FIND_NEGATIVE_CACHE_MS,
  FIND_NEGATIVE_FIRST_MS,
  FIND_POSITIVE_CACHE_MS,
  FIND_TIMEOUT_MS,
} from './constants.js'
import { modelKey, taskKey } from './keys.js'

export interface ProviderFinderInit {
  transport: Transport
  /** Whether a peer may be used at all (the access policy). */
  allows(peer: string): boolean
  log: Logger
}

/** What a lookup is for. */
export interface FindSpec {
  readonly type: string
  readonly modelSha256: string | undefined
}

/** What one lookup did. */
export interface FindResult {
  readonly key: string
  /** Providers found (this node and disallowed peers left out). */
  readonly found: readonly string[]
  /** Those now connected (dialled, or connected already). */
  readonly connected: readonly string[]
}

export class ProviderFinder {
  readonly #init: ProviderFinderInit
  readonly #running = new Map<string, Promise<FindResult>>()
  readonly #recent = new Map<string, { until: number; result: FindResult; empty: number }>()
  #lookups = 0

  constructor(init: ProviderFinderInit) {
    this.#init = init
  }

  /** DHT lookups made so far. */
  get lookups(): number {
    return this.#lookups
  }

  /**
   * Looks up providers for `spec` and connects to them, unless a lookup for the same key runs or
   * ran recently (its result then). Never rejects.
   */
  async find(spec: FindSpec): Promise<FindResult> {
    const key = spec.modelSha256 === undefined ? taskKey(spec.type) : modelKey(spec.modelSha256)
    // No DHT server known yet (a node that just started): nothing to ask, and nothing learnt.
    if (this.#dhtServers() === 0) return { key, found: [], connected: [] }
    const running = this.#running.get(key)
    if (running !== undefined) return running
    const recent = this.#recent.get(key)
    // A recent answer stands while one of the providers it connected is still connected (or it
    // found nobody); a provider lost since (its relay died, it left) is looked up again.
    if (recent !== undefined && recent.until > Date.now() && this.#stillUseful(recent.result))
      return recent.result
    const lookup = this.#lookup(key).then((result) => {
      this.#running.delete(key)
      // Empty answers in a row: each stands twice as long as the one before, up to the cap.
      const empty = result.connected.length > 0 ? 0 : (recent?.empty ?? 0) + 1
      const ttl =
        empty === 0
          ? FIND_POSITIVE_CACHE_MS
          : Math.min(FIND_NEGATIVE_FIRST_MS * 2 ** (empty - 1), FIND_NEGATIVE_CACHE_MS)
      this.#recent.set(key, { until: Date.now() + ttl, result, empty })
      return result
    })
    this.#running.set(key, lookup)
    return lookup
  }

  async #lookup(key: string): Promise<FindResult> {
    const { transport, allows, log } = this.#init
    const found: string[] = []
    const dials: Promise<string | undefined>[] = []
    this.#lookups++
    try {
      for await (const provider of findCapabilityProviders(transport, key, {
        signal: AbortSignal.timeout(FIND_TIMEOUT_MS),
      })) {
        const peer = provider.id.toString()
        if (!allows(peer) || found.includes(peer)) continue
        found.push(peer)
        dials.push(this.#connect(provider))
        // The first ones are what routing needs; the rest of the walk only costs time.
        if (found.length >= FIND_MAX_PROVIDERS) break
      }
    } catch (err) {
      log.debug({ key, err }, 'capability lookup ended early')
    }
    const connected = (await Promise.all(dials)).filter((peer): peer is string => peer !== undefined)
    log.info({ key, found: found.length, connected: connected.length }, 'looked up providers on the DHT')
    return { key, found, connected }
  }

  #dhtServers(): number {
    const dht = this.#init.transport.services.dht as { routingTable?: { size: number } } | undefined
    return dht?.routingTable?.size ?? 1
  }

  #stillUseful(result: FindResult): boolean {
    if (result.connected.length === 0) return true
    const { transport } = this.#init
    return transport
      .getConnections()
      .some((c) => c.status === 'open' && result.connected.includes(c.remotePeer.toString()))
  }

  /**
   * Dials a provider at the addresses the DHT gave (its public and relay addresses), not at all
   * this node once heard for it: a LAN address a past connection told is no use across NATs, and
   * one that nobody answers (a router dropping it) stalls the dial for seconds before the relay
   * address is tried.
   */
  async #connect(provider: PeerInfo): Promise<string | undefined> {
    const { transport, log } = this.#init
    const peer = provider.id.toString()
    if (transport.getConnections(provider.id).some((c) => c.status === 'open')) return peer
    const suffix = `/p2p/${peer}`
    const addresses = provider.multiaddrs.map((ma) =>
      ma.toString().endsWith(suffix) ? ma : ma.encapsulate(suffix),
    )
    try {
      await transport.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs })
      await transport.dial(addresses.length > 0 ? addresses : (provider.id as PeerId), {
        signal: AbortSignal.timeout(FIND_DIAL_TIMEOUT_MS),
      })
      return peer
    } catch (err) {
      log.debug({ remotePeer: peer, err }, 'could not dial a provider found on the DHT')
      return undefined
    }
  }
}
