/**
 * The Tasks tab: a form to submit a task and watch it run, the table of recent tasks with
 * filters (refreshed as tasks move), and the chosen task's detail.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import type { TaskListJson, TaskRow, TaskState } from '../../wire.js'
import { getJson } from '../api.js'
import type { LiveStore } from '../live.js'
import { SubmitForm } from './submit-form.js'
import { TaskDetail } from './task-detail.js'
import { TaskTable } from './task-table.js'

export interface Filters {
  readonly status: TaskState | ''
  readonly type: string
  readonly side: TaskRow['side'] | ''
  readonly peer: string
}

const REFRESH_MS = 5_000
const AFTER_FLOW_MS = 400

export function TasksView({
  store,
  visible,
  selected,
  onSelect,
}: {
  store: LiveStore
  /** Hidden, the table is not refetched as tasks move; shown again, it is at once. */
  visible: boolean
  selected: string | undefined
  onSelect: (id: string | undefined) => void
}) {
  const [filters, setFilters] = useState<Filters>({ status: '', type: '', side: '', peer: '' })
  const [rows, setRows] = useState<readonly TaskRow[]>([])
  const [error, setError] = useState<string>()
  const [tick, setTick] = useState(0)
  const refresh = useCallback(() => setTick((t) => t + 1), [])

  useEffect(() => {
    const controller = new AbortController()
    const params = new URLSearchParams({ limit: '200' })
    for (const [k, v] of Object.entries(filters)) if (v !== '') params.set(k, v)
    getJson<TaskListJson>(`/api/tasks?${params}`, controller.signal).then(
      (list) => {
        setRows(list.tasks)
        setError(undefined)
      },
      (err: Error) => {
        if (!controller.signal.aborted) setError(err.message)
      },
    )
    return () => controller.abort()
  }, [filters, tick])

  // Moving tasks change the table: refetched shortly after a burst of flow, and every few seconds,
  // while it is shown (and when shown again: it was fetched when the page opened).
  const mounting = useRef(true)
  useEffect(() => {
    const first = mounting.current
    mounting.current = false
    if (!visible) return
    if (!first) refresh()
    let timer: ReturnType<typeof setTimeout> | undefined
    const off = store.onFlow(() => {
      timer ??= setTimeout(() => {
        timer = undefined
        refresh()
      }, AFTER_FLOW_MS)
    })
    const every = setInterval(refresh, REFRESH_MS)
    return () => {
      off()
      clearTimeout(timer)
      clearInterval(every)
    }
  }, [store, refresh, visible])

  const types = [...new Set(rows.map((r) => r.type))].sort()
  return (
    <div class="tasks">
      <SubmitForm
        store={store}
        visible={visible}
        onSubmitted={(id) => {
          refresh()
          onSelect(id)
        }}
      />
      <section class="panel task-table-panel" aria-labelledby="tasks-title">
        <div class="panel-head">
          <h2 id="tasks-title">Recent tasks</h2>
          <span class="muted">{rows.length} shown</span>
        </div>
        <FiltersBar filters={filters} types={types} onChange={setFilters} />
        {error !== undefined && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <TaskTable rows={rows} selected={selected} onSelect={onSelect} />
      </section>
      {selected !== undefined && (
        <TaskDetail id={selected} store={store} tick={tick} onClose={() => onSelect(undefined)} />
      )}
    </div>
  )
}

const STATES: readonly TaskState[] = [
  'PENDING',
  'QUEUED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'CANCELLED',
]

function FiltersBar({
  filters,
  types,
  onChange,
}: {
  filters: Filters
  types: readonly string[]
  onChange: (f: Filters) => void
}) {
  const set = (patch: Partial<Filters>): void => onChange({ ...filters, ...patch })
  const value = (e: Event): string => (e.target as HTMLInputElement | HTMLSelectElement).value
  return (
    <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter tasks">
      <label>
        State
        <select value={filters.status} onChange={(e) => set({ status: value(e) as Filters['status'] })}>
          <option value="">any</option>
          {STATES.map((s) => (
            <option key={s} value={s}>
              {s.toLowerCase()}
            </option>
          ))}
        </select>
      </label>
      <label>
        Type
        <input
          list="task-types-seen"
          value={filters.type}
          placeholder="any"
          onChange={(e) => set({ type: value(e).trim() })}
        />
        <datalist id="task-types-seen">
          {types.map((t) => (
            <option key={t} value={t} />
          ))}
        </datalist>
      </label>
      <label>
        Side
        <select value={filters.side} onChange={(e) => set({ side: value(e) as Filters['side'] })}>
          <option value="">both</option>
          <option value="submitted">submitted here</option>
          <option value="served">served for peers</option>
        </select>
      </label>
      <label>
        Peer
        <input
          value={filters.peer}
          placeholder="PeerId or its end"
          onChange={(e) => set({ peer: value(e).trim() })}
        />
      </label>
    </form>
  )
}
