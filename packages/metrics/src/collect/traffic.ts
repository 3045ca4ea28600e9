/**
 * Messages and bytes on the task and announce protocols, and signature checks: running totals the
 * node keeps as plain numbers (`node.counters()`), read at scrape time, so counting them costs
 * the task path an addition rather than an event.
 */
import type { P2PNode } from '@p2p-ai/node'
import type { Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { counter, TotalsFeed } from './build.js'

export function collectTraffic(registry: Registry, node: P2PNode): void {
  const messages = new TotalsFeed()
  counter(registry, METRICS.messages, function () {
    for (const t of node.counters().traffic) {
      messages.advance(this, { protocol: t.protocol, direction: 'in' }, t.messagesIn)
      messages.advance(this, { protocol: t.protocol, direction: 'out' }, t.messagesOut)
    }
  })
  const bytes = new TotalsFeed()
  counter(registry, METRICS.messageBytes, function () {
    for (const t of node.counters().traffic) {
      bytes.advance(this, { protocol: t.protocol, direction: 'in' }, t.bytesIn)
      bytes.advance(this, { protocol: t.protocol, direction: 'out' }, t.bytesOut)
    }
  })
  const signatures = new TotalsFeed()
  counter(registry, METRICS.signatureChecks, function () {
    const s = node.counters().signatures
    signatures.advance(this, { result: 'valid' }, s.valid)
    signatures.advance(this, { result: 'invalid' }, s.invalid)
  })
}
