/** iproute2's `ip`; override with `P2P_TESTNET_IP` where it lives elsewhere. */
export const IP_BIN = process.env.P2P_TESTNET_IP ?? '/usr/sbin/ip'

/** Namespace names start with this; stale ones of dead runs are swept by prefix. */
export const DEFAULT_PREFIX = 'p2pt'

/**
 * First two octets of the test subnets. The /24 of a run (10.231.<n>.0/24) exists only inside its
 * namespaces: the bridge lives in a namespace of its own and nothing is routed anywhere else.
 */
export const SUBNET_BASE = '10.231'

/** Name of the host end of each veth pair, inside the host's namespace. Deliberately not `eth0`:
 * a host program started outside its namespace by mistake then fails on an unknown interface
 * instead of multicasting on the machine's real network. */
export const HOST_INTERFACE = 'tn0'

/** Bridge name inside the bridge namespace. */
export const BRIDGE_INTERFACE = 'br0'

export const DEFAULT_HOSTS = 2
export const MAX_HOSTS = 200

/** Any single `ip` invocation taking longer than this is treated as hung. */
export const IP_TIMEOUT_MS = 15_000

/** How long `stop()` of a host program waits for a clean exit before SIGKILL. */
export const NODE_STOP_TIMEOUT_MS = 5_000
