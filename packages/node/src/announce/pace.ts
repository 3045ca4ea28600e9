/**
 * How many announcements a peer may send this node (`ANNOUNCE_RATE_PER_SECOND`, `ANNOUNCE_BURST`),
 * taken before the announcement's signature is verified. Far above what a sender that follows the
 * protocol sends; only a flood meets it.
 */
import { PeerRate } from '../peers/rate.js'
import { ANNOUNCE_BURST, ANNOUNCE_RATE_PER_SECOND } from './constants.js'

export interface AnnouncePaceInit {
  /** @default ANNOUNCE_RATE_PER_SECOND (2) */
  perSecond?: number
  /** @default ANNOUNCE_BURST (20) */
  burst?: number
  /** @default performance.now */
  now?: () => number
}

/** A new pace of announcements per peer. */
export function announcePace(init: AnnouncePaceInit = {}): PeerRate {
  return new PeerRate({
    perSecond: init.perSecond ?? ANNOUNCE_RATE_PER_SECOND,
    burst: init.burst ?? ANNOUNCE_BURST,
    ...(init.now === undefined ? {} : { now: init.now }),
  })
}
