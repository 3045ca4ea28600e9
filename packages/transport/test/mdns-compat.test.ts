import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { assertNetnsAvailable, isolatedNamespace, runNodeInNamespace } from './helpers/netns.js'

const SCRIPT = fileURLToPath(new URL('./fixtures/mdns-compat.mjs', import.meta.url))

interface CompatResult {
  oursSawTheirs: number | null
  theirsSawOurs: number | null
  connected: number | null
  ourAddrsSeenByThem: string[]
  ourPeerId: string
}

// @libp2p/mdns multicasts on the OS default interface, so it only ever runs inside a namespace
// with nothing but loopback. Needs root (CI runs as root): fails with a clear message otherwise.
describe('mDNS interoperability with @libp2p/mdns from npm (needs root: network namespaces)', () => {
  beforeAll(async () => {
    await assertNetnsAvailable()
  })

  for (const order of ['theirs-first', 'ours-first'] as const) {
    it(`both sides discover each other and connect (${order.replace('-', ' started ')})`, async () => {
      await using ns = await isolatedNamespace()
      const result = (await runNodeInNamespace(ns.name, SCRIPT, [order], 25_000)) as CompatResult
      // Our answers parse in @libp2p/mdns, theirs parse in ours, and the addresses are dialable.
      expect(result.theirsSawOurs).not.toBeNull()
      expect(result.oursSawTheirs).not.toBeNull()
      expect(result.connected).not.toBeNull()
      expect(result.ourAddrsSeenByThem.length).toBeGreaterThan(0)
      for (const address of result.ourAddrsSeenByThem) {
        expect(address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/)
      }
    })
  }
})
