/**
 * How the node sits in the network, for `node status`: whether peers on the internet can dial it,
 * the addresses they see and it announces, the relays it reserved a slot on (or relays for
 * others), the DHT, and hole punching. Read from the transport's own services; nothing is kept.
 */
import { type PortMapping, RELAY_HOP_PROTOCOL, type Reachability, type Transport } from '@p2p-ai/transport'

export interface NodeNetworkStatus {
  /** `public`: peers on the internet dial it directly; `private`: behind NAT (reached through relays); `unknown`: nothing tells yet. */
  readonly reachability: Reachability
  /** Addresses peers on public addresses saw its connections come from, newest first. */
  readonly observed: readonly string[]
  /** What it announces (identify, DHT): confirmed public addresses, relay addresses, LAN ones. */
  readonly announced: readonly string[]
  /** Relays holding a reservation for this node (PeerIds). */
  readonly relays: readonly string[]
  /** As a relay for others: whether it serves reservations now, and how many it holds. */
  readonly relayServer: { readonly enabled: boolean; readonly reservations: number }
  /** The DHT: `server`, `client`, or `off`; capability keys advertised; lookups made for tasks. */
  readonly dht: {
    readonly mode: 'server' | 'client' | 'off'
    readonly advertised: readonly string[]
    readonly lookups: number
  }
  /** TCP hole punching (absent when off): the punch port, its mapping, punches made and failed. */
  readonly holePunch?: {
    readonly port: number
    readonly mapping: PortMapping
    readonly observed: readonly string[]
    readonly punched: number
    readonly failed: number
  }
}

/** The network status of a node built on `transport`. */
export function networkStatus(
  transport: Transport,
  discovery: { readonly advertised: readonly string[]; readonly lookups: number } | undefined,
): NodeNetworkStatus {
  const reach = transport.services.reachability.status()
  const relay = transport.services.relay as { reservations?: { size: number } } | undefined
  const offered = transport.getProtocols().includes(RELAY_HOP_PROTOCOL)
  const punch = transport.services.tcpPunch?.status()
  return {
    reachability: reach.reachability,
    observed: reach.observed,
    announced: reach.announced,
    relays: reach.relays,
    relayServer: { enabled: relay !== undefined && offered, reservations: relay?.reservations?.size ?? 0 },
    dht: {
      mode: transport.services.dht?.getMode() ?? 'off',
      advertised: discovery?.advertised ?? [],
      lookups: discovery?.lookups ?? 0,
    },
    ...(punch === undefined
      ? {}
      : {
          holePunch: {
            port: punch.port,
            mapping: punch.mapping,
            observed: punch.observed,
            punched: punch.punched,
            failed: punch.failed,
          },
        }),
  }
}
