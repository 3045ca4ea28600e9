/**
 * prom-client metrics made from the catalog's specs, registered in one registry. A `collect`
 * callback fills a metric from the node when it is scraped: gauges are read, counters that the
 * node keeps as running totals are advanced by what they grew since the last scrape.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import { type MetricSpec, SECONDS_BUCKETS } from '../catalog.js'

type Collect<M> = (this: M) => void | Promise<void>

export function gauge(registry: Registry, spec: MetricSpec, collect?: Collect<Gauge>): Gauge {
  return new Gauge({
    name: spec.name,
    help: spec.help,
    labelNames: [...spec.labels],
    registers: [registry],
    ...(collect === undefined ? {} : { collect }),
  })
}

export function counter(registry: Registry, spec: MetricSpec, collect?: Collect<Counter>): Counter {
  return new Counter({
    name: spec.name,
    help: spec.help,
    labelNames: [...spec.labels],
    registers: [registry],
    ...(collect === undefined ? {} : { collect }),
  })
}

export function histogram(registry: Registry, spec: MetricSpec): Histogram {
  return new Histogram({
    name: spec.name,
    help: spec.help,
    labelNames: [...spec.labels],
    buckets: [...SECONDS_BUCKETS],
    registers: [registry],
  })
}

/**
 * A counter fed from running totals the node keeps (`node.counters()`): each scrape adds what a
 * total grew since the previous one, so the counter never goes down.
 */
export class TotalsFeed {
  readonly #last = new Map<string, number>()

  /** Advances `metric` for `labels` to `total`. */
  advance(metric: Counter, labels: Record<string, string>, total: number): void {
    const key = Object.values(labels).join('\u0000')
    const last = this.#last.get(key) ?? 0
    if (total > last) metric.inc(labels, total - last)
    else if (!this.#last.has(key)) metric.inc(labels, 0)
    this.#last.set(key, Math.max(total, last))
  }
}
