/**
 * Default listen addresses of a real node: every IPv4 interface, TCP, WebSockets and QUIC (UDP),
 * OS-chosen ports. The QUIC one is dropped when the QUIC transport is off or cannot load here.
 */
export const DEFAULT_LISTEN: readonly string[] = Object.freeze([
  '/ip4/0.0.0.0/tcp/0',
  '/ip4/0.0.0.0/tcp/0/ws',
  '/ip4/0.0.0.0/udp/0/quic-v1',
])

/** `code` of the process warning given once when the QUIC transport cannot be loaded. */
export const QUIC_UNAVAILABLE_WARNING = 'P2P_AI_QUIC_UNAVAILABLE'

/** Maximum number of peers held in the connection pool (the product documents ask for 32). */
export const DEFAULT_MAX_CONNECTIONS = 32

/**
 * Per-protocol stream limits for each connection. libp2p's own defaults (32 inbound, 64 outbound)
 * reset streams as soon as a busy peer opens more, so every protocol the node registers should use
 * these instead (see `streamLimits()`).
 */
export const DEFAULT_STREAM_LIMITS: Readonly<{ maxInboundStreams: number; maxOutboundStreams: number }> =
  Object.freeze({ maxInboundStreams: 1024, maxOutboundStreams: 1024 })

/**
 * Stream cap of the Yamux muxer per connection, over all protocols together. Four protocols at their
 * full per-protocol limit fit, so the muxer is never the first limit to bite.
 */
export const DEFAULT_MUXER_MAX_STREAMS = 4096

/**
 * Streams the remote may open on a new connection before our side has finished upgrading it. Yamux
 * defaults to 10 and then aborts the whole connection, so a peer that opens a burst of task
 * streams right after connecting would lose all of them.
 */
export const DEFAULT_MUXER_MAX_EARLY_STREAMS = 256

/** The standard libp2p mDNS service name: the same tag makes us visible to other libp2p implementations. */
export const DEFAULT_MDNS_SERVICE_TAG = '_p2p._udp.local'

/** mDNS IPv4 group and port (RFC 6762). */
export const MDNS_IPV4_GROUP = '224.0.0.251'
export const MDNS_PORT = 5353

/**
 * How often the mDNS service repeats its query. The first query goes out at start and peers answer
 * queries at once, so this only bounds how long a peer that missed both can stay unseen.
 */
export const DEFAULT_MDNS_INTERVAL_MS = 10_000

/** TTL of the records we announce, in seconds; the libp2p mDNS spec and @libp2p/mdns use 120. */
export const MDNS_RECORD_TTL_S = 120

/**
 * Minimum time between two multicast answers from one node on one interface (RFC 6762 §6 asks for
 * one second). Queries arriving in between are answered together when the window ends, which keeps a
 * burst of 100 nodes starting at once from turning into 10,000 answers.
 */
export const MDNS_MIN_ANSWER_INTERVAL_MS = 1_000

/** Receive buffer asked for on each mDNS socket (the kernel caps it at net.core.rmem_max). */
export const MDNS_RECV_BUFFER_BYTES = 4 * 1024 * 1024

/** Largest mDNS datagram we accept or send: RFC 6762 §17 allows up to 9000 bytes. */
export const MDNS_MAX_PACKET_BYTES = 9_000

/** TXT strings are at most 255 bytes long (RFC 6763 §6.1). */
export const MDNS_MAX_TXT_BYTES = 255

/** Longest DNS label: the random peer name we announce under the service tag. */
export const MDNS_PEER_NAME_LENGTH = 63

/** A peer seen again is reported as a sighting (for re-dialling) at most this often. */
export const MDNS_PEER_REFRESH_MS = 5_000

/**
 * An unchanged peer is reported to libp2p again after this long, so its addresses do not age out
 * of the peer store (libp2p drops addresses after an hour); each report is a peer-store write.
 */
export const MDNS_PEER_REANNOUNCE_MS = 10 * 60_000

/** Bootstrap peers are dialled this long after start (libp2p's own default is one second). */
export const DEFAULT_BOOTSTRAP_DELAY_MS = 0

/**
 * After a failed dial, the pool waits this long before trying the same peer again, then doubles
 * the wait up to `POOL_DIAL_BACKOFF_MAX_MS` (±20 % jitter, so peers that lost the same node do
 * not redial it in lockstep).
 */
export const POOL_DIAL_BACKOFF_MS = 1_000
export const POOL_DIAL_BACKOFF_MAX_MS = 30_000

/**
 * Dials the pool makes on its own to a failing peer, the first included (1 + 2 + 4 + 8 + 16 s
 * apart: about 31 s); then it gives up until the peer is seen again or redialled.
 */
export const POOL_MAX_DIAL_ATTEMPTS = 6

/**
 * When two peers discover each other at the same moment, both would dial and open two connections.
 * The peer with the smaller id dials at once; the other waits this long and dials only if no
 * connection has appeared by then (e.g. the other side does not auto-dial, like plain @libp2p/mdns).
 */
export const POOL_DIAL_DEFER_MS = 250

/**
 * When more than `maxConnections` connections are open (inbound ones racing past libp2p's check),
 * the pool closes the excess after this delay, once identify has finished on the new ones.
 */
export const POOL_TRIM_DELAY_MS = 500
/** A trimmed connection gets this long to close gracefully before it is aborted. */
export const POOL_TRIM_CLOSE_TIMEOUT_MS = 1_000

