/**
 * Submit a task (type, input, target, redundancy) and watch it: its state as it moves, the text it
 * streams as it comes (a failover starts the text again, and says so), then its verified result.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { SubmitJson, TaskDetailJson, TaskStreamJson } from '../../wire.js'
import { getJson, postJson } from '../api.js'
import { duration, shortId } from '../format.js'
import { useLiveThrottled } from '../hooks.js'
import type { LiveStore } from '../live.js'
import { Verified } from './verified.js'

const POLL_MS = 400

interface Run {
  readonly detail: TaskDetailJson
  readonly text: string
  readonly notes: readonly string[]
}

export function SubmitForm({
  store,
  visible,
  onSubmitted,
}: {
  store: LiveStore
  visible: boolean
  onSubmitted: (id: string) => void
}) {
  const live = useLiveThrottled(store, 1000, visible)
  const [type, setType] = useState('')
  const [input, setInput] = useState('')
  const [target, setTarget] = useState('')
  const [redundancy, setRedundancy] = useState(1)
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [run, setRun] = useState<Run>()
  const following = useRef<AbortController | undefined>(undefined)

  const types = new Set<string>(live.self?.taskTypes ?? [])
  const peers: string[] = []
  for (const n of store.nodes.values()) {
    if (n.kind === 'peer') {
      peers.push(n.id)
      for (const t of n.taskTypes) types.add(t)
    }
  }
  const typeList = [...types].sort()
  useEffect(() => {
    if (type === '' && typeList.length > 0) setType(typeList.includes('chunk') ? 'chunk' : typeList[0]!)
  }, [typeList.join(','), type])
  useEffect(() => () => following.current?.abort(), [])

  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(undefined)
    let parsed: Record<string, unknown>
    const text = input.trim()
    try {
      const value: unknown = text.startsWith('{') ? JSON.parse(text) : { text }
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new Error('not an object')
      parsed = value as Record<string, unknown>
    } catch (err) {
      setError(`The input starts with "{" but is not a JSON object: ${(err as Error).message}`)
      return
    }
    const request: SubmitJson = {
      type: type.trim(),
      input: parsed,
      ...(target === '' ? {} : { target }),
      ...(target === '' && redundancy > 1 ? { redundancy } : {}),
    }
    setBusy(true)
    following.current?.abort()
    try {
      const detail = await postJson<TaskDetailJson>('/api/tasks', request)
      setRun({ detail, text: '', notes: [] })
      onSubmitted(detail.task.id)
      const controller = new AbortController()
      following.current = controller
      follow(detail.task.id, controller.signal, setRun)
    } catch (err) {
      setError((err as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="panel submit" aria-labelledby="submit-title">
      <h2 id="submit-title">Submit a task</h2>
      <form class="submit-form" onSubmit={(e) => void submit(e)}>
        <label>
          Type
          <input
            name="type"
            list="task-types"
            required
            value={type}
            onInput={(e) => setType((e.target as HTMLInputElement).value)}
          />
          <datalist id="task-types">
            {typeList.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          Target
          <select
            name="target"
            value={target}
            onChange={(e) => setTarget((e.target as HTMLSelectElement).value)}
          >
            <option value="">the swarm chooses</option>
            <option value="self">this node</option>
            {peers.map((p) => (
              <option key={p} value={p}>
                peer {shortId(p)}
              </option>
            ))}
          </select>
        </label>
        <label>
          Redundancy
          <input
            name="redundancy"
            type="number"
            min={1}
            max={5}
            value={redundancy}
            disabled={target !== ''}
            aria-describedby="redundancy-help"
            onInput={(e) =>
              setRedundancy(Math.max(1, Math.min(5, Number((e.target as HTMLInputElement).value) || 1)))
            }
          />
        </label>
        <p id="redundancy-help" class="help">
          Runs on this many providers and accepts the majority answer (the swarm chooses the peers).
        </p>
        <label class="wide">
          Input
          <textarea
            name="input"
            rows={4}
            required
            value={input}
            aria-describedby="input-help"
            placeholder='Text, or a JSON object such as {"text": "One. Two. Three.", "size": 8}'
            onInput={(e) => setInput((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <p id="input-help" class="help wide">
          Plain text is sent as <code>{'{"text": …}'}</code>; a JSON object is sent as it is.
        </p>
        <div class="wide actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Submitting…' : 'Submit'}
          </button>
        </div>
      </form>
      {error !== undefined && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {run !== undefined && <RunView run={run} />}
    </section>
  )
}

function RunView({ run }: { run: Run }) {
  const t = run.detail.task
  const final = t.finishedAt !== undefined
  return (
    <div class="run" data-testid="submit-run" data-status={t.status} data-task={t.id}>
      <p aria-live="polite">
        Task <code>{t.id.slice(0, 12)}</code> {t.type}:{' '}
        <span class={`badge status-${t.status.toLowerCase()}`}>{t.status.toLowerCase()}</span>
        {t.peer !== undefined && (
          <>
            {' '}
            on <code>{shortId(t.peer)}</code>
          </>
        )}
        {final && <> in {duration(t.latencyMs)}</>}
      </p>
      {!final && t.progress !== undefined && (
        <progress max={1} value={t.progress.fraction} aria-label="Progress">
          {Math.round(t.progress.fraction * 100)} %
        </progress>
      )}
      {run.notes.map((n) => (
        <p key={n} class="note">
          {n}
        </p>
      ))}
      {run.text !== '' && (
        <>
          <h3>Streamed output</h3>
          <pre class="output streamed">{run.text}</pre>
        </>
      )}
      {final && (
        <div class="result" data-testid="submit-result">
          <p>
            <Verified detail={run.detail} />
          </p>
          {t.error !== undefined && (
            <p class="error">
              <span class="code">{t.error.code}</span> {t.error.message}
            </p>
          )}
          {t.output !== undefined && (
            <pre class="output">{JSON.stringify(t.output, null, 2).slice(0, 4000)}</pre>
          )}
        </div>
      )}
    </div>
  )
}

/** Reads the task's stream (its text) and polls its detail (its state) until it ends. */
function follow(
  id: string,
  signal: AbortSignal,
  set: (update: (run: Run | undefined) => Run | undefined) => void,
): void {
  const path = `/api/tasks/${encodeURIComponent(id)}`
  const source = new EventSource(`${path}/stream`)
  const on = <T extends TaskStreamJson['type']>(
    type: T,
    fn: (e: Extract<TaskStreamJson, { type: T }>) => void,
  ) => source.addEventListener(type, (msg) => fn(JSON.parse((msg as MessageEvent<string>).data)))
  const update = (fn: (run: Run) => Run): void =>
    set((run) => (run === undefined || run.detail.task.id !== id ? run : fn(run)))
  on('delta', (e) => update((r) => ({ ...r, text: r.text + e.text })))
  on('restart', (e) =>
    update((r) => ({
      ...r,
      text: r.text.slice(0, Math.max(0, r.text.length - e.discarded)),
      notes: [
        ...r.notes,
        `Failover: ${shortId(e.peer)} failed (${e.reason.code}); the task starts again on another node.`,
      ],
    })),
  )
  on('mismatch', (e) =>
    update((r) => ({
      ...r,
      text: e.text,
      notes: [...r.notes, 'The streamed text differed from the signed result; the signed text is shown.'],
    })),
  )
  const stop = (): void => {
    source.close()
    clearInterval(poll)
  }
  on('end', (e) => {
    update((r) => ({ ...r, detail: e.detail }))
    stop()
  })
  // A stream that cannot be read (a very old task) still ends: the polled detail says when.
  source.addEventListener('error', () => source.close())
  const poll = setInterval(() => {
    getJson<TaskDetailJson>(path, signal).then(
      (detail) => {
        update((r) => ({ ...r, detail }))
        if (detail.task.finishedAt !== undefined && source.readyState === EventSource.CLOSED) stop()
      },
      () => {},
    )
  }, POLL_MS)
  signal.addEventListener('abort', stop, { once: true })
}
