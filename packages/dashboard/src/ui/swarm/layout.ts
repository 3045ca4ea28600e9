/**
 * Where a node sits: this node in the middle, its peers on a ring around it (nearer for a shorter
 * round trip), the nodes they reach on an outer ring beside the peer that announced them. Each
 * node's angle comes from a hash of its PeerId, so a node never moves when others come or go, and
 * placing a thousand costs nothing: no force simulation to wait for or to burn the CPU on.
 */
import type { GraphNode } from '../../wire.js'

/** Peers' ring: from 1 (instant) to 1.7 (a second or more away). */
const PEER_RING = 1
const RTT_SPREAD = 0.5
const JITTER = 0.2
/** The outer ring, and how far a reached node strays from its peer's angle. */
const REACHED_RING = 2.4
const REACHED_SPREAD = 0.35

export function position(node: GraphNode): { readonly x: number; readonly y: number } {
  if (node.kind === 'self') return { x: 0, y: 0 }
  const [a, b] = hash2(node.id)
  if (node.kind === 'peer') {
    const latency = node.rttMs === undefined ? 0.5 : Math.min(1, Math.log10(1 + node.rttMs) / 3)
    const r = PEER_RING + RTT_SPREAD * latency + JITTER * b
    return polar(a * 2 * Math.PI, r)
  }
  const angle = node.via === undefined ? a * 2 * Math.PI : angleOf(node.via) + (a - 0.5) * 2 * REACHED_SPREAD
  return polar(angle, REACHED_RING + JITTER * b + 0.2 * (node.hops - 2))
}

/** The angle a peer is placed at. */
function angleOf(id: string): number {
  return hash2(id)[0] * 2 * Math.PI
}

function polar(angle: number, r: number): { x: number; y: number } {
  return { x: r * Math.cos(angle), y: r * Math.sin(angle) }
}

/** Two numbers in [0, 1) from a string (FNV-1a, twice). */
function hash2(text: string): [number, number] {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
  }
  return [(h1 >>> 0) / 2 ** 32, (h2 >>> 0) / 2 ** 32]
}
