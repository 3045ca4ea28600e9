/**
 * Counters and histograms for the task path, kept in plain numbers and rendered by prom-client's
 * registry like any of its own metrics (they implement what `Registry.registerMetric` reads:
 * `name`, `help`, `type`, `get()`, `reset()`).
 *
 * Why not prom-client's: its `inc` and `observe` hash the label set on every call (about a
 * microsecond each on the machines measured), and a node that finishes thousands of tasks a
 * second would spend several per task on them. Here a series is found by one map lookup and
 * counted with an addition; labels are built once per series and the buckets summed at scrape.
 */
import type { Registry } from 'prom-client'
import { type MetricSpec, SECONDS_BUCKETS } from '../catalog.js'

type Labels = Record<string, string | number>

interface Value {
  readonly labels: Labels
  readonly value: number
  readonly metricName?: string
}

interface Rendered {
  readonly name: string
  readonly help: string
  readonly type: string
  readonly values: Value[]
  readonly aggregator: 'sum'
}

abstract class PlainMetric<S> {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly string[]
  abstract readonly type: 'counter' | 'histogram'
  /** Every series, in the order first counted. */
  protected readonly series: Array<{ readonly labels: Labels; readonly data: S }> = []
  /** The series by their label values, one map per label: no key string is built per lookup. */
  #index = new Map<string, unknown>()

  constructor(registry: Registry, spec: MetricSpec) {
    this.name = spec.name
    this.help = spec.help
    this.labelNames = spec.labels
    registry.registerMetric(this as never)
  }

  protected abstract fresh(): S

  /** The series of these label values, in the spec's label order; created at zero. */
  protected find(values: readonly string[]): S {
    let level = this.#index
    const last = values.length - 1
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i] as string) as Map<string, unknown> | undefined
      if (next === undefined) {
        next = new Map()
        level.set(values[i] as string, next)
      }
      level = next
    }
    let found = level.get(values[last] as string) as { readonly labels: Labels; readonly data: S } | undefined
    if (found === undefined) {
      const labels: Labels = {}
      for (const [i, name] of this.labelNames.entries()) labels[name] = values[i] as string
      found = { labels, data: this.fresh() }
      level.set(values[last] as string, found)
      this.series.push(found)
    }
    return found.data
  }

  abstract get(): Promise<Rendered>

  reset(): void {
    this.series.length = 0
    this.#index = new Map()
  }
}

/** A counter series: add to `value`. */
export interface CounterSeries {
  value: number
}

export class PlainCounter extends PlainMetric<CounterSeries> {
  readonly type = 'counter' as const

  protected fresh(): CounterSeries {
    return { value: 0 }
  }

  /** The series of these label values (kept: counting again costs a lookup). */
  of(...values: string[]): CounterSeries {
    return this.find(values)
  }

  async get(): Promise<Rendered> {
    const values = this.series.map(({ labels, data }) => ({ labels, value: data.value }))
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' }
  }
}

/** A histogram series, in seconds, over `SECONDS_BUCKETS`. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative), the last one above every bound. */
  readonly counts = new Float64Array(SECONDS_BUCKETS.length + 1)
  sum = 0
  count = 0

  observe(seconds: number): void {
    if (!Number.isFinite(seconds)) return
    let i = 0
    while (i < SECONDS_BUCKETS.length && seconds > (SECONDS_BUCKETS[i] as number)) i++
    this.counts[i]!++
    this.sum += seconds
    this.count++
  }
}

export class PlainHistogram extends PlainMetric<HistogramSeries> {
  readonly type = 'histogram' as const

  protected fresh(): HistogramSeries {
    return new HistogramSeries()
  }

  of(...values: string[]): HistogramSeries {
    return this.find(values)
  }

  async get(): Promise<Rendered> {
    const values: Value[] = []
    for (const { labels, data } of this.series) {
      let cumulative = 0
      SECONDS_BUCKETS.forEach((le, i) => {
        cumulative += data.counts[i] as number
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` })
      })
      values.push({ labels: { ...labels, le: '+Inf' }, value: data.count, metricName: `${this.name}_bucket` })
      values.push({ labels, value: data.sum, metricName: `${this.name}_sum` })
      values.push({ labels, value: data.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' }
  }
}
