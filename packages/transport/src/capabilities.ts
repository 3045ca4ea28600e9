import type { AbortOptions, Libp2p, PeerInfo } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { CAPABILITY_KEY_PREFIX, MAX_CAPABILITY_KEY_BYTES } from './constants.js'
import { DhtDisabledError, InvalidCapabilityKeyError } from './errors.js'

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

/**
 * Advertises that this node offers `key`: publishes a provider record on the DHT servers closest
 * to the key, and keeps it published (the DHT re-provides it) until `stopProviding()` or the node
 * stops. Resolves once the record is stored.
 *
 * @throws {InvalidCapabilityKeyError | DhtDisabledError}
 */
export async function provideCapability(
  node: DhtNode,
  key: string,
  options: AbortOptions = {},
): Promise<CID> {
  const cid = await capabilityCid(key)
  assertDht(node, 'provideCapability')
  await node.contentRouting.provide(cid, options)
  return cid
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
