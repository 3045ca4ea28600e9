import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import type { PeerFailure } from '../src/peers/directory.js'
import type { PeerInfo } from '../src/peers/types.js'
import { Host, localInit, nextEvent, tempDir, waitUntil } from './helpers.js'

// Short intervals keep the tests quick; the defaults (10 s + 3 s) are pinned in config.test.ts and
// peers.test.ts, and the detection logic is the same.
const FAST = {
  heartbeat: { intervalMs: 500, timeoutMs: 300 },
  reconnect: { initialDelayMs: 200, maxDelayMs: 1_000, maxAttempts: 20 },
}

/**
 * A node in this process and one in a child process, dialled together. Disposing stops this
 * node, ends the child and removes both data directories, also when setting up fails halfway.
 */
async function nodeAndHost() {
  // Undone last-first: this node stops before the child ends and the directories go.
  const undo: Array<() => Promise<void>> = []
  const dispose = async (): Promise<void> => {
    for (const step of undo.reverse()) await step()
  }
  try {
    const dirA = await tempDir('p2p-ai-proc-a-')
    undo.push(() => dirA[Symbol.asyncDispose]())
    const dirB = await tempDir('p2p-ai-proc-b-')
    undo.push(() => dirB[Symbol.asyncDispose]())
    const host = Host.local(localInit(dirB.path, FAST))
    undo.push(() => host[Symbol.asyncDispose]())
    const node = await createNode(localInit(dirA.path, FAST))
    undo.push(() => node.stop().then(() => {}))
    const ready = await host.waitFor((e) => e.event === 'ready', 20_000, 'ready')
    await node.connect((ready.addresses as string[])[0]!)
    return { node, host, hostId: ready.peerId as string, [Symbol.asyncDispose]: dispose }
  } catch (err) {
    await dispose()
    throw err
  }
}

describe('peers in other processes', () => {
  it('marks a peer whose process is killed (SIGKILL) failed within 13 s', async () => {
    await using pair = await nodeAndHost()
    const { node, host, hostId } = pair
    await waitUntil(() => node.peer(hostId)?.status === 'connected')

    const failed = nextEvent<PeerFailure>(node, 'peer:failed', (f) => f.peer.peerId === hostId, 13_000)
    const killedAt = Date.now()
    host.proc.kill('SIGKILL')
    const failure = await failed
    expect(Date.now() - killedAt).toBeLessThan(13_000)
    expect(node.peer(hostId)).toMatchObject({ status: 'failed' })
    expect(failure.reason).toMatch(/connection closed|heartbeat/)
  })

  it('detects a frozen peer (SIGSTOP) by heartbeat timeout, and reconnects when it resumes', async () => {
    await using pair = await nodeAndHost()
    const { node, host, hostId } = pair
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
  })

  it('stops gracefully on SIGTERM when the CLI helper is installed, telling its peers', async () => {
    await using pair = await nodeAndHost()
    const { node, host, hostId } = pair
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
  })
})
