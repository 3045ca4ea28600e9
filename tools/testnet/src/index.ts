/**
 * @packageDocumentation
 *
 * Test hosts for integration tests across real links: N Linux network namespaces joined by a
 * bridge that itself lives in a namespace, so nothing touches the machine's own network. Run
 * commands or the transport host program in each host, cut and restore a host's link, and tear
 * everything down afterwards — also when a test fails, the process is signalled, or a previous
 * run died (stale namespaces are swept by prefix). Needs Linux, root and iproute2.
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
  HOST_INTERFACE,
  MAX_HOSTS,
  SUBNET_BASE,
} from './constants.js'
export {
  HostNodeError,
  InvalidTestnetOptionError,
  TestnetCommandError,
  TestnetDestroyedError,
  TestnetUnavailableError,
} from './errors.js'
export { assertTestnetAvailable } from './ip.js'
export {
  HostNode,
  type HostNodeEvent,
  type HostNodeOptions,
  hostNodeScript,
  startHostNode,
} from './node-process.js'
export { sweepStaleNamespaces } from './sweep.js'
export {
  createTestnet,
  type ExecOptions,
  type ExecResult,
  TestHost,
  Testnet,
  type TestnetInit,
} from './testnet.js'
