/**
 * A trace as a time line, one lane per node in the order the task reached them, each span a bar
 * from its start to its end: the requester's attempts, every relay hop, the provider's queue and
 * run, and back.
 */
import type { TraceJson, TraceSpanView } from '../../wire.js'
import { duration, shortId } from '../format.js'

export function TraceTimeline({ trace }: { trace: TraceJson }) {
  if (trace.spans.length === 0) return <p class="muted">The trace holds no span.</p>
  const start = Math.min(...trace.spans.map((s) => s.startUs))
  const end = Math.max(...trace.spans.map((s) => s.endUs), start + 1)
  const span = end - start
  const lanes = new Map<string, TraceSpanView[]>()
  for (const s of [...trace.spans].sort((a, b) => a.startUs - b.startUs)) {
    const lane = lanes.get(s.node) ?? []
    lane.push(s)
    lanes.set(s.node, lane)
  }
  return (
    <div class="trace" data-testid="trace-timeline">
      <p class="muted">
        Trace <code>{trace.traceId}</code>: {trace.spans.length} spans on {lanes.size} nodes over{' '}
        {duration(span / 1000)}.
        {trace.missing.length > 0 && ` Not heard from: ${trace.missing.map(shortId).join(', ')}.`}
      </p>
      {[...lanes.entries()].map(([node, spans], hop) => (
        <section key={node} class="lane" aria-label={`Hop ${hop}: node ${shortId(node)}`}>
          <h4>
            {hop === 0 ? 'start' : `hop ${hop}`} <code>{shortId(node)}</code>
            {node === trace.self ? ' (this node)' : ''}
          </h4>
          <ol class="spans">
            {spans.map((s) => (
              <li key={s.spanId} class={`span span-${s.status}`}>
                <span class="span-label">
                  {s.name} <span class="muted">{duration((s.endUs - s.startUs) / 1000)}</span>
                </span>
                <span class="bar-track" aria-hidden="true">
                  <span
                    class="bar"
                    style={{
                      left: `${(100 * (s.startUs - start)) / span}%`,
                      width: `${Math.max(0.4, (100 * (s.endUs - s.startUs)) / span)}%`,
                    }}
                  />
                </span>
              </li>
            ))}
          </ol>
        </section>
      ))}
    </div>
  )
}
