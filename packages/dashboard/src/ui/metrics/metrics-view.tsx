/**
 * The Metrics tab: throughput, latency percentiles, failures and failovers, peers and load over a
 * chosen range (history the node keeps for 30 days, downsampled for long ranges), live while
 * open, and alerts as they rise and clear.
 */
import { useEffect, useMemo, useState } from 'preact/hooks'
import type { AlertEvent, HistoryJson, HistoryPoint } from '../../wire.js'
import { getJson } from '../api.js'
import { dateTime, duration } from '../format.js'
import { useLiveValue } from '../hooks.js'
import type { LiveStore } from '../live.js'
import { Chart, type SeriesSpec } from './chart.js'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const RANGES: ReadonlyArray<[string, number]> = [
  ['15 min', 15 * MINUTE],
  ['1 hour', HOUR],
  ['6 hours', 6 * HOUR],
  ['24 hours', DAY],
  ['7 days', 7 * DAY],
  ['30 days', 30 * DAY],
]
/** A coarse range is read again this often (its live points would not fit its step). */
const REFETCH_MS = MINUTE

const THROUGHPUT: readonly SeriesSpec[] = [
  { label: 'completed', colour: '#4ade80', unit: 'tasks/s' },
  { label: 'failed', colour: '#f87171', unit: 'tasks/s' },
  { label: 'served for peers', colour: '#c084fc', unit: 'tasks/s', dash: [6, 4] },
]
const LATENCY: readonly SeriesSpec[] = [
  { label: 'p50', colour: '#38bdf8', unit: 'ms' },
  { label: 'p95', colour: '#facc15', unit: 'ms' },
  { label: 'p99', colour: '#fb923c', unit: 'ms', dash: [6, 4] },
]
const FAILURES: readonly SeriesSpec[] = [
  { label: 'failed', colour: '#f87171', unit: 'per step' },
  { label: 'failovers', colour: '#fb7185', unit: 'per step', dash: [6, 4] },
  { label: 'active alerts', colour: '#fcd34d', unit: 'count', dash: [2, 3] },
]
const PEERS: readonly SeriesSpec[] = [
  { label: 'peers', colour: '#38bdf8', unit: 'count' },
  { label: 'running', colour: '#4ade80', unit: 'tasks' },
  { label: 'queued', colour: '#facc15', unit: 'tasks', dash: [6, 4] },
]

