/** Limits and timings of the announce protocol (docs/protocol.md §2.2). */

/** Announcements are small; a bigger frame on this protocol is an attack or a bug. */
export const MAX_ANNOUNCE_FRAME_BYTES = 256 * 1024
/** Capability announcements to one peer at most once per this period. */
export const ANNOUNCE_MIN_INTERVAL_MS = 1_000
/** How often the engine is looked at for changes worth announcing; an unchanged one is not resent. */
export const ANNOUNCE_POLL_MS = 250
/** Time box of one announcement, the receiver's acknowledgement included. */
export const ANNOUNCE_TIMEOUT_MS = 3_000
/**
 * Announcements one peer may send this node per second on average, and at once above that. A
 * sender that follows the protocol sends one a second at most, plus its urgent ones (a pause, a
 * resume); a receiver drops the rest unread (each is an offence: `announce-flood`), so that
 * verifying floods of signed announcements cannot take its CPU.
 */
export const ANNOUNCE_RATE_PER_SECOND = 2
export const ANNOUNCE_BURST = 20
