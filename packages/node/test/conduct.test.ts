import type { Connection, PeerId } from '@libp2p/interface'
import { streamPair } from '@libp2p/utils'
import { generateIdentity, type Identity } from '@p2p-ai/identity'
import { type Capabilities, encodeFrame, replayCache, sealEnvelope } from '@p2p-ai/protocol'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ANNOUNCE_BURST } from '../src/announce/constants.js'
import { announcePace } from '../src/announce/pace.js'
import { announceHandler } from '../src/announce/receive.js'
import { Admission, type ServingLimits } from '../src/exchange/serve/admission.js'
import { BAN_POINTS, OFFENCE_POINTS } from '../src/peers/constants.js'
import { type Offence, type PeerBan, ReputationBook } from '../src/peers/reputation.js'

const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const FRIEND = '12D3KooWGocXVpemkkdVci9LkEp5KFCGCguC6SjSttmn3hQrZNif'

function book(conduct = {}) {
  const clock = { now: 1_000_000 }
  const b = new ReputationBook({ now: () => clock.now, conduct })
  const bans: PeerBan[] = []
  b.addEventListener('peer:banned', (evt) => bans.push(evt.detail))
  const offend = (offence: Offence, peer = PEER): void => {
    for (let points = 0; points < BAN_POINTS; points += OFFENCE_POINTS[offence])
      b.recordOffence(peer, offence)
  }
  return { b, clock, bans, offend }
}

describe('bans', () => {
  it('bans at BAN_POINTS for banMs, then four times longer on each repeat, up to maxBanMs', () => {
    const { b, clock, bans, offend } = book({ banMs: 60_000, maxBanMs: 1_800_000 })
    const lengths: number[] = []
    for (let i = 0; i < 4; i++) {
      offend('forged')
      expect(b.isBanned(PEER)).toBe(true)
      lengths.push(bans.at(-1)!.durationMs)
      clock.now = bans.at(-1)!.until
      expect(b.isBanned(PEER)).toBe(false)
    }
    expect(lengths).toEqual([60_000, 240_000, 960_000, 1_800_000])
    expect(bans.map((ban) => ban.reason)).toEqual(['forged', 'forged', 'forged', 'forged'])
    expect(b.get(PEER).bannedUntil).toBeUndefined()
  })

  it('forgets offences and earlier bans as time passes', () => {
    const { b, clock, bans, offend } = book()
    b.recordOffence(PEER, 'forged')
    clock.now += 60 * 60 * 1000
    // An hour later the five points have halved six times: another five do not ban.
    b.recordOffence(PEER, 'forged')
    expect(b.isBanned(PEER)).toBe(false)
    offend('malformed-frame')
    clock.now = bans[0]!.until + 7 * 24 * 60 * 60 * 1000
    offend('malformed-frame')
    // A week of good behaviour later, the next ban is a first one again.
    expect(bans[1]!.durationMs).toBe(bans[0]!.durationMs)
  })

  it('never bans an exempt peer, and lets a banned one back in when it becomes exempt', () => {
    const { b, offend } = book({ exempt: [FRIEND] })
    offend('forged', FRIEND)
    expect(b.isBanned(FRIEND)).toBe(false)
    expect(b.get(FRIEND).offences).toBe(0)
    offend('forged')
    expect(b.isBanned(PEER)).toBe(true)
    b.configure({ exempt: [FRIEND, PEER] })
    expect(b.isBanned(PEER)).toBe(false)
  })
})

