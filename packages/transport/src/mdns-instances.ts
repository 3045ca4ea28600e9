import type { PeerInfo } from '@libp2p/interface'
import { MDNS_PEER_REANNOUNCE_MS, MDNS_PEER_REFRESH_MS, MDNS_RECORD_TTL_S } from './constants.js'
import type { AnswerRecord, KnownAnswer } from './mdns-wire.js'

/** Instances remembered; spoofed floods evict the longest-unheard one beyond this. */
const MAX_INSTANCES = 4096

interface Entry {
  instance: string
  txt: string
  /** Undefined when the instance named no usable peer: a repeat of it is ignored just as cheaply. */
  info: PeerInfo | undefined
  /** Last time the peer was reported to libp2p (its peer store). */
  lastAnnounceAt: number
  /** Last time a sighting was reported. */
  lastSightingAt: number
  expiresAt: number
}

/** What to report about an answer: `announce` to libp2p (new, changed or long unreported), or a mere sighting. */
export interface Observation {
  info: PeerInfo
  announce: boolean
}

/**
 * What we last heard from each service instance. Every node hears every answer on the link, so
 * repeats must be cheap: an unchanged record costs a map lookup and TXT strings are parsed only
 * when they change. libp2p is told about a peer when it is new or its addresses change (each report
 * is a peer-store write), and again every 10 minutes so its addresses do not age out; sightings in
 * between are reported at most every 5 s, for the pool to re-dial a peer whose connection dropped.
 */
export class InstanceCache {
  private readonly entries = new Map<string, Entry>()
  /** Bumped whenever an instance is added, changed or removed: cached queries are stale then. */
  version = 0

  /**
   * Records an answer; returns the peer to report now, if any. `parse` turns the record into a
   * usable peer and is only called for new or changed records.
   */
  observe(record: AnswerRecord, now: number, parse: () => PeerInfo | undefined): Observation | undefined {
    const key = record.instance.toLowerCase()
    if (record.ttl === 0) {
      // A goodbye (RFC 6762 §10.1).
      if (this.entries.delete(key)) {
        this.version++
      }
      return undefined
    }
    const txt = record.txt.join('\n')
    const expiresAt = now + Math.min(record.ttl, MDNS_RECORD_TTL_S) * 1000
    const previous = this.entries.get(key)
    if (previous !== undefined && previous.expiresAt > now && previous.txt === txt) {
      previous.expiresAt = expiresAt
      if (previous.info === undefined) {
        return undefined
      }
      if (now - previous.lastAnnounceAt >= MDNS_PEER_REANNOUNCE_MS) {
        previous.lastAnnounceAt = now
        previous.lastSightingAt = now
        return { info: previous.info, announce: true }
      }
      if (now - previous.lastSightingAt >= MDNS_PEER_REFRESH_MS) {
        previous.lastSightingAt = now
        return { info: previous.info, announce: false }
      }
      return undefined
    }
    const info = parse()
    this.version++
    this.entries.delete(key)
    this.entries.set(key, {
      instance: record.instance,
      txt,
      info,
      lastAnnounceAt: now,
      lastSightingAt: now,
      expiresAt,
    })
    if (this.entries.size > MAX_INSTANCES) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) {
        this.entries.delete(oldest.value)
      }
    }
    return info === undefined ? undefined : { info, announce: true }
  }

  /** Instances with a usable peer and more than half their TTL left, for known-answer lists. */
  knownAnswers(now: number): KnownAnswer[] {
    const known: KnownAnswer[] = []
    for (const entry of this.entries.values()) {
      const ttl = Math.floor((entry.expiresAt - now) / 1000)
      if (entry.info !== undefined && ttl > MDNS_RECORD_TTL_S / 2) {
        known.push({ instance: entry.instance, ttl })
      }
    }
    return known
  }

  /** Forgets the instances naming `peer`: they leave the known-answer list until heard again. */
  forgetPeer(peer: string): boolean {
    let forgot = false
    for (const [key, entry] of this.entries) {
      if (entry.info?.id.toString() === peer) {
        this.entries.delete(key)
        forgot = true
      }
    }
    if (forgot) this.version++
    return forgot
  }

  clear(): void {
    this.entries.clear()
  }
}
