/**
 * What changed between two topologies, so the live feed sends a page only that: with a thousand
 * nodes a full topology is a few hundred kilobytes, a second's change a few hundred bytes.
 */
import type { GraphEdge, GraphNode, Topology, TopologyDiff } from '../wire.js'

export function diffTopology(before: Topology, after: Topology): TopologyDiff {
  const nodes = diff(before.nodes, after.nodes)
  const edges = diff(before.edges, after.edges)
  return {
    upsertNodes: nodes.upsert,
    removeNodes: nodes.remove,
    upsertEdges: edges.upsert,
    removeEdges: edges.remove,
  }
}

export function isEmptyDiff(d: TopologyDiff): boolean {
  return (
    d.upsertNodes.length === 0 &&
    d.removeNodes.length === 0 &&
    d.upsertEdges.length === 0 &&
    d.removeEdges.length === 0
  )
}

/** Applies a diff (what the page does with each one it receives). */
export function applyDiff(topology: Topology, d: TopologyDiff): Topology {
  const nodes = new Map(topology.nodes.map((n) => [n.id, n]))
  const edges = new Map(topology.edges.map((e) => [e.id, e]))
  for (const id of d.removeNodes) nodes.delete(id)
  for (const id of d.removeEdges) edges.delete(id)
  for (const n of d.upsertNodes) nodes.set(n.id, n)
  for (const e of d.upsertEdges) edges.set(e.id, e)
  return { self: topology.self, nodes: [...nodes.values()], edges: [...edges.values()] }
}

function diff<T extends GraphNode | GraphEdge>(
  before: readonly T[],
  after: readonly T[],
): { upsert: T[]; remove: string[] } {
  // Both sides are built by the same code, so equal items serialise to equal text.
  const old = new Map(before.map((item) => [item.id, JSON.stringify(item)]))
  const upsert: T[] = []
  for (const item of after) {
    const was = old.get(item.id)
    old.delete(item.id)
    if (was !== JSON.stringify(item)) upsert.push(item)
  }
  return { upsert, remove: [...old.keys()] }
}