describe('admission', () => {
  const limits: ServingLimits = {
    tasksPerSecond: 10,
    burst: 5,
    maxOpenTasks: 2,
    maxInputBytes: 1_000,
    maxInputBytesByType: new Map([['ocr', 5_000]]),
  }

  function admission() {
    const clock = { now: 0 }
    const offences: string[] = []
    const a = new Admission({
      limits,
      isExempt: (peer) => peer === FRIEND,
      offence: (_peer, offence) => offences.push(offence),
      now: () => clock.now,
    })
    return { a, clock, offences }
  }

  it('takes a burst, refuses beyond it with a retry-after, and refills at the rate', () => {
    const { a, clock } = admission()
    for (let i = 0; i < 5; i++) expect(a.arrive(PEER, 'mock', 100)).toBeUndefined()
    const refused = a.arrive(PEER, 'mock', 100)
    expect(refused).toMatchObject({ error: { code: 'ERR_RATE_LIMITED' }, retryAfterMs: 1_000 })
    clock.now += 1_000
    for (let i = 0; i < 5; i++) expect(a.arrive(PEER, 'mock', 100)).toBeUndefined()
    // An exempt peer is never limited.
    for (let i = 0; i < 50; i++) expect(a.arrive(FRIEND, 'mock', 100)).toBeUndefined()
  })

  it('lets requests already on their way arrive after a reject, and counts later ones as offences', () => {
    const { a, clock, offences } = admission()
    for (let i = 0; i < 6; i++) a.arrive(PEER, 'mock', 100)
    // Its round trip is not measured yet: 250 ms for the requests on their way.
    clock.now += 200
    const onItsWay = a.arrive(PEER, 'mock', 100)
    expect(onItsWay).toMatchObject({ error: { code: 'ERR_RATE_LIMITED' } })
    expect(onItsWay?.unanswered).toBeUndefined()
    expect(offences).toEqual([])
    clock.now += 400
    // Sent after it was told: an offence, and no answer.
    expect(a.arrive(PEER, 'mock', 100)).toMatchObject({ retryAfterMs: 400, unanswered: true })
    expect(offences).toEqual(['ignored-retry-after'])
    clock.now += 400
    expect(a.arrive(PEER, 'mock', 100)).toBeUndefined()
  })

  it('gives a peer whose round trip it knows four of them for its requests on their way, at least 100 ms', () => {
    const clock = { now: 0 }
    const offences: string[] = []
    const a = new Admission({
      limits,
      isExempt: () => false,
      offence: (_peer, offence) => offences.push(offence),
      rttOf: () => 5,
      now: () => clock.now,
    })
    for (let i = 0; i < 6; i++) a.arrive(PEER, 'mock', 100)
    clock.now += 90
    a.arrive(PEER, 'mock', 100)
    expect(offences).toEqual([])
    clock.now += 20
    a.arrive(PEER, 'mock', 100)
    expect(offences).toEqual(['ignored-retry-after'])
  })

  it('caps the input by task type, and the open tasks by requester', () => {
    const { a } = admission()
    expect(a.arrive(PEER, 'mock', 1_001)).toMatchObject({ error: { code: 'ERR_INPUT_TOO_LARGE' } })
    expect(a.arrive(PEER, 'ocr', 4_000)).toBeUndefined()
    expect(a.open(PEER)).toBeUndefined()
    expect(a.open(PEER)).toBeUndefined()
    expect(a.open(PEER)).toMatchObject({ error: { code: 'ERR_BUSY' }, retryAfterMs: 1_000 })
    a.closed(PEER)
    expect(a.open(PEER)).toBeUndefined()
    expect(a.openOf(PEER)).toBe(2)
  })

  it("weighs a requester's priority in its share up to the default only, an exempt peer's in full", () => {
    const { a } = admission()
    expect([a.weight(PEER, 0), a.weight(PEER, 5), a.weight(PEER, 9)]).toEqual([1, 6, 6])
    expect(a.weight(FRIEND, 9)).toBe(10)
  })
})

describe('the announce protocol', () => {
  const caps: Capabilities = {
    protocolMinor: 4,
    taskTypes: ['embed'],
    models: [],
    concurrency: 2,
    load: { running: 0, queued: 0 },
  }

  function receiver(exempt: readonly string[] = []) {
    const clock = { now: 0 }
    const offences: Offence[] = []
    const received: string[] = []
    const handler = announceHandler({
      replayCache: replayCache(),
      log: pino({ level: 'silent' }),
      pace: announcePace({ now: () => clock.now }),
      offence: (_peer, offence) => offences.push(offence),
      isExempt: (peer) => exempt.includes(peer),
      onGoodbye: () => {},
      onCapabilities: (connection) => received.push(connection.remotePeer.toString()),
    })
    /** One stream from `sender` carrying `frame`; resolves once the receiver is done with it. */
    const announce = async (sender: Identity, frame: Uint8Array): Promise<void> => {
      const [outbound, inbound] = await streamPair()
      const remotePeer = { toString: () => sender.peerId } as unknown as PeerId
      const done = handler(inbound, { remotePeer } as unknown as Connection)
      outbound.send(frame)
      await outbound.close().catch(() => {})
      await done
    }
    const signed = (sender: Identity) => encodeFrame(sealEnvelope(sender, 'capabilities', caps).envelope)
    return { clock, offences, received, announce, signed }
  }

  it('reads a burst of announcements, drops those beyond the pace unread as offences, and reads again once it refilled', async () => {
    const r = receiver()
    const sender = generateIdentity()
    for (let i = 0; i < ANNOUNCE_BURST + 5; i++) await r.announce(sender, r.signed(sender))
    expect(r.received).toHaveLength(ANNOUNCE_BURST)
    expect(r.offences).toEqual(Array(5).fill('announce-flood'))
    r.clock.now += 1_000
    await r.announce(sender, r.signed(sender))
    expect(r.received).toHaveLength(ANNOUNCE_BURST + 1)
  })

  it('holds forged and malformed announcements against their sender, and not one that is merely late', async () => {
    const r = receiver()
    const sender = generateIdentity()
    await r.announce(sender, r.signed(generateIdentity()))
    await r.announce(sender, new TextEncoder().encode('\u0005hello'))
    const old = sealEnvelope(sender, 'capabilities', caps, { now: Date.now() - 10 * 60 * 1000 })
    await r.announce(sender, encodeFrame(old.envelope))
    expect(r.offences).toEqual(['forged', 'malformed-frame'])
    expect(r.received).toEqual([])
  })

  it('never paces an exempt peer', async () => {
    const friend = generateIdentity()
    const r = receiver([friend.peerId])
    for (let i = 0; i < ANNOUNCE_BURST + 5; i++) await r.announce(friend, r.signed(friend))
    expect(r.received).toHaveLength(ANNOUNCE_BURST + 5)
    expect(r.offences).toEqual([])
  })
})
