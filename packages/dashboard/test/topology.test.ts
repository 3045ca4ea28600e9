import { describe, expect, it } from 'vitest'
import { applyDiff, buildTopology, diffTopology, syntheticSwarm } from '../src/index.js'

describe('the topology', () => {
  it('holds this node, its connected peers and the neighbours they announce; failed peers are left out', () => {
    const swarm = syntheticSwarm({ peers: 4, reachedPerPeer: 3 })
    const [first, ...rest] = swarm.peers()
    const failed = { ...first!, status: 'failed' as const }
    const t = buildTopology(swarm.self(), [failed, ...rest])
    expect(t.nodes.filter((n) => n.kind === 'self')).toHaveLength(1)
    expect(t.nodes.filter((n) => n.kind === 'peer').map((n) => n.id)).toEqual(rest.map((p) => p.peerId))
    const reached = t.nodes.filter((n) => n.kind === 'reached')
    expect(reached).toHaveLength(3 * 3)
    expect(reached.every((n) => n.hops === 2 && rest.some((p) => p.peerId === n.via))).toBe(true)
    expect(t.edges.filter((e) => e.kind === 'forward')).toHaveLength(9)
    // The synthetic swarm relays one peer in ten (the fourth): drawn as such, through its relay.
    const relayed = t.edges.find((e) => e.kind === 'relayed')
    expect(relayed?.relay).toBe(swarm.self().peerId)
  })

  it('a neighbour that is also a peer stays a peer and only gains the edge between the two', () => {
    const swarm = syntheticSwarm({ peers: 2, reachedPerPeer: 1 })
    const [p1, p2] = swarm.peers()
    const caps = p1!.capabilities!
    const linked = {
      ...p1!,
      capabilities: { ...caps, reach: [{ taskType: 'ocr', hops: 1, via: p2!.peerId }] },
    }
    const t = buildTopology(swarm.self(), [linked, p2!])
    expect(t.nodes.find((n) => n.id === p2!.peerId)?.kind).toBe('peer')
    expect(
      t.edges.find((e) => e.kind === 'forward' && [e.source, e.target].includes(p2!.peerId))?.taskTypes,
    ).toEqual(['ocr'])
  })

  it('a diff applied to the old topology gives the new one', () => {
    const swarm = syntheticSwarm({ peers: 30, reachedPerPeer: 4, seed: 7 })
    const before = buildTopology(swarm.self(), swarm.peers())
    for (let i = 0; i < 200; i++) swarm.step()
    const after = buildTopology(swarm.self(), swarm.peers())
    const diff = diffTopology(before, after)
    expect(diff.removeNodes.length + diff.upsertNodes.length).toBeGreaterThan(0)
    const applied = applyDiff(before, diff)
    const sort = <T extends { id: string }>(xs: readonly T[]) =>
      [...xs].sort((x, y) => x.id.localeCompare(y.id))
    expect(sort(applied.nodes)).toEqual(sort(after.nodes))
    expect(sort(applied.edges)).toEqual(sort(after.edges))
    expect(diffTopology(after, after)).toEqual({
      upsertNodes: [],
      removeNodes: [],
      upsertEdges: [],
      removeEdges: [],
    })
  })

  it('a synthetic swarm of 100 peers reaching 9 each is a graph of 1,001 nodes', () => {
    const swarm = syntheticSwarm()
    expect(buildTopology(swarm.self(), swarm.peers()).nodes).toHaveLength(1001)
    expect(swarm.size).toBe(1001)
  })
})
