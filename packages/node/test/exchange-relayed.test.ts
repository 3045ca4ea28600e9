import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createNode } from '../src/create.js'
import type { NetworkTaskRecord } from '../src/exchange/index.js'
import type { P2PNode } from '../src/node.js'
import { localInit, tempDir, waitUntil } from './helpers.js'

// The task exchange over a relayed (limited) connection, on loopback: a relay, a provider holding
// a reservation on it, and a requester that reaches the provider only through it, until it gets a
// direct connection. Across real NATs, with hole punching: test/swarm-internet.test.ts.

const BIG = 'x'.repeat(100_000)

describe('tasks over a relayed connection', () => {
  const nodes: P2PNode[] = []
  const dirs: Array<{ [Symbol.asyncDispose]: () => Promise<void> }> = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (node) => node.stop({ deadlineMs: 2_000 })))
    await Promise.all(dirs.splice(0).map(async (dir) => dir[Symbol.asyncDispose]()))
  })

  it('sends small tasks through the relay, keeps large ones for a direct connection, and moves to it once there is one', async () => {
    const dir = await tempDir('p2p-ai-relayed-')
    dirs.push(dir)
    // No DHT and no hole punching: on loopback the DHT's upkeep would dial the provider's (here
    // reachable) own address, and DCUtR its listen address, where on the internet a NAT stands in
    // the way. The direct connection comes when the test makes it.
    const start = async (name: string, extra: { network?: object } = {}): Promise<P2PNode> => {
      const node = await createNode(
        localInit(join(dir.path, name), { network: { dht: false, holePunch: false, ...extra.network } }),
      )
      nodes.push(node)
      return node
    }
    const relay = await start('relay', { network: { relay: { server: 'on' } } })
    const provider = await start('provider', { network: { bootstrap: [relay.getMultiaddrs()[0]!] } })
    provider.registerTask({
      name: 'where',
      input: z.strictObject({ pad: z.string().optional() }),
      run: () => ({ ranOn: provider.peerId }),
    })
    await waitUntil(() => provider.network().announced.some((a) => a.includes('/p2p-circuit')), 10_000)
    const { announced } = provider.network()
    const circuit = announced.find((a) => a.includes(`/p2p/${relay.peerId}/p2p-circuit`))!
    const direct = announced.find((a) => !a.includes('/p2p-circuit'))!

    const requester = await start('requester')
    await requester.connect(circuit)
    // Capabilities and heartbeats cross the relay like tasks do.
    await waitUntil(() => requester.peer(provider.peerId)?.capabilities?.taskTypes.includes('where') === true)
    expect(requester.peer(provider.peerId)?.connection).toMatchObject({
      kind: 'relayed',
      via: relay.peerId,
      limited: true,
    })
    await waitUntil(() => requester.peer(provider.peerId)?.rttMs !== undefined)

    const small: NetworkTaskRecord = await requester.submit({ type: 'where', input: {} }).result()
    expect(small).toMatchObject({
      status: 'COMPLETED',
      peer: provider.peerId,
      output: { ranOn: provider.peerId },
    })
    const large = await requester
      .submit({ type: 'where', input: { pad: BIG } }, { waitForPeerMs: 200 })
      .result()
    expect(large).toMatchObject({ status: 'FAILED', error: { code: 'ERR_NO_CAPABLE_PEER' } })
    expect(large.error?.message).toContain('reached only through a relay')

    // A direct connection appears (on the internet: a hole punch); the relayed one drains and goes.
    await requester.connect(direct)
    await waitUntil(() => requester.peer(provider.peerId)?.connection?.kind === 'direct')
    const records = await Promise.all(
      Array.from({ length: 4 }, async () =>
        requester.submit({ type: 'where', input: { pad: BIG } }).result(),
      ),
    )
    for (const record of records) expect(record).toMatchObject({ status: 'COMPLETED', peer: provider.peerId })
    await waitUntil(
      () =>
        requester.transport.getConnections(provider.transport.peerId).every((c) => c.limits === undefined),
      5_000,
    )
    expect(requester.transport.getConnections(provider.transport.peerId)).toHaveLength(1)
  }, 30_000)
})
