/** Timings of capability discovery on the DHT (advertiser.ts, finder.ts). */

/** How often the advertiser compares what the node runs with what it published. */
export const ADVERTISE_CHECK_MS = 2_000
/** Publications (DHT walks) the advertiser runs at once. */
export const ADVERTISE_CONCURRENCY = 4
/** A failed publication is retried with backoff up to this long apart. */
export const ADVERTISE_RETRY_MAX_MS = 60_000
/** One publication (a DHT walk to the closest servers and a store on each) may take this long. */
export const ADVERTISE_TIMEOUT_MS = 20_000
/** A lookup of providers gives up after this long. */
export const FIND_TIMEOUT_MS = 10_000
/** Providers dialled per lookup: enough for a choice and a spare, not a crowd. */
export const FIND_MAX_PROVIDERS = 3
/**
 * A lookup that found nobody is repeated for the same key after `FIND_NEGATIVE_FIRST_MS`, then
 * twice as long each time up to `FIND_NEGATIVE_CACHE_MS`: a requester and a provider that start
 * together find each other a moment after the provider has published, while a key nobody
 * provides costs one walk every few seconds at most.
 */
export const FIND_NEGATIVE_FIRST_MS = 1_000
/** Longest a lookup that found nobody stands before the key is looked up again. */
export const FIND_NEGATIVE_CACHE_MS = 5_000
/** A lookup that found providers is not repeated for the same key within this long. */
export const FIND_POSITIVE_CACHE_MS = 30_000
/** Dialling one provider found may take this long (through a relay if need be). */
export const FIND_DIAL_TIMEOUT_MS = 10_000
/**
 * Kademlia's replication factor (kad-dht's k): records go to the k servers closest to the key. A
 * DHT with fewer servers than this gets each record on every server.
 */
export const DHT_REPLICATION = 20
