import type { PeerId } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import type { Capabilities } from '@p2p-ai/protocol'
import { capabilityCid, provideCapability, type Transport } from '@p2p-ai/transport'
import { pino } from 'pino'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { CapabilityAdvertiser } from '../src/discovery/advertiser.js'
import { ProviderFinder } from '../src/discovery/finder.js'
import { capabilityKeys, modelKey, taskKey } from '../src/discovery/keys.js'

// Capability discovery against a made-up DHT: what is advertised, when it is published again,
// and how lookups are shared and cached. Across real NATs: test/swarm-internet.test.ts.

const peerId = (id: string): PeerId =>
  ({ toString: () => id, equals: (other: unknown) => String(other) === id }) as unknown as PeerId
const SELF = peerId('12D3KooWSUtKJpEJwFzzLwV7t1cPUhoRPpSFkzCQ41pvmsQmRwEe')
const PROVIDER = peerId('12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN')
const STRANGER = peerId('12D3KooWPnaoheHZSKDnEheUxnszQ4GQZL2NW7tw7QV4RBqXdP8V')
const SERVER_1 = peerId('12D3KooWBUJqF1x4VMDLGamsVdRnGGg8uoEm7CDMKKWTCtksaC2Z')
const SERVER_2 = peerId('12D3KooWN8vk39qXiRLtHzNmk2NAg4k9ZBHKqXACzDb1ETGcZabh')
const SHA = 'ab'.repeat(32)
const log = pino({ level: 'silent' })

function caps(taskTypes: string[], models: Capabilities['models'] = []): Capabilities {
  return { protocolMinor: 2, taskTypes, models, concurrency: 1, load: { running: 0, queued: 0 } }
}

/** A transport with a DHT that holds what `provide` put there and answers lookups from it. */
function fakeDht(servers = 1) {
  const records = new Map<string, PeerId[]>()
  const provided: string[] = []
  const withdrawn: string[] = []
  const connected = new Set<string>()
  const dialled: string[] = []
  const dialledAt: string[][] = []
  /** DHT servers in the routing table, and those connected; `deaf` ones miss provide walks. */
  const table: PeerId[] = []
  const online = new Set<string>()
  const deaf = new Set<string>()
  let lookups = 0
  const routingTable = Object.assign(new EventTarget(), {
    size: servers,
    kb: { toIterable: () => table.map((peerId) => ({ peerId })) },
  })
  const dht = {
    routingTable,
    // kad-dht's walk: one event per server that took the record.
    provide: async function* (cid: { toString(): string }) {
      provided.push(cid.toString())
      for (const server of table) {
        if (online.has(server.toString()) && !deaf.has(server.toString()))
          yield { name: 'PEER_RESPONSE', messageName: 'ADD_PROVIDER', from: server }
      }
    },
  }
  const events = new EventTarget()
  let addresses = ['/ip4/11.8.1.1/tcp/4001/p2p-circuit']
  const transport = Object.assign(events, {
    peerId: SELF,
    getMultiaddrs: () => addresses.map((a) => multiaddr(a)),
    services: { dht },
    contentRouting: {
      cancelReprovide: async (cid: { toString(): string }) => {
        withdrawn.push(cid.toString())
      },
      findProviders: async function* (cid: { toString(): string }) {
        lookups++
        for (const id of records.get(cid.toString()) ?? []) {
          yield { id, multiaddrs: [multiaddr(`/ip4/11.8.1.1/tcp/4001/p2p/${SELF}/p2p-circuit`)] }
        }
      },
    },
    getConnections: (peer?: PeerId) =>
      [...connected, ...online]
        .filter((p) => peer === undefined || p === peer.toString())
        .map((p) => ({ remotePeer: peerId(p), status: 'open' })),
    peerStore: { merge: async () => {} },
    // By PeerId, or at addresses that end in it.
    dial: async (target: PeerId | Array<{ toString(): string }>) => {
      const peer = Array.isArray(target) ? String(target[0]).split('/p2p/').at(-1)! : target.toString()
      dialled.push(peer)
      dialledAt.push(Array.isArray(target) ? target.map(String) : [])
      connected.add(peer)
    },
  }) as unknown as Transport
  return {
    transport,
    dht,
    provided,
    withdrawn,
    connected,
    dialled,
    dialledAt,
    deaf,
    lookups: () => lookups,
    async hold(key: string, ...peers: PeerId[]) {
      records.set((await capabilityCid(key)).toString(), peers)
    },
    /** A DHT server enters the routing table, connected. */
    join(server: PeerId) {
      table.push(server)
      online.add(server.toString())
      routingTable.size = table.length
      routingTable.dispatchEvent(new CustomEvent('peer:add', { detail: server }))
    },
    disconnect(server: PeerId) {
      online.delete(server.toString())
      events.dispatchEvent(new CustomEvent('peer:disconnect', { detail: server }))
    },
    reconnect(server: PeerId) {
      online.add(server.toString())
    },
    /** This node's announced addresses change (its relay moved, say). */
    announce(next: string[]) {
      addresses = next
      events.dispatchEvent(new CustomEvent('self:peer:update'))
    },
  }
}

