import type { AbortOptions, Libp2p, PeerInfo } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { CAPABILITY_KEY_PREFIX, MAX_CAPABILITY_KEY_BYTES } from './constants.js'
import { CapabilityNotStoredError, DhtDisabledError, InvalidCapabilityKeyError } from './errors.js'

/**
 * Capability discovery on the swarm's DHT, with no coordinator: a node that offers something (a
 * task type, a model by its sha256, …) publishes a provider record under a key derived from a
 * namespaced string, and anyone finds the providers of that key without being connected to them.
 * Records are re-published by the DHT before they expire (`dht.reprovideIntervalMs`), for as long
 * as the node runs.
 */

const encoder = new TextEncoder()

/** Checks a capability key: a non-empty string of at most 1 KiB. */
function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key === '') {
    throw new InvalidCapabilityKeyError('a capability key must be a non-empty string, e.g. "task/embed"')
  }
  if (encoder.encode(key).length > MAX_CAPABILITY_KEY_BYTES) {
    throw new InvalidCapabilityKeyError(`a capability key must be at most ${MAX_CAPABILITY_KEY_BYTES} bytes`)
  }
  return key
}

/**
 * The DHT key of a capability: a CIDv1 (raw codec) of `sha256("p2p-ai/capability/v1\n" + key)`.
 * Any client computing the same hash finds the same providers.
 *
 * @throws {InvalidCapabilityKeyError}
 */
export async function capabilityCid(key: string): Promise<CID> {
  const digest = await sha256.digest(encoder.encode(CAPABILITY_KEY_PREFIX + checkKey(key)))
  return CID.createV1(raw.code, digest)
}

type DhtNode = Pick<Libp2p<{ dht?: unknown }>, 'contentRouting' | 'peerId' | 'services'>

function assertDht(node: DhtNode, operation: string): void {
  if (node.services.dht === undefined) {
    throw new DhtDisabledError(operation)
  }
}

/** Where a capability record went: the DHT servers that took it. */
export interface ProvidedCapability {
  readonly cid: CID
  /**
   * PeerIds of the DHT servers the record was stored on (this node's own when it serves the DHT).
   * A record on fewer servers than a replication set is only as lasting as they are: a caller
   * that watches the swarm (the node's advertiser) publishes again to servers missing from it.
   */
  readonly storedOn: readonly string[]
}

/** What `provideCapability` reads of kad-dht: its provide walk, event by event. */
interface ProvidingDht {
  provide(
    key: CID,
    options?: AbortOptions,
  ): AsyncIterable<{ name: string; messageName?: string; from?: { toString(): string } }>
  getMode?(): 'client' | 'server'
}

/**
 * Advertises that this node offers `key`: publishes a provider record on the DHT servers closest
 * to the key, and keeps it published (the DHT re-provides it) until `stopProviding()` or the node
 * stops. Resolves once the record is stored, with the servers that took it. kad-dht's own
 * `provide` resolves even when no server took the record (every send failed, or none was found);
 * that is a failure here.
 *
 * @throws {InvalidCapabilityKeyError | DhtDisabledError | CapabilityNotStoredError}
 */
export async function provideCapability(
  node: DhtNode,
  key: string,
  options: AbortOptions = {},
): Promise<ProvidedCapability> {
  const cid = await capabilityCid(key)
  assertDht(node, 'provideCapability')
  const dht = node.services.dht as ProvidingDht
  const storedOn = new Set<string>()
  // A DHT server holds its own records, and answers for them like any other.
  if (dht.getMode?.() === 'server') storedOn.add(node.peerId.toString())
  for await (const event of dht.provide(cid, options)) {
    if (event.name === 'PEER_RESPONSE' && event.messageName === 'ADD_PROVIDER' && event.from !== undefined) {
      storedOn.add(event.from.toString())
    }
  }
  if (storedOn.size === 0) throw new CapabilityNotStoredError(key)
  return { cid, storedOn: [...storedOn] }
}

/**
 * Stops advertising `key`: the DHT no longer re-provides it, and its records expire on the servers.
 *
 * @throws {InvalidCapabilityKeyError | DhtDisabledError}
 */
export async function stopProvidingCapability(
  node: DhtNode,
  key: string,
  options: AbortOptions = {},
): Promise<void> {
  const cid = await capabilityCid(key)
  assertDht(node, 'stopProvidingCapability')
  await node.contentRouting.cancelReprovide(cid, options)
}

/**
 * Finds peers that advertise `key`, as the DHT reports them (each with the addresses it knows,
 * relay addresses included for peers behind NAT); this node itself is skipped. Stops when the
 * query ends or `options.signal` aborts.
 *
 * @throws {InvalidCapabilityKeyError | DhtDisabledError}
 */
export async function* findCapabilityProviders(
  node: DhtNode,
  key: string,
  options: AbortOptions = {},
): AsyncGenerator<PeerInfo> {
  const cid = await capabilityCid(key)
  assertDht(node, 'findCapabilityProviders')
  const seen = new Set<string>()
  for await (const provider of node.contentRouting.findProviders(cid, options)) {
    const id = provider.id.toString()
    if (provider.id.equals(node.peerId) || seen.has(id)) {
      continue
    }
    seen.add(id)
    yield provider
  }
}
