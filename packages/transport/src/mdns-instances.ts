import type { PeerInfo } from '@libp2p/interface'
import { MDNS_PEER_REFRESH_MS, MDNS_RECORD_TTL_S } from './constants.js'
import type { AnswerRecord, KnownAnswer } from './mdns-wire.js'

/** Instances remembered; spoofed floods evict the longest-unheard one beyond this. */
const MAX_INSTANCES = 4096

interface Entry {
  instance: string
  txt: string
  /** Undefined when the instance named no usable peer: a repeat of it is ignored just as cheaply. */
  info: PeerInfo | undefined
  lastEmitAt: number
  expiresAt: number
}

/**
 * What we last heard from each service instance. Every node hears every answer on the link, so
 * repeats must be cheap: an unchanged record costs a map lookup, TXT strings are parsed only when
 * they change, and a peer is reported again at most every few seconds.
 */
export class InstanceCache {
  private readonly entries = new Map<string, Entry>()

  /**
   * Records an answer; returns the peer to report now, if any. `parse` turns the record into a
   * usable peer and is only called for new or changed records.
   */
  observe(record: AnswerRecord, now: number, parse: () => PeerInfo | undefined): PeerInfo | undefined {
    const key = record.instance.toLowerCase()
    if (record.ttl === 0) {
      // A goodbye (RFC 6762 §10.1).
      this.entries.delete(key)
      return undefined
    }
    const txt = record.txt.join('\n')
    const expiresAt = now + Math.min(record.ttl, MDNS_RECORD_TTL_S) * 1000
    const previous = this.entries.get(key)
    if (previous !== undefined && previous.expiresAt > now && previous.txt === txt) {
      previous.expiresAt = expiresAt
      if (previous.info === undefined || now - previous.lastEmitAt < MDNS_PEER_REFRESH_MS) {
        return undefined
      }
      previous.lastEmitAt = now
      return previous.info
    }
    const info = parse()
    this.entries.delete(key)
    this.entries.set(key, { instance: record.instance, txt, info, lastEmitAt: now, expiresAt })
    if (this.entries.size > MAX_INSTANCES) {
      const oldest = this.entries.keys().next()
      if (oldest.done !== true) {
        this.entries.delete(oldest.value)
      }
    }
    return info
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

  clear(): void {
    this.entries.clear()
  }
}
