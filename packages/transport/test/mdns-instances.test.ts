import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerInfo } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { MDNS_PEER_REANNOUNCE_MS, MDNS_PEER_REFRESH_MS } from '../src/constants.js'
import { InstanceCache } from '../src/mdns-instances.js'

const record = (txt: string[], ttl = 120) => ({ instance: 'abc._p2p._udp.local', txt, ttl })

describe('mDNS instance cache', () => {
  it('announces new and changed peers, reports re-sightings at most every 5 s, re-announces every 10 min', async () => {
    const info: PeerInfo = { id: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), multiaddrs: [] }
    const cache = new InstanceCache()
    let parses = 0
    const parse = () => {
      parses++
      return info
    }
    expect(cache.observe(record(['a']), 0, parse)).toEqual({ info, announce: true })
    expect(cache.observe(record(['a']), 1_000, parse)).toBeUndefined()
    expect(cache.observe(record(['a']), MDNS_PEER_REFRESH_MS, parse)).toEqual({ info, announce: false })
    // Heard every 50 s (well within the 120 s TTL): sightings, until 10 minutes have passed.
    let t = MDNS_PEER_REFRESH_MS
    while (t + 50_000 < MDNS_PEER_REANNOUNCE_MS) {
      t += 50_000
      expect(cache.observe(record(['a']), t, parse)).toEqual({ info, announce: false })
    }
    expect(cache.observe(record(['a']), MDNS_PEER_REANNOUNCE_MS, parse)).toEqual({ info, announce: true })
    expect(parses).toBe(1)
    // Changed TXT strings: parsed again and announced at once.
    expect(cache.observe(record(['b']), MDNS_PEER_REANNOUNCE_MS + 1, parse)).toEqual({ info, announce: true })
    expect(parses).toBe(2)
  })

  it('forgets an instance on a goodbye (TTL 0) and after its TTL, and remembers unusable ones cheaply', () => {
    const cache = new InstanceCache()
    let parses = 0
    const unusable = () => {
      parses++
      return undefined
    }
    expect(cache.observe(record(['x']), 0, unusable)).toBeUndefined()
    expect(cache.observe(record(['x']), 10, unusable)).toBeUndefined()
    expect(parses).toBe(1)
    const version = cache.version
    cache.observe(record(['x'], 0), 20, unusable)
    expect(cache.version).toBe(version + 1)
    cache.observe(record(['x']), 30, unusable)
    expect(parses).toBe(2)
    // Expired after 120 s: parsed as new.
    cache.observe(record(['x']), 30 + 121_000, unusable)
    expect(parses).toBe(3)
  })

  it('lists only usable instances with more than half their TTL left as known answers', async () => {
    const info: PeerInfo = { id: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), multiaddrs: [] }
    const cache = new InstanceCache()
    cache.observe(record(['a']), 0, () => info)
    cache.observe({ instance: 'junk._p2p._udp.local', txt: [], ttl: 120 }, 0, () => undefined)
    expect(cache.knownAnswers(1_000)).toEqual([{ instance: 'abc._p2p._udp.local', ttl: 119 }])
    expect(cache.knownAnswers(61_000)).toEqual([])
  })
})
