/**
 * `debug network-test` on the node's side: how others reach this node, and for each connected
 * peer its round trips (libp2p ping), the throughput of a signed task carrying a payload both ways,
 * and the protocol versions it speaks.
 */
import type { P2PNode } from '@p2p-ai/node'
import { ANNOUNCE_PROTOCOL, PROTOCOL_MINOR, TASK_PROTOCOL, TRACE_PROTOCOL } from '@p2p-ai/protocol'
import type { NetworkTestJson, PeerTestJson, RttJson } from '../control/debug-types.js'
import { PROBE_TIMEOUT_MS, RTT_SAMPLES, RTT_TIMEOUT_MS } from './constants.js'

export interface NetworkTestOptions {
  /** Bytes each way of the throughput probe; 0 skips it. */
  readonly probeBytes: number
  /** Only this peer. */
  readonly peer?: string
  readonly signal?: AbortSignal
}

export async function networkTest(node: P2PNode, options: NetworkTestOptions): Promise<NetworkTestJson> {
  const status = node.transport.services.reachability.status()
  const peers = node
    .peers()
    .filter((p) => p.status === 'connected' && (options.peer === undefined || p.peerId === options.peer))
  const tested: PeerTestJson[] = []
  // One peer after the other: probes in parallel would measure each other.
  for (const peer of peers) {
    options.signal?.throwIfAborted()
    const problems: string[] = []
    const rtt = await roundTrips(node, peer.peerId, problems, options.signal)
    const throughput =
      options.probeBytes > 0 ? await probe(node, peer, options.probeBytes, problems) : undefined
    tested.push({
      peerId: peer.peerId,
      status: peer.status,
      ...(peer.connection === undefined ? {} : { connection: peer.connection }),
      protocolMinor: peer.protocolMinor,
      ...(peer.agentVersion === undefined ? {} : { agentVersion: peer.agentVersion }),
      protocols: Object.fromEntries(
        [TASK_PROTOCOL, ANNOUNCE_PROTOCOL, TRACE_PROTOCOL].map((id) => [id, peer.protocols.includes(id)]),
      ),
      ...(rtt === undefined ? {} : { rtt }),
      ...(throughput === undefined ? {} : { throughput }),
      problems,
    })
  }
  return {
    takenAt: Date.now(),
    self: {
      peerId: node.peerId,
      protocolMinor: PROTOCOL_MINOR,
      addresses: node.getMultiaddrs().map((address) => ({ address, scope: scopeOf(address) })),
      reachability: status.reachability,
      relays: status.relays,
    },
    peers: tested,
  }
}

async function roundTrips(
  node: P2PNode,
  peerId: string,
  problems: string[],
  signal: AbortSignal | undefined,
): Promise<RttJson | undefined> {
  const record = node.directory.record(peerId)
  if (record === undefined) {
    problems.push('rtt: the peer left the directory')
    return undefined
  }
  const samples: number[] = []
  for (let i = 0; i < RTT_SAMPLES; i++) {
    const timeout = AbortSignal.timeout(RTT_TIMEOUT_MS)
    try {
      const ms = await node.transport.services.ping.ping(record.id, {
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      })
      samples.push(Math.round(ms * 1000) / 1000)
    } catch (err) {
      problems.push(`rtt: ping ${i + 1} failed: ${(err as Error).message}`)
    }
  }
  if (samples.length === 0) return undefined
  const sorted = [...samples].sort((a, b) => a - b)
  return {
    samples,
    minMs: sorted[0] as number,
    medianMs: sorted[Math.floor(sorted.length / 2)] as number,
    maxMs: sorted.at(-1) as number,
  }
}

/** A `mock` task whose text is `bytes` long goes to the peer and comes back in its output. */
async function probe(
  node: P2PNode,
  peer: ReturnType<P2PNode['peers']>[number],
  bytes: number,
  problems: string[],
): Promise<PeerTestJson['throughput']> {
  if (peer.capabilities?.taskTypes.includes('mock') !== true) {
    problems.push('throughput: the peer does not run `mock` tasks, which the probe is made of')
    return undefined
  }
  const text = 'x'.repeat(bytes)
  const started = performance.now()
  const record = await node
    .submit(
      { type: 'mock', input: { text }, timeoutMs: PROBE_TIMEOUT_MS },
      { target: peer.peerId, maxAttempts: 1 },
    )
    .result()
  const ms = performance.now() - started
  const output = record.output as { length?: unknown } | undefined
  if (record.status !== 'COMPLETED' || output?.length !== bytes) {
    problems.push(
      `throughput: the probe ${record.status === 'COMPLETED' ? 'came back changed' : `failed: ${record.error?.code ?? record.status}`}`,
    )
    return undefined
  }
  return { bytes, ms: Math.round(ms * 10) / 10, bytesPerSecond: Math.round((2 * bytes) / (ms / 1000)) }
}

function scopeOf(address: string): NetworkTestJson['self']['addresses'][number]['scope'] {
  if (address.includes('/p2p-circuit')) return 'relayed'
  const ip4 = /^\/ip4\/(\d+)\.(\d+)\.\d+\.\d+\//.exec(address)
  if (ip4 !== null) {
    const [a, b] = [Number(ip4[1]), Number(ip4[2])]
    if (a === 127) return 'loopback'
    // RFC 1918, link-local, CGNAT (RFC 6598), and the documentation ranges libp2p counts as private.
    const priv =
      a === 10 ||
      (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b < 128) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19 || b === 51)) ||
      (a === 203 && b === 0) ||
      a === 0
    return priv ? 'private' : 'public'
  }
  const ip6 = /^\/ip6\/([^/]+)\//.exec(address)?.[1]?.toLowerCase()
  if (ip6 !== undefined) {
    if (ip6 === '::1') return 'loopback'
    return /^(fe[89ab]|f[cd]|::$|2001:db8)/.test(ip6) ? 'private' : 'public'
  }
  // DNS names and anything else: others can dial them only if they resolve publicly; say so.
  return 'public'
}
