/**
 * Tasks: what finished on each side and how, how long each stage took, retries and failovers, and
 * the queue, running and in-flight gauges. Finished tasks come from events the node already has
 * (the exchange's `task:done` and `task:retry`, the engine's `task:finished`); the gauges are read
 * from the engine and the exchange when scraped.
 */
import type { TaskRecord } from '@p2p-ai/engine'
import type { P2PNode, TaskDone, TaskRefusal, TaskRetry } from '@p2p-ai/node'
import type { Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { CappedLabel } from '../labels.js'
import { gauge } from './build.js'
import { PlainCounter, PlainHistogram } from './plain.js'

const OUTCOMES: Readonly<Record<string, string>> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  TIMEOUT: 'timeout',
  CANCELLED: 'cancelled',
}

type Side = 'submitted' | 'served'

export function collectTasks(registry: Registry, node: P2PNode): () => void {
  const { engine, exchange } = node
  const types = new CappedLabel()
  const codes = new CappedLabel()
  // Counted on the task path: plain numbers (plain.ts), not prom-client's hashing of labels.
  const finished = new PlainCounter(registry, METRICS.tasks)
  const failed = new PlainCounter(registry, METRICS.taskFailures)
  const stage = new PlainHistogram(registry, METRICS.taskStage)
  const retried = new PlainCounter(registry, METRICS.taskRetries)
  const failedOver = new PlainCounter(registry, METRICS.taskFailovers)
  const refused = new PlainCounter(registry, METRICS.refusals)

  gauge(registry, METRICS.tasksQueued, function () {
    this.set(engine.load().queued)
  })
  gauge(registry, METRICS.tasksRunning, function () {
    this.set(engine.load().running)
  })
  gauge(registry, METRICS.tasksInFlight, function () {
    this.set(node.tasks.pending)
  })
  gauge(registry, METRICS.engineConcurrency, function () {
    this.set(engine.load().concurrency)
  })
  gauge(registry, METRICS.engineQueueLimit, function () {
    this.set(node.config.engine.maxQueueLength)
  })

  const count = (side: Side, type: string, status: string, code: string | undefined): void => {
    const outcome = OUTCOMES[status] ?? 'failed'
    finished.of(side, type, outcome).value++
    if (outcome === 'failed' || outcome === 'timeout') failed.of(side, codes.of(code)).value++
  }

  const onDone = (evt: CustomEvent<TaskDone>): void => {
    const { record, networkMs } = evt.detail
    const type = types.of(record.type)
    count('submitted', type, record.status, record.error?.code)
    if (record.status !== 'COMPLETED') return
    const t = record.timings
    if (t !== undefined) {
      stage.of('submitted', 'queue', type).observe(t.queuedMs / 1000)
      stage.of('submitted', 'run', type).observe(t.runMs / 1000)
    }
    if (networkMs !== undefined) stage.of('submitted', 'network', type).observe(networkMs / 1000)
    if (record.finishedAt !== undefined) {
      stage.of('submitted', 'total', type).observe(Math.max(0, record.finishedAt - record.submittedAt) / 1000)
    }
  }

  // This node's own tasks run here are counted once, as submitted.
  const onServed = (evt: CustomEvent<TaskRecord>): void => {
    const r = evt.detail
    const requester = r.meta?.requester
    if (requester === undefined || requester === node.peerId) return
    const type = types.of(r.type)
    count('served', type, r.status, r.error?.code)
    if (r.status !== 'COMPLETED' || r.startedAt === undefined || r.finishedAt === undefined) return
    stage.of('served', 'queue', type).observe(Math.max(0, r.startedAt - r.queuedAt) / 1000)
    stage.of('served', 'run', type).observe(Math.max(0, r.finishedAt - r.startedAt) / 1000)
  }

  const onRetry = (evt: CustomEvent<TaskRetry>): void => {
    const { type, code, failover } = evt.detail
    const t = types.of(type)
    const c = codes.of(code)
    retried.of(t, c).value++
    if (failover) failedOver.of(t, c).value++
  }

  const onRefused = (evt: CustomEvent<TaskRefusal>): void => {
    refused.of(codes.of(evt.detail.code)).value++
  }

  exchange.addEventListener('task:done', onDone)
  exchange.addEventListener('task:retry', onRetry)
  exchange.addEventListener('task:refused', onRefused)
  engine.addEventListener('task:finished', onServed)
  return () => {
    exchange.removeEventListener('task:done', onDone)
    exchange.removeEventListener('task:retry', onRetry)
    exchange.removeEventListener('task:refused', onRefused)
    engine.removeEventListener('task:finished', onServed)
  }
}
