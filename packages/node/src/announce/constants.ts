/** Limits and timings of the announce protocol (docs/protocol.md §2.2). */

/** Announcements are small; a bigger frame on this protocol is an attack or a bug. */
export const MAX_ANNOUNCE_FRAME_BYTES = 256 * 1024
/** Capability announcements to one peer at most once per this period. */
export const ANNOUNCE_MIN_INTERVAL_MS = 1_000
/** How often the engine is looked at for changes worth announcing; an unchanged one is not resent. */
export const ANNOUNCE_POLL_MS = 250
/** Time box of one announcement, the receiver's acknowledgement included. */
export const ANNOUNCE_TIMEOUT_MS = 3_000