/** Dials in flight at once over all the nodes of one process. */
export const POOL_MAX_PROCESS_DIALS = 16

/** Maximum dials the pool of one node runs at once. */
export const POOL_MAX_PARALLEL_DIALS = 8

/** Protocol prefix of the kad-dht, so our DHT does not merge with the public IPFS one. */
export const DHT_PROTOCOL = '/p2p-ai/kad/1.0.0'

/** Length of a libp2p pnet pre-shared key in bytes. */
export const PSK_KEY_BYTES = 32

/**
 * Relays this node reserves a slot on, so peers can reach it through them when it is behind NAT.
 * One, because libp2p's relay discovery dials every peer it hears of for as long as it holds fewer
 * reservations than it wants: with two wanted and one relay in reach, it kept opening and dropping
 * relayed connections to other NATed peers (dozens a second, measured in the simulated internet).
 * A lost relay is replaced within seconds (tested), so one is enough.
 */
export const DEFAULT_RELAY_RESERVATIONS = 1

/** Reservations a relay grants to other peers at once (libp2p's own default is 15). */
export const DEFAULT_RELAY_MAX_RESERVATIONS = 128

/** How long a reservation lasts; clients renew it before it ends (libp2p renews 5 min ahead). */
export const DEFAULT_RELAY_RESERVATION_TTL_MS = 60 * 60_000

/**
 * How long one relayed connection may stay open before the relay resets it. Long enough for a
 * hole punch to replace it or for a few small tasks; libp2p's default is 2 minutes.
 */
export const DEFAULT_RELAY_CIRCUIT_DURATION_MS = 10 * 60_000

/**
 * Bytes one relayed connection may carry in each direction before the relay resets it: capability
 * announcements, heartbeats and small tasks fit; large transfers need a direct connection.
 * libp2p's default is 128 KiB.
 */
export const DEFAULT_RELAY_CIRCUIT_BYTES = 8 * 1024 * 1024

/** Relayed connections one peer may open through this relay at once (hop streams per connection). */
export const DEFAULT_RELAY_MAX_CIRCUITS_PER_PEER = 16

/** Relayed connections one reserved peer may receive through this relay at once (stop streams). */
export const DEFAULT_RELAY_MAX_CIRCUITS_TO_PEER = 64

/** A reservation request must complete within this long, or the client tries another relay. */
export const RELAY_RESERVATION_TIMEOUT_MS = 10_000

/** DCUtR: how long one hole-punch attempt may take, and how many are made (go-libp2p's values). */
export const HOLE_PUNCH_TIMEOUT_MS = 5_000
export const HOLE_PUNCH_RETRIES = 3
/** AutoNAT v2's own pace for its random walk (a 10 s walk for peers to check addresses with). */
export const AUTONAT_WALK_INTERVAL_MS = 60_000
/** The walk's pace once the node knows it is behind a NAT (see `slowAutoNatWalkWhenPrivate`). */
export const AUTONAT_PRIVATE_WALK_INTERVAL_MS = 30 * 60_000

/**
 * TCP hole punching between two NATed nodes (`hole-punch.ts`): its protocol, run over the relayed
 * connection the two already share.
 */
export const TCP_PUNCH_PROTOCOL = '/p2p-ai/tcp-punch/1.0.0'
/** Attempts per relayed connection; each is one exchange of addresses and one simultaneous open. */
export const TCP_PUNCH_ATTEMPTS = 3
/**
 * How long a simultaneous open may take. Of the two SYNs, the one sent second always passes the
 * other side's NAT (the first created the mapping it matches), so a punch that works completes
 * within about a round trip; one that takes longer will not.
 */
export const TCP_PUNCH_DIAL_TIMEOUT_MS = 3_000
/** How long the address exchange on the relayed connection may take. */
export const TCP_PUNCH_EXCHANGE_TIMEOUT_MS = 5_000
/** After every attempt with a peer failed, it is not tried again for this long. */
export const TCP_PUNCH_COOLDOWN_MS = 60_000
/** A relayed connection that opens before the punch port's mapping is known waits this long for it. */
export const TCP_PUNCH_MAPPING_WAIT_MS = 5_000
/** Peers on public addresses asked to observe the punch port: two tell a cone from a symmetric NAT. */
export const PUNCH_OBSERVERS = 2
/** An observation connection must be up within this long. */
export const PUNCH_OBSERVE_TIMEOUT_MS = 5_000
/** Largest message of the punch protocol, in bytes. */
export const TCP_PUNCH_MAX_MESSAGE_BYTES = 1_024

/**
 * How often the DHT checks which of this node's provider records need publishing again, and how
 * long a record stays valid on the servers that hold it. Records expiring within half the
 * validity are re-provided at the next check.
 */
export const DEFAULT_DHT_REPROVIDE_INTERVAL_MS = 60 * 60_000
export const DEFAULT_DHT_PROVIDE_VALIDITY_MS = 24 * 60 * 60_000

/** Prefix of the string hashed into a capability's DHT key: `sha256(prefix + key)`. */
export const CAPABILITY_KEY_PREFIX = 'p2p-ai/capability/v1\n'

/** Longest capability key, in UTF-8 bytes. */
export const MAX_CAPABILITY_KEY_BYTES = 1_024

/** Observed addresses (what peers saw us connect from) kept for status reports. */
export const MAX_OBSERVED_ADDRESSES = 16
