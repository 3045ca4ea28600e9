/** The node's alerts (node.alerts()), one series per alert, 1 while raised. */
import type { P2PNode } from '@p2p-ai/node'
import type { Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { gauge } from './build.js'

export function collectAlerts(registry: Registry, node: P2PNode): void {
  gauge(registry, METRICS.alertActive, function () {
    for (const a of node.alerts()) this.set({ alert: a.name }, a.active ? 1 : 0)
  })
}