export function MetricsView({ store, visible }: { store: LiveStore; visible: boolean }) {
  const sampleMs = useLiveValue(store, (s) => s.sampleMs)
  const [range, setRange] = useState(HOUR)
  const [history, setHistory] = useState<HistoryJson>()
  const [extra, setExtra] = useState<readonly HistoryPoint[]>([])
  const [error, setError] = useState<string>()

  useEffect(() => {
    if (!visible) return
    const controller = new AbortController()
    const load = (): void => {
      getJson<HistoryJson>(`/api/history?range=${range}`, controller.signal).then(
        (h) => {
          setHistory(h)
          setExtra([])
          setError(undefined)
        },
        (err: Error) => {
          if (!controller.signal.aborted) setError(err.message)
        },
      )
    }
    load()
    const again = setInterval(load, REFETCH_MS)
    return () => {
      controller.abort()
      clearInterval(again)
    }
  }, [range, visible])

  // Points of the sample's own step join the chart as they come.
  useEffect(
    () =>
      store.onSample((point) => {
        if (history !== undefined && history.stepMs === sampleMs) setExtra((e) => [...e, point])
      }),
    [store, history, sampleMs],
  )

  const points = useMemo(() => {
    if (history === undefined) return []
    const from = Date.now() - range
    const seen = new Set(history.points.map((p) => p.at))
    return [...history.points, ...extra.filter((p) => !seen.has(p.at))].filter((p) => p.at >= from)
  }, [history, extra, range])
  const stepS = (history?.stepMs ?? sampleMs) / 1000
  const times = points.map((p) => p.at)
  const last = points.at(-1)
  const rate = (n: number | undefined): string => (n === undefined ? '–' : `${(n / stepS).toFixed(2)}/s`)

  return (
    <div class="metrics">
      <section class="panel range" aria-labelledby="range-title">
        <h2 id="range-title">Metrics</h2>
        {/* biome-ignore lint/a11y/useSemanticElements: a segmented control of toggle buttons; a fieldset would need a legend it has already in the heading */}
        <div class="segmented" role="group" aria-label="Time range">
          {RANGES.map(([label, ms]) => (
            <button key={ms} type="button" aria-pressed={range === ms} onClick={() => setRange(ms)}>
              {label}
            </button>
          ))}
        </div>
        <p class="muted">
          {history === undefined
            ? 'Reading the history…'
            : `${points.length} points, one per ${duration(history.stepMs)}${history.stepMs > sampleMs ? ' (downsampled)' : ''}; history is kept for ${duration(history.keptMs)}.`}
        </p>
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </section>
      <Alerts store={store} events={history?.alerts ?? []} />
      <div class="charts">
        <Chart
          title="Throughput"
          series={THROUGHPUT}
          data={[
            times,
            ...[
              points.map((p) => p.completed / stepS),
              points.map((p) => p.failed / stepS),
              points.map((p) => p.served / stepS),
            ],
          ]}
          summary={`latest: ${rate(last?.completed)} completed, ${rate(last?.failed)} failed, ${rate(last?.served)} served for peers`}
        />
        <Chart
          title="Latency percentiles"
          series={LATENCY}
          data={[
            times,
            points.map((p) => p.p50Ms ?? null),
            points.map((p) => p.p95Ms ?? null),
            points.map((p) => p.p99Ms ?? null),
          ]}
          summary={`latest: p50 ${duration(last?.p50Ms)}, p95 ${duration(last?.p95Ms)}, p99 ${duration(last?.p99Ms)} (tasks submitted here, end to end)`}
        />
        <Chart
          title="Failures, failovers and alerts"
          series={FAILURES}
          data={[
            times,
            points.map((p) => p.failed),
            points.map((p) => p.failovers),
            points.map((p) => p.alerts),
          ]}
          summary={`in range: ${sum(points, 'failed')} failed, ${sum(points, 'failovers')} failovers`}
        />
        <Chart
          title="Peers and load"
          series={PEERS}
          data={[
            times,
            points.map((p) => p.peers),
            points.map((p) => p.running),
            points.map((p) => p.queued),
          ]}
          summary={`latest: ${last === undefined ? '–' : Math.round(last.peers)} peers, ${last === undefined ? '–' : last.running.toFixed(1)} running, ${last === undefined ? '–' : last.queued.toFixed(1)} queued`}
        />
      </div>
    </div>
  )
}

function sum(points: readonly HistoryPoint[], key: 'failed' | 'failovers'): number {
  return points.reduce((a, p) => a + p[key], 0)
}

function Alerts({ store, events }: { store: LiveStore; events: readonly AlertEvent[] }) {
  const alerts = useLiveValue(store, (s) => s.alerts)
  const [recent, setRecent] = useState<readonly AlertEvent[]>([])
  useEffect(() => store.onAlert((e) => setRecent((r) => [e, ...r].slice(0, 50))), [store])
  const active = alerts.filter((a) => a.active)
  const timeline = [...recent, ...[...events].reverse()].slice(0, 30)
  return (
    <section class="panel alerts" aria-labelledby="alerts-title">
      <h2 id="alerts-title">Alerts</h2>
      <div role="status" aria-live="polite">
        {active.length === 0 ? (
          <p class="ok">No alert is raised.</p>
        ) : (
          <ul class="plain">
            {active.map((a) => (
              <li key={a.name} class="alert-active">
                <strong>{a.name}</strong>: {a.message}
                {a.since !== undefined && <span class="muted"> since {dateTime(a.since)}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
      <h3>Raised and cleared</h3>
      {timeline.length === 0 ? (
        <p class="muted">None in this range.</p>
      ) : (
        <table class="alert-table">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Alert</th>
              <th scope="col">Change</th>
              <th scope="col">Reading</th>
            </tr>
          </thead>
          <tbody>
            {timeline.map((e, i) => (
              <tr key={`${e.at}-${e.name}-${i}`}>
                <td>{dateTime(e.at)}</td>
                <td>{e.name}</td>
                <td>
                  <span class={`badge alert-${e.state}`}>{e.state}</span>
                </td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
