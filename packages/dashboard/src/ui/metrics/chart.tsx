/** One time series chart, drawn by uPlot on a canvas; its figure caption says what it shows in words. */
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export interface SeriesSpec {
  readonly label: string
  readonly colour: string
  readonly unit: string
  readonly dash?: readonly number[]
}

const AXIS = {
  stroke: '#cbd5e1',
  grid: { stroke: '#334155', width: 1 },
  ticks: { stroke: '#475569', width: 1 },
}

export function Chart({
  title,
  series,
  data,
  summary,
}: {
  title: string
  series: readonly SeriesSpec[]
  /** Times (ms) first, then one array per series; `null` where a point has no value. */
  data: readonly (readonly (number | null)[])[]
  summary: string
}) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | undefined>(undefined)

  useEffect(() => {
    const el = box.current
    if (el === null) return
    const chart = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 180,
        ms: 1,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max * 1.1)] },
        },
        axes: [AXIS, { ...AXIS, size: 56, values: (_u, ticks) => ticks.map((v) => compact(v)) }],
        series: [
          {},
          ...series.map((s) => ({
            label: `${s.label} (${s.unit})`,
            stroke: s.colour,
            width: 2,
            spanGaps: false,
            ...(s.dash === undefined ? {} : { dash: [...s.dash] }),
            points: { show: false },
          })),
        ],
      },
      data as uPlot.AlignedData,
      el,
    )
    plot.current = chart
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(200, el.clientWidth), height: 180 }),
    )
    resize.observe(el)
    return () => {
      resize.disconnect()
      chart.destroy()
    }
  }, [series])

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData)
  }, [data])

  return (
    <figure class="panel chart">
      <figcaption>
        <h3>{title}</h3>
        <p class="muted">{summary}</p>
      </figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={`${title}: ${summary}`} />
    </figure>
  )
}

function compact(v: number): string {
  if (Math.abs(v) >= 1_000_000) return `${(v / 1_000_000).toFixed(1)}M`
  if (Math.abs(v) >= 1_000) return `${(v / 1_000).toFixed(1)}k`
  return Number.isInteger(v) ? String(v) : v.toFixed(2)
}