/** Lets the check that `start()` began finish (the fake DHT answers at once). */
async function settled(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 10))
}

async function cids(keys: string[]): Promise<string[]> {
  return Promise.all(keys.map(async (key) => (await capabilityCid(key)).toString()))
}

describe('capability discovery on the DHT', () => {
  it('names a task type and a model by hash', () => {
    expect(taskKey('embed')).toBe('task/embed')
    expect(modelKey(SHA)).toBe(`model/${SHA}`)
    expect(
      capabilityKeys(caps(['embed', 'chunk'], [{ id: 'mini', sha256: SHA, taskTypes: ['embed'] }])),
    ).toEqual(['task/embed', 'task/chunk', `model/${SHA}`])
  })

  it('advertises what the node runs once it has DHT servers, withdraws what it stops running, and publishes again when a small DHT grows', async () => {
    const dht = fakeDht(0)
    let current = caps(['embed'], [{ id: 'mini', sha256: SHA, taskTypes: ['embed'] }])
    const advertiser = new CapabilityAdvertiser({
      transport: dht.transport,
      capabilities: () => current,
      log,
    })
    advertiser.start()
    try {
      await advertiser.check()
      // Nobody to hold the records yet: nothing is published (it would be lost).
      expect(dht.provided).toEqual([])
      // The first server enters the routing table: the records go out at once.
      dht.join(SERVER_1)
      await settled()
      expect(dht.provided.sort()).toEqual((await cids(['task/embed', `model/${SHA}`])).sort())
      expect([...advertiser.provided].sort()).toEqual([`model/${SHA}`, 'task/embed'].sort())
      expect(advertiser.holdersOf('task/embed')).toEqual([SERVER_1.toString()])
      await advertiser.check()
      expect(dht.provided).toHaveLength(2)

      current = caps(['chunk'])
      await advertiser.check()
      expect(dht.withdrawn.sort()).toEqual((await cids(['task/embed', `model/${SHA}`])).sort())
      expect(dht.provided.slice(2)).toEqual(await cids(['task/chunk']))

      // A second server appears: it holds none of the records, so they go out again.
      dht.join(SERVER_2)
      await settled()
      expect(dht.provided.slice(3)).toEqual(await cids(['task/chunk']))
      expect([...advertiser.holdersOf('task/chunk')].sort()).toEqual(
        [SERVER_1.toString(), SERVER_2.toString()].sort(),
      )
      await advertiser.check()
      expect(dht.provided).toHaveLength(4)
    } finally {
      advertiser.stop()
    }
  })

  it('keeps each record on every connected server of a small DHT: one a walk missed gets it at the next try, so the record outlives the server that had it', async () => {
    // The clock moves only when the test says so, and the advertiser's own tick never comes.
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] })
    const dht = fakeDht(0)
    dht.join(SERVER_1)
    dht.join(SERVER_2)
    // The second server is slow to answer: the walk stores the record on the first only, and
    // kad-dht calls that a success.
    dht.deaf.add(SERVER_2.toString())
    const advertiser = new CapabilityAdvertiser({
      transport: dht.transport,
      capabilities: () => caps(['far']),
      log,
    })
    advertiser.start()
    try {
      await settled()
      expect(advertiser.holdersOf('task/far')).toEqual([SERVER_1.toString()])
      const walks = dht.provided.length
      // Not at once again (a server that never answers would cost a walk every check), …
      await advertiser.check()
      expect(dht.provided).toHaveLength(walks)
      // … but after a backoff, and then it is on both.
      dht.deaf.clear()
      vi.setSystemTime(Date.now() + 2_001)
      await advertiser.check()
      expect([...advertiser.holdersOf('task/far')].sort()).toEqual(
        [SERVER_1.toString(), SERVER_2.toString()].sort(),
      )
      // The first server dies: the second has the record; nothing to do.
      dht.disconnect(SERVER_1)
      const before = dht.provided.length
      vi.setSystemTime(Date.now() + 60_000)
      await advertiser.check()
      expect(dht.provided).toHaveLength(before)
      // It comes back (perhaps restarted, its records gone): it gets the record again.
      dht.reconnect(SERVER_1)
      await advertiser.check()
      expect(dht.provided).toHaveLength(before + 1)
      expect(advertiser.holdersOf('task/far')).toContain(SERVER_1.toString())
    } finally {
      advertiser.stop()
    }
  })

  it('publishes every record again at once when its announced addresses change (its relay moved), so servers hand out the new ones', async () => {
    const dht = fakeDht(0)
    dht.join(SERVER_1)
    const advertiser = new CapabilityAdvertiser({
      transport: dht.transport,
      capabilities: () => caps(['far', 'near']),
      log,
    })
    advertiser.start()
    try {
      await settled()
      expect(dht.provided).toHaveLength(2)
      // Something else about the node changed (a protocol, say): nothing to tell the DHT.
      dht.transport.dispatchEvent(new CustomEvent('self:peer:update'))
      await settled()
      expect(dht.provided).toHaveLength(2)
      dht.announce(['/ip4/11.8.1.2/tcp/4001/p2p-circuit'])
      await settled()
      expect(dht.provided.slice(2).sort()).toEqual((await cids(['task/far', 'task/near'])).sort())
    } finally {
      advertiser.stop()
    }
  })

  it('counts a record that no server took as not published, and tries again', async () => {
    const dht = fakeDht(0)
    dht.join(SERVER_1)
    dht.deaf.add(SERVER_1.toString())
    await expect(provideCapability(dht.transport, 'task/far')).rejects.toMatchObject({
      code: 'ERR_CAPABILITY_NOT_STORED',
    })
    const advertiser = new CapabilityAdvertiser({
      transport: dht.transport,
      capabilities: () => caps(['far']),
      log,
    })
    advertiser.start()
    try {
      await settled()
      expect(dht.provided).toHaveLength(2)
      expect(advertiser.provided).toEqual([])
    } finally {
      advertiser.stop()
    }
  })

  it('publishes several records at once, never more than four, so one slow walk holds no other back', async () => {
    const dht = fakeDht()
    let inFlight = 0
    let most = 0
    const release: Array<() => void> = []
    dht.join(SERVER_1)
    dht.dht.provide = async function* () {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise<void>((resolve) => release.push(resolve))
      inFlight--
      yield { name: 'PEER_RESPONSE', messageName: 'ADD_PROVIDER', from: SERVER_1 }
    }
    const types = Array.from({ length: 10 }, (_, i) => `type-${i}`)
    const advertiser = new CapabilityAdvertiser({
      transport: dht.transport,
      capabilities: () => caps(types),
      log,
    })
    advertiser.start()
    try {
      await new Promise((resolve) => setTimeout(resolve, 10))
      expect(inFlight).toBe(4)
      while (advertiser.provided.length < types.length) {
        release.splice(0).forEach((resolve) => {
          resolve()
        })
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      expect(most).toBe(4)
      expect([...advertiser.provided].sort()).toEqual(types.map((t) => `task/${t}`).sort())
    } finally {
      advertiser.stop()
    }
  })

  it('looks a key up once for a burst of tasks, dials the providers it may use, and looks again only once they are gone', async () => {
    const dht = fakeDht()
    await dht.hold('task/rare', PROVIDER, STRANGER)
    const finder = new ProviderFinder({
      transport: dht.transport,
      allows: (peer) => peer !== STRANGER.toString(),
      log,
    })
    const spec = { type: 'rare', modelSha256: undefined }
    const [first, second] = await Promise.all([finder.find(spec), finder.find(spec)])
    expect(first).toEqual({
      key: 'task/rare',
      found: [PROVIDER.toString()],
      connected: [PROVIDER.toString()],
    })
    expect(second).toBe(first)
    expect(dht.lookups()).toBe(1)
    expect(dht.dialled).toEqual([PROVIDER.toString()])
    // At the relay address the DHT gave, and nothing else this node may have heard.
    expect(dht.dialledAt).toEqual([[`/ip4/11.8.1.1/tcp/4001/p2p/${SELF}/p2p-circuit/p2p/${PROVIDER}`]])
    // Still connected: the answer stands.
    await finder.find(spec)
    expect(dht.lookups()).toBe(1)
    // The provider went away (its relay died, it left): look again.
    dht.connected.clear()
    expect((await finder.find(spec)).connected).toEqual([PROVIDER.toString()])
    expect(dht.lookups()).toBe(2)
  })

  it('asks nothing before it knows a DHT server, and remembers nothing from that', async () => {
    const dht = fakeDht(0)
    await dht.hold('task/rare', PROVIDER)
    const finder = new ProviderFinder({ transport: dht.transport, allows: () => true, log })
    expect(await finder.find({ type: 'rare', modelSha256: undefined })).toEqual({
      key: 'task/rare',
      found: [],
      connected: [],
    })
    expect(dht.lookups()).toBe(0)
    dht.dht.routingTable.size = 1
    expect((await finder.find({ type: 'rare', modelSha256: undefined })).connected).toEqual([
      PROVIDER.toString(),
    ])
  })

  it('asks for a model by its hash, and does not ask again at once when nobody has it', async () => {
    const dht = fakeDht()
    const finder = new ProviderFinder({ transport: dht.transport, allows: () => true, log })
    const spec = { type: 'embed', modelSha256: SHA }
    expect(await finder.find(spec)).toEqual({ key: `model/${SHA}`, found: [], connected: [] })
    expect(await finder.find(spec)).toEqual({ key: `model/${SHA}`, found: [], connected: [] })
    expect(finder.lookups).toBe(1)
  })

  it('looks a key nobody provides up again after 1 s, then 2 s and 4 s, then every 5 s; a provider that appears is found at the next one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const dht = fakeDht()
    const finder = new ProviderFinder({ transport: dht.transport, allows: () => true, log })
    const spec = { type: 'late', modelSha256: undefined }
    const lookupsAfter = async (ms: number): Promise<number> => {
      vi.advanceTimersByTime(ms)
      await finder.find(spec)
      return dht.lookups()
    }
    await finder.find(spec)
    expect(dht.lookups()).toBe(1)
    expect(await lookupsAfter(900)).toBe(1)
    expect(await lookupsAfter(200)).toBe(2) // 1 s after the first
    expect(await lookupsAfter(1_900)).toBe(2)
    expect(await lookupsAfter(200)).toBe(3) // 2 s after the second
    expect(await lookupsAfter(4_100)).toBe(4) // 4 s
    expect(await lookupsAfter(4_900)).toBe(4)
    expect(await lookupsAfter(200)).toBe(5) // capped at 5 s
    await dht.hold('task/late', PROVIDER)
    vi.advanceTimersByTime(5_100)
    expect((await finder.find(spec)).connected).toEqual([PROVIDER.toString()])
  })
})

afterEach(() => {
  vi.useRealTimers()
})
