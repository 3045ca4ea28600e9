/**
 * Tasks: what finished on each side and how, how long each stage took, retries and failovers, and
 * the queue, running and in-flight gauges. Finished tasks come from events the node already has
 * (the exchange's `task:done` and `task:retry`, the engine's `task:finished`); the gauges are read
 * from the engine and the exchange when scraped.
 */
import type { TaskRecord } from '@p2p-ai/engine'
import type { P2PNode, TaskDone, TaskRefusal, TaskRetry } from '@p2p-ai/node'
import type { Counter, Histogram, Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { CappedLabel } from '../labels.js'
import { counter, gauge, histogram } from './build.js'

const OUTCOMES: Readonly<Record<string, string>> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  TIMEOUT: 'timeout',
  CANCELLED: 'cancelled',
}

type Side = 'submitted' | 'served'

/**
 * Label children by their values, made once: prom-client validates the labels each time a child
 * is asked for, and a busy node finishes thousands of tasks a second.
 */
class Children<C> {
  readonly #children = new Map<string, C>()
  readonly #make: (...values: string[]) => C

  constructor(make: (...values: string[]) => C) {
    this.#make = make
  }

  get(...values: string[]): C {
    const key = values.join('\u0000')
    let child = this.#children.get(key)
    if (child === undefined) {
      child = this.#make(...values)
      this.#children.set(key, child)
    }
    return child
  }
}

export function collectTasks(registry: Registry, node: P2PNode): () => void {
  const { engine, exchange } = node
  const types = new CappedLabel()
  const codes = new CappedLabel()
  const tasks = counter(registry, METRICS.tasks)
  const failures = counter(registry, METRICS.taskFailures)
  const stages = histogram(registry, METRICS.taskStage)
  const retries = counter(registry, METRICS.taskRetries)
  const failovers = counter(registry, METRICS.taskFailovers)
  const refusals = counter(registry, METRICS.refusals)
  const finished = new Children(
    (side, type, outcome) => tasks.labels({ side, type, outcome }) as Counter.Internal,
  )
  const failed = new Children((side, code) => failures.labels({ side, code }) as Counter.Internal)
  const stage = new Children(
    (side, name, type) => stages.labels({ side, stage: name, type }) as Histogram.Internal<string>,
  )
  const retried = new Children((type, code) => retries.labels({ type, code }) as Counter.Internal)
  const failedOver = new Children((type, code) => failovers.labels({ type, code }) as Counter.Internal)
  const refused = new Children((code) => refusals.labels({ code }) as Counter.Internal)

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
    finished.get(side, type, outcome).inc()
    if (outcome === 'failed' || outcome === 'timeout') failed.get(side, codes.of(code)).inc()
  }

  const onDone = (evt: CustomEvent<TaskDone>): void => {
    const { record, networkMs } = evt.detail
    const type = types.of(record.type)
    count('submitted', type, record.status, record.error?.code)
    if (record.status !== 'COMPLETED') return
    const t = record.timings
    if (t !== undefined) {
      stage.get('submitted', 'queue', type).observe(t.queuedMs / 1000)
      stage.get('submitted', 'run', type).observe(t.runMs / 1000)
    }
    if (networkMs !== undefined) stage.get('submitted', 'network', type).observe(networkMs / 1000)
    if (record.finishedAt !== undefined) {
      stage
        .get('submitted', 'total', type)
        .observe(Math.max(0, record.finishedAt - record.submittedAt) / 1000)
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
    stage.get('served', 'queue', type).observe(Math.max(0, r.startedAt - r.queuedAt) / 1000)
    stage.get('served', 'run', type).observe(Math.max(0, r.finishedAt - r.startedAt) / 1000)
  }

  const onRetry = (evt: CustomEvent<TaskRetry>): void => {
    const { type, code, failover } = evt.detail
    const t = types.of(type)
    const c = codes.of(code)
    retried.get(t, c).inc()
    if (failover) failedOver.get(t, c).inc()
  }

  const onRefused = (evt: CustomEvent<TaskRefusal>): void => {
    refused.get(codes.of(evt.detail.code)).inc()
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
