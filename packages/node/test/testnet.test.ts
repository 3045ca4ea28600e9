import { join } from 'node:path'
import { createTestnet } from '@p2p-ai/testnet'
import { describe, expect, it } from 'vitest'
import { Host, type HostEvent, hostArgs, tempDir, uniqueServiceTag } from './helpers.js'

const DETECTION_MS = 10_000 + 3_000
/** The event is timestamped in the host process; reading it from its stdout is not part of detection. */
const failedFor = (peerId: string) => (e: HostEvent) =>
  e.event === 'peer:failed' && (e.peer as { peerId: string }).peerId === peerId
const connectedTo =
  (peerId: string, after = 0) =>
  (e: HostEvent) =>
    e.event === 'peer:connect' && (e.peer as { peerId: string }).peerId === peerId && e.at > after

describe('test hosts in network namespaces (needs root and iproute2; CI runs as root)', () => {
  it('discover each other by multicast mDNS across the bridge, detect a cut link within 13 s, and reconnect when it is restored', async () => {
    await using dir = await tempDir('p2p-ai-testnet-')
    await using net = await createTestnet({ hosts: 3, prefix: 'p2pnode' })
    const serviceTag = uniqueServiceTag()
    const hosts = net.hosts.map(
      (h) =>
        new Host(
          h.spawn(
            process.execPath,
            hostArgs({
              dataDir: join(dir.path, `host-${h.index}`),
              // Default heartbeat timing (10 s + 3 s): this is the acceptance test of the defaults.
              network: {
                listen: ['/ip4/0.0.0.0/tcp/0'],
                mdns: { enabled: true, interface: h.interface, serviceTag },
              },
              engineOptions: { workers: false },
            }),
          ),
        ),
    )
    const ids = (
      await Promise.all(hosts.map((h) => h.waitFor((e) => e.event === 'ready', 30_000, 'ready')))
    ).map((e) => e.peerId as string)
    // Everyone finds everyone by mDNS over the bridge.
    await Promise.all(
      hosts.flatMap((h, i) =>
        ids.filter((_, j) => j !== i).map((id) => h.waitFor(connectedTo(id), 20_000, `connection to ${id}`)),
      ),
    )

    const [h0, h1, h2] = hosts as [Host, Host, Host]
    const [, , id2] = ids as [string, string, string]
    const cutAt = Date.now()
    await net.hosts[2]!.cut()
    const failures = await Promise.all([h0, h1].map((h) => h.waitFor(failedFor(id2), DETECTION_MS + 5_000)))
    for (const f of failures) expect(f.at - cutAt).toBeLessThanOrEqual(DETECTION_MS)
    // The hosts that still see each other stay connected.
    expect(h0.events.some(failedFor(ids[1]!))).toBe(false)

    const restoredAt = Date.now()
    await net.hosts[2]!.restore()
    await Promise.all([h0, h1].map((h) => h.waitFor(connectedTo(id2, restoredAt), 40_000, 'reconnection')))
    await h2.waitFor(connectedTo(ids[0]!, restoredAt), 40_000, 'reconnection from the cut host')
    await Promise.all(hosts.map((h) => h[Symbol.asyncDispose]()))
  }, 120_000)
})
