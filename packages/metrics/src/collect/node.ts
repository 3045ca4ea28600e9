/** The node itself: which node and software, its lifecycle state, readiness, start time and uptime. */
import { NODE_STATES, type P2PNode } from '@p2p-ai/node'
import type { Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { gauge } from './build.js'

export function collectNode(registry: Registry, node: P2PNode): void {
  gauge(registry, METRICS.nodeInfo, function () {
    const m = node.metadata()
    this.reset()
    this.set({ version: m.version, agent_version: m.agentVersion, peer_id: m.peerId }, 1)
  })
  gauge(registry, METRICS.nodeState, function () {
    const state = node.state
    for (const s of NODE_STATES) this.set({ state: s }, s === state ? 1 : 0)
  })
  gauge(registry, METRICS.nodeReady, function () {
    this.set(node.isReady() ? 1 : 0)
  })
  gauge(registry, METRICS.nodeStartTime, function () {
    const startedAt = node.metadata().startedAt
    this.set(startedAt === undefined ? 0 : startedAt / 1000)
  })
  gauge(registry, METRICS.nodeUptime, function () {
    this.set(node.metadata().uptimeMs / 1000)
  })
}
