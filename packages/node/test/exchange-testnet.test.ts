import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestnet, type TestHost } from '@p2p-ai/testnet'
import { describe, expect, it } from 'vitest'
import type { NodeInit } from '../src/create.js'
import type { NetworkTaskRecord } from '../src/exchange/index.js'
import type { PeerInfo } from '../src/peers/types.js'
import { Host, type HostEvent, tempDir, uniqueServiceTag } from './helpers.js'

const TRUST_HOST = fileURLToPath(new URL('./fixtures/trust-host.mjs', import.meta.url))

/** Starts trust-host.mjs inside a test host. */
function start(host: TestHost, init: NodeInit, provide: boolean): Host {
  return new Host(
    host.spawn(process.execPath, [TRUST_HOST, JSON.stringify(init), JSON.stringify({ provide })]),
  )
}

async function ready(host: Host): Promise<{ peerId: string; addresses: string[] }> {
  const e = await host.waitFor((ev) => ev.event === 'ready', 30_000, 'ready')
  return { peerId: e.peerId as string, addresses: e.addresses as string[] }
}

/** Asks for the host's peers until `accept` holds, or fails after `timeoutMs`. */
async function peersUntil(
  host: Host,
  accept: (p: { connected: string[]; exchange: PeerInfo[] }) => boolean,
  timeoutMs = 30_000,
): Promise<{ connected: string[]; exchange: PeerInfo[] }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const asked = Date.now()
    host.send('peers')
    const e = await host.waitFor((ev) => ev.event === 'peers' && ev.at >= asked, 10_000, 'peers')
    const answer = e as unknown as HostEvent & { connected: string[]; exchange: PeerInfo[] }
    if (accept(answer)) return answer
    if (Date.now() > deadline) throw new Error(`peers never matched: ${JSON.stringify(answer.connected)}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

async function submit(host: Host, id: string, options: object = {}): Promise<NetworkTaskRecord> {
  host.send(`submit ${JSON.stringify({ task: { type: 'where', id, input: { tag: id } }, options })}`)
  const e = await host.waitFor((ev) => ev.event === 'result' && ev.id === id, 60_000, `result of ${id}`)
  return e.record as NetworkTaskRecord
}

const tcp = ['/ip4/0.0.0.0/tcp/0']

describe('tasks across test hosts in network namespaces (needs root and iproute2; CI runs as root)', () => {
  it('spreads tasks over the providers of a small swarm found by mDNS across the bridge', async () => {
    await using dir = await tempDir('p2p-ai-trust-net-')
    await using net = await createTestnet({ hosts: 4, prefix: 'p2ptrust' })
    const serviceTag = uniqueServiceTag()
    const hosts = net.hosts.map((h, i) =>
      start(
        h,
        {
          dataDir: join(dir.path, `host-${i}`),
          network: { listen: tcp, mdns: { enabled: true, interface: h.interface, serviceTag } },
          engineOptions: { workers: false },
        },
        i > 0,
      ),
    )
    try {
      const ids = await Promise.all(hosts.map(ready))
      const providers = ids.slice(1).map((x) => x.peerId)
      const requester = hosts[0] as Host
      const knowsAll = ({ exchange }: { exchange: PeerInfo[] }) =>
        providers.every((p) =>
          exchange.some(
            (x) =>
              x.peerId === p &&
              x.status === 'connected' &&
              x.capabilities?.taskTypes.includes('where') === true,
          ),
        )
      // mDNS makes every pair dial at once; wait until the duplicate connections are sorted out and
      // the requester has known every provider for a second.
      await peersUntil(requester, knowsAll)
      await new Promise((r) => setTimeout(r, 1_000))
      await peersUntil(requester, knowsAll)
      const records = await Promise.all(
        Array.from({ length: 12 }, (_, i) => submit(requester, `spread-${i}`)),
      )
      const ranOn = new Map<string, number>()
      for (const record of records) {
        expect(record.status).toBe('COMPLETED')
        const output = record.output as { ranOn: string; tag: string }
        expect(output.ranOn).toBe(record.peer)
        expect(output.tag).toBe(record.id)
        ranOn.set(output.ranOn, (ranOn.get(output.ranOn) ?? 0) + 1)
      }
      expect([...ranOn.keys()].sort()).toEqual([...providers].sort())
      for (const count of ranOn.values()) expect(count).toBeGreaterThanOrEqual(2)
    } finally {
      await Promise.all(hosts.map((h) => h[Symbol.asyncDispose]()))
    }
  }, 180_000)

  it('returns a verified result over 3 hops on a line A – B – C – D where only neighbours connect', async () => {
    await using dir = await tempDir('p2p-ai-trust-line-')
    await using net = await createTestnet({ hosts: 4, prefix: 'p2pline' })
    const hosts: Host[] = []
    const ids: string[] = []
    try {
      // No mDNS: each host knows only the previous one (bootstrap), so the links are A–B, B–C, C–D.
      let previous: string | undefined
      for (const [i, h] of net.hosts.entries()) {
        const host = start(
          h,
          {
            dataDir: join(dir.path, `line-${i}`),
            network: {
              listen: tcp,
              mdns: { enabled: false },
              bootstrap: previous === undefined ? [] : [previous],
            },
            engineOptions: { workers: false },
          },
          i === net.hosts.length - 1,
        )
        hosts.push(host)
        const { peerId, addresses } = await ready(host)
        ids.push(peerId)
        previous = addresses.find((a) => a.includes(`/ip4/${h.address}/`))
        expect(previous, `an address of host ${i} on the bridge`).toBeDefined()
      }
      const [a, b, c, d] = ids as [string, string, string, string]
      // A learns from B that `where` is two hops beyond it.
      await peersUntil(hosts[0] as Host, ({ exchange }) =>
        exchange.some(
          (p) => p.peerId === b && p.capabilities?.reach?.some((r) => r.taskType === 'where' && r.hops === 2),
        ),
      )
      const record = await submit(hosts[0] as Host, 'three-hops')
      expect(record).toMatchObject({
        status: 'COMPLETED',
        peer: b,
        provider: d,
        output: { ranOn: d, tag: 'three-hops' },
      })
      // The line held: A only ever talked to B.
      const { connected } = await peersUntil(hosts[0] as Host, () => true)
      expect(connected).toEqual([b])
      expect(connected).not.toContain(c)
      const fromD = await peersUntil(hosts[3] as Host, () => true)
      expect(fromD.connected).not.toContain(a)
    } finally {
      await Promise.all(hosts.map((h) => h[Symbol.asyncDispose]()))
    }
  }, 180_000)
})
