/**
 * One task: its attempts on a time line (failovers as the failed bars before the one that
 * answered), the provider's own timings, a redundant run's vote, how its result was checked, its
 * trace hop by hop when the node records traces, and its output.
 */
import { useEffect, useState } from 'preact/hooks'
import type { TaskDetailJson, TraceJson } from '../../wire.js'
import { ApiError, getJson } from '../api.js'
import { clock, duration, shortId } from '../format.js'
import type { LiveStore } from '../live.js'
import { TraceTimeline } from './trace-timeline.js'
import { Verified } from './verified.js'

export function TaskDetail({
  id,
  store,
  tick,
  onClose,
}: {
  id: string
  store: LiveStore
  tick: number
  onClose: () => void
}) {
  const [detail, setDetail] = useState<TaskDetailJson>()
  const [error, setError] = useState<string>()
  useEffect(() => {
    const controller = new AbortController()
    getJson<TaskDetailJson>(`/api/tasks/${encodeURIComponent(id)}`, controller.signal).then(
      (d) => {
        setDetail(d)
        setError(undefined)
      },
      (err: Error) => {
        if (!controller.signal.aborted) setError(err.message)
      },
    )
    return () => controller.abort()
  }, [id, tick])

  return (
    <section class="panel task-detail" aria-labelledby="task-detail-title" data-task={id}>
      <div class="panel-head">
        <h2 id="task-detail-title">
          Task <code>{id}</code>
        </h2>
        <button type="button" class="link" onClick={onClose}>
          Close <span class="muted">(Esc)</span>
        </button>
      </div>
      {error !== undefined && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {detail !== undefined && <DetailBody detail={detail} traces={store.state.traces} />}
    </section>
  )
}

function DetailBody({ detail, traces }: { detail: TaskDetailJson; traces: boolean }) {
  const t = detail.task
  const final = t.finishedAt !== undefined
  return (
    <>
      <dl class="facts">
        <dt>Type</dt>
        <dd>{t.type}</dd>
        <dt>State</dt>
        <dd>
          <span class={`badge status-${t.status.toLowerCase()}`}>{t.status.toLowerCase()}</span>
          {t.error !== undefined && (
            <>
              {' '}
              <span class="code">{t.error.code}</span> {t.error.message}
            </>
          )}
        </dd>
        <dt>Result</dt>
        <dd>
          <Verified detail={detail} />
        </dd>
        <dt>{t.side === 'served' ? 'Requested by' : 'Ran on'}</dt>
        <dd>{t.peer === undefined ? '–' : <code class="wrap">{t.peer}</code>}</dd>
        {detail.provider !== undefined && detail.provider !== t.peer && (
          <>
            <dt>Provider</dt>
            <dd>
              <code class="wrap">{detail.provider}</code> (forwarded)
            </dd>
          </>
        )}
        <dt>Queued</dt>
        <dd>{clock(t.queuedAt)}</dd>
        <dt>Latency</dt>
        <dd>{final ? duration(t.latencyMs) : 'running…'}</dd>
      </dl>
      <Attempts detail={detail} />
      {detail.timings !== undefined && <Timings detail={detail} />}
      {detail.redundancy !== undefined && (
        <>
          <h3>Redundancy</h3>
          <p>
            {detail.redundancy.answers.filter((a) => a.agreed).length} of {detail.redundancy.k} providers
            agreed ({detail.redundancy.required} needed).
          </p>
          <ul class="plain">
            {detail.redundancy.answers.map((a) => (
              <li key={a.peer}>
                <code>{shortId(a.peer)}</code> {a.agreed ? 'agreed' : 'disagreed'}
              </li>
            ))}
          </ul>
        </>
      )}
      <Trace id={t.id} traces={traces} final={final} />
      {t.output !== undefined && (
        <>
          <h3>Output</h3>
          <pre class="output">{clip(JSON.stringify(t.output, null, 2))}</pre>
        </>
      )}
    </>
  )
}

function Attempts({ detail }: { detail: TaskDetailJson }) {
  const t = detail.task
  if (detail.attempts.length === 0) {
    return t.side === 'served' ? null : (
      <>
        <h3>Attempts</h3>
        <p class="muted">No attempt started yet: the node is choosing a peer.</p>
      </>
    )
  }
  const start = t.queuedAt
  const end = Math.max(
    t.finishedAt ?? Date.now(),
    ...detail.attempts.map((a) => a.finishedAt ?? 0),
    start + 1,
  )
  const span = end - start
  return (
    <>
      <h3>Attempts</h3>
      <ol class="attempts">
        {detail.attempts.map((a) => {
          const from = (a.startedAt ?? start) - start
          const to = (a.finishedAt ?? end) - start
          const kind = a.answered === true ? 'answered' : a.error !== undefined ? 'failed' : 'running'
          return (
            <li key={a.attempt} class={`attempt attempt-${kind}`}>
              <div class="attempt-label">
                #{a.attempt} <code>{shortId(a.peer)}</code>{' '}
                {kind === 'answered' ? 'answered' : kind === 'failed' ? 'failed' : 'running'}
                {a.error !== undefined && (
                  <>
                    {' '}
                    <span class="code">{a.error.code}</span> {a.error.message}
                  </>
                )}{' '}
                <span class="muted">{duration(to - from)}</span>
              </div>
              <div class="bar-track" aria-hidden="true">
                <div
                  class="bar"
                  style={{
                    left: `${(100 * from) / span}%`,
                    width: `${Math.max(0.5, (100 * (to - from)) / span)}%`,
                  }}
                />
              </div>
            </li>
          )
        })}
      </ol>
      {detail.attempts.some((a) => a.error !== undefined) && (
        <p class="muted">
          Each failed attempt above was followed by a failover or a retry, as the node's failure policy
          decides by error code.
        </p>
      )}
    </>
  )
}

function Timings({ detail }: { detail: TaskDetailJson }) {
  const timings = detail.timings ?? {}
  const total = timings.totalMs
  const network =
    total !== undefined && detail.task.latencyMs !== undefined
      ? Math.max(0, detail.task.latencyMs - total)
      : undefined
  return (
    <>
      <h3>Timings</h3>
      <dl class="facts">
        {timings.queuedMs !== undefined && (
          <>
            <dt>Queued at the provider</dt>
            <dd>{duration(timings.queuedMs)}</dd>
          </>
        )}
        {timings.runMs !== undefined && (
          <>
            <dt>Ran</dt>
            <dd>{duration(timings.runMs)}</dd>
          </>
        )}
        {total !== undefined && (
          <>
            <dt>Provider total</dt>
            <dd>{duration(total)}</dd>
          </>
        )}
        {network !== undefined && (
          <>
            <dt>Network and routing</dt>
            <dd>{duration(network)}</dd>
          </>
        )}
      </dl>
    </>
  )
}

/** The trace timeline, from the node's traces when it records them (`GET /api/tasks/:id/trace`). */
function Trace({ id, traces, final }: { id: string; traces: boolean; final: boolean }) {
  const [trace, setTrace] = useState<TraceJson>()
  const [note, setNote] = useState<string>()
  useEffect(() => {
    setTrace(undefined)
    setNote(undefined)
    if (!traces || !final) return
    const controller = new AbortController()
    getJson<TraceJson>(`/api/tasks/${encodeURIComponent(id)}/trace`, controller.signal).then(
      setTrace,
      (err: Error) => {
        if (!controller.signal.aborted) setNote(err instanceof ApiError ? err.message : String(err))
      },
    )
    return () => controller.abort()
  }, [id, traces, final])
  return (
    <>
      <h3>Trace</h3>
      {!traces ? (
        <p class="muted">
          This node records no traces, so there is no hop-by-hop timeline; the attempts and timings above are
          what it knows.
        </p>
      ) : !final ? (
        <p class="muted">The trace is gathered once the task has finished.</p>
      ) : trace !== undefined ? (
        <TraceTimeline trace={trace} />
      ) : (
        <p class="muted">{note ?? 'Gathering the trace from every node the task went through…'}</p>
      )}
    </>
  )
}

function clip(text: string): string {
  return text.length > 6000 ? `${text.slice(0, 6000)}\n… (${text.length - 6000} more characters)` : text
}
