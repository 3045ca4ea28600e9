import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import type { PeerFailure } from '../src/node-types.js'
import type { PeerInfo } from '../src/peers.js'
import { Host, localInit, nextEvent, tempDir, waitUntil } from './helpers.js'

// Short intervals keep the tests quick; the defaults (10 s + 3 s) are pinned in config.test.ts and
// peers.test.ts, and the detection logic is the same.
const FAST = {
  heartbeat: { intervalMs: 500, timeoutMs: 300 },
  reconnect: { initialDelayMs: 200, maxDelayMs: 1_000, maxAttempts: 20 },
}

describe('peers in other processes', () => {
  it('marks a peer whose process is killed (SIGKILL) failed within 13 s', async () => {
    await using dirA = await tempDir('p2p-ai-proc-a-')
    await using dirB = await tempDir('p2p-ai-proc-b-')
    const node = await createNode(localInit(dirA.path, FAST))
    await using host = Host.local(localInit(dirB.path, FAST))
    try {
      const ready = await host.waitFor((e) => e.event === 'ready', 20_000, 'ready')
      const hostId = ready.peerId as string
      await node.connect((ready.addresses as string[])[0]!)
      await waitUntil(() => node.peer(hostId)?.status === 'connected')

      const failed = nextEvent<PeerFailure>(node, 'peer:failed', (f) => f.peer.peerId === hostId, 13_000)
      const killedAt = Date.now()
      host.proc.kill('SIGKILL')
      const failure = await failed
      expect(Date.now() - killedAt).toBeLessThan(13_000)
      expect(node.peer(hostId)).toMatchObject({ status: 'failed' })
      expect(failure.reason).toMatch(/connection closed|heartbeat/)
    } finally {
      await node.stop()
    }
  })

  it('detects a frozen peer (SIGSTOP) by heartbeat timeout, and reconnects when it resumes', async () => {
    await using dirA = await tempDir('p2p-ai-proc-a-')
    await using dirB = await tempDir('p2p-ai-proc-b-')
    const node = await createNode(localInit(dirA.path, FAST))
    await using host = Host.local(localInit(dirB.path, FAST))
    try {
      const ready = await host.waitFor((e) => e.event === 'ready', 20_000, 'ready')
      const hostId = ready.peerId as string
      await node.connect((ready.addresses as string[])[0]!)
      await waitUntil(() => node.peer(hostId)?.rttMs !== undefined)

      const failed = nextEvent<PeerFailure>(node, 'peer:failed', (f) => f.peer.peerId === hostId, 13_000)
      const frozenAt = Date.now()
      host.proc.kill('SIGSTOP')
      const failure = await failed
      // One interval plus one timeout, plus scheduling slack on a busy machine.
      expect(Date.now() - frozenAt).toBeLessThan(500 + 300 + 1_500)
      expect(failure.reason).toBe('no heartbeat answer within 300 ms')

      const back = nextEvent<PeerInfo>(node, 'peer:connect', (p) => p.peerId === hostId, 15_000)
      host.proc.kill('SIGCONT')
      expect((await back).status).toBe('connected')
      expect(node.peer(hostId)?.reconnectAttempts).toBe(0)
    } finally {
      await node.stop()
    }
  })

  it('stops gracefully on SIGTERM when the CLI helper is installed, telling its peers', async () => {
    await using dirA = await tempDir('p2p-ai-proc-a-')
    await using dirB = await tempDir('p2p-ai-proc-b-')
    const node = await createNode(localInit(dirA.path, FAST))
    await using host = Host.local(localInit(dirB.path, FAST))
    try {
      const ready = await host.waitFor((e) => e.event === 'ready', 20_000, 'ready')
      const hostId = ready.peerId as string
      await node.connect((ready.addresses as string[])[0]!)
      await waitUntil(() => node.peer(hostId)?.status === 'connected')
      const removed = nextEvent<{ peerId: string; reason: string }>(
        node,
        'peer:remove',
        (r) => r.peerId === hostId,
      )
      host.proc.kill('SIGTERM')
      expect(await host.exited).toBe(0)
      expect(await removed).toEqual({ peerId: hostId, reason: 'goodbye' })
      expect(host.events.map((e) => e.event)).toContain('exit')
    } finally {
      await node.stop()
    }
  })
})
