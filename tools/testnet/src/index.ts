/**
 * @packageDocumentation
 *
 * Test hosts for integration tests across real links, in Linux network namespaces only, so
 * nothing touches the machine's own network:
 *
 * - `createTestnet()`: N hosts on one bridge (a LAN), with real multicast; cut and restore links.
 * - `createInternet()`: a small simulated internet: public hosts on 11.8.0.0/16 and home networks
 *   (10.201.N.0/24) behind NAT routers (cone or symmetric, iptables inside the router namespaces).
 *
 * Run commands or the transport host program in each host, and tear everything down afterwards —
 * also when a test fails, the process is signalled, or a previous run died (stale namespaces are
 * swept by prefix). Needs Linux, root and iproute2 (and iptables for NAT routers).
 *
 * ```ts
 * await using net = await createTestnet({ hosts: 2 })
 * const [a, b] = await Promise.all(net.hosts.map((h) => h.startNode()))
 * await a.waitFor((e) => e.event === 'connect' && e.peerId === b.peerId)
 * await net.hosts[1].cut()
 * ```
 */

export {
  BRIDGE_INTERFACE,
  DEFAULT_PREFIX,
  ECHO_PROTOCOL,
  HOME_PREFIX,
  HOST_INTERFACE,
  LAN_INTERFACE,
  MAX_HOSTS,
  PUBLIC_PREFIX,
  SUBNET_BASE,
  WAN_INTERFACE,
} from './constants.js'
export {
  HostNodeError,
  InvalidTestnetOptionError,
  TestnetCommandError,
  TestnetDestroyedError,
  TestnetUnavailableError,
} from './errors.js'
export {
  type ExecOptions,
  type ExecResult,
  type LinkTraffic,
  TestHost,
  type TestHostInit,
} from './host.js'
export {
  createInternet,
  type HomeInit,
  type HomeNetwork,
  Internet,
  type InternetInit,
} from './internet.js'
export { assertTestnetAvailable } from './ip.js'
export { NamespaceSet } from './namespace-set.js'
export { assertNatAvailable, NAT_KINDS, type NatKind, natRules } from './nat.js'
export {
  HostNode,
  type HostNodeEvent,
  type HostNodeOptions,
  hostNodeScript,
  startHostNode,
} from './node-process.js'
export { sweepStaleNamespaces } from './sweep.js'
export { createTestnet, Testnet, type TestnetInit } from './testnet.js'
export { assertUpnpAvailable, upnpConfig, upnpGatewayUrl, upnpTable } from './upnp.js'
