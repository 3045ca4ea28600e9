import { beforeAll, describe, expect, it } from 'vitest'
import type { TestHost } from '../src/host.js'
import { assertTestnetAvailable } from '../src/ip.js'
import { createTestnet } from '../src/testnet.js'

/** Records every mDNS datagram that reaches `host` over its bridge link, as `[source]` lines. */
function listen(host: TestHost): { datagrams: () => string[]; stop: () => void } {
  const script = `
    const s = require('node:dgram').createSocket({ type: 'udp4', reuseAddr: true })
    s.on('message', (m, r) => console.log(r.address))
    s.bind(5353, '224.0.0.251', () => { s.addMembership('224.0.0.251', '${host.address}'); console.log('ready') })`
  const child = host.spawn(process.execPath, ['-e', script])
  const lines: string[] = []
  child.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)))
  return { datagrams: () => lines.filter((l) => l !== 'ready'), stop: () => child.kill('SIGKILL') }
}

// The safety property of the interface choice, observed from another machine on the same link:
// a node told to use loopback puts nothing on the LAN, whatever addresses it listens on.
describe('mDNS stays on the chosen interface (needs root and iproute2)', () => {
  beforeAll(async () => {
    await assertTestnetAvailable()
  })

  it("'loopback' and 'auto' with loopback listeners send nothing on the LAN; the LAN interface does", async () => {
    await using net = await createTestnet({ hosts: 2 })
    const [sender, observer] = net.hosts
    if (sender === undefined || observer === undefined) throw new Error('two hosts expected')
    const probe = listen(observer)
    await new Promise((resolve) => setTimeout(resolve, 500))

    // Listening on every interface, including the bridge one, but mDNS pinned to loopback.
    const loopback = await sender.startNode({
      listen: ['/ip4/0.0.0.0/tcp/0'],
      mdns: { interface: 'loopback', intervalMs: 500 },
    })
    const auto = await sender.startNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { intervalMs: 500 } })
    // Long enough for the start-up query, the announcement and three more queries from each.
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    expect(probe.datagrams()).toEqual([])
    await Promise.all([loopback.stop(), auto.stop()])

    // Control: the same probe does see a node that is told to use the bridge interface.
    const lan = await sender.startNode({ mdns: { interface: sender.interface, intervalMs: 500 } })
    await expect.poll(() => probe.datagrams().length, { timeout: 5_000 }).toBeGreaterThan(0)
    expect(new Set(probe.datagrams())).toEqual(new Set([sender.address]))
    await lan.stop()
    probe.stop()
  }, 40_000)
})
