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

/**
 * The simulated public internet: every public host and every home router's WAN side gets an
 * address in this /16 (public hosts 11.8.1.x, routers 11.8.2.x). js-libp2p counts it as public (it
 * treats documentation and reserved ranges as private, and identify, AutoNAT and DCUtR act on
 * that). It exists only inside the run's namespaces, which have no link to the machine's own.
 */
export const PUBLIC_PREFIX = '11.8'
export const PUBLIC_HOSTS_OCTET = 1
export const ROUTERS_OCTET = 2

/** Home network `n` (1-based) is 10.201.n.0/24; its router is .1, its hosts .2 upwards. */
export const HOME_PREFIX = '10.201'

/** The router's interfaces: `wan0` on the public segment, `lan0` the bridge of its home network. */
export const WAN_INTERFACE = 'wan0'
export const LAN_INTERFACE = 'lan0'

export const MAX_PUBLIC_HOSTS = 200
export const MAX_HOMES = 50
export const MAX_HOSTS_PER_HOME = 50

/** iptables-restore, run inside a router namespace only; override with `P2P_TESTNET_IPTABLES_RESTORE`. */
export const IPTABLES_RESTORE_BIN = process.env.P2P_TESTNET_IPTABLES_RESTORE ?? '/usr/sbin/iptables-restore'
/** sysctl, run inside a router namespace only (IP forwarding is a per-namespace setting). */
export const SYSCTL_BIN = process.env.P2P_TESTNET_SYSCTL ?? '/usr/sbin/sysctl'
/** miniupnpd (Debian's miniupnpd-nftables), run inside a router namespace only. */
export const MINIUPNPD_BIN = process.env.P2P_TESTNET_MINIUPNPD ?? '/usr/sbin/miniupnpd'
/** nft, run inside a router namespace only, for miniupnpd's table. */
export const NFT_BIN = process.env.P2P_TESTNET_NFT ?? '/usr/sbin/nft'
/** The port a UPnP router serves its device description and control on, on its LAN side. */
export const UPNP_HTTP_PORT = 5000
/** miniupnpd serves within this long of its start. */
export const UPNP_START_TIMEOUT_MS = 10_000

/** The test protocol of the host program: echoes what it reads, on any connection, relayed too. */
export const ECHO_PROTOCOL = '/p2p-ai/testnet/echo/1.0.0'
