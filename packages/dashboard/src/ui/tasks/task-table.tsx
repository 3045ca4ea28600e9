/** The tasks table: one row per task, its id a button that opens the detail. */
import type { TaskRow } from '../../wire.js'
import { clock, duration, shortId } from '../format.js'

export function TaskTable({
  rows,
  selected,
  onSelect,
}: {
  rows: readonly TaskRow[]
  selected: string | undefined
  onSelect: (id: string) => void
}) {
  if (rows.length === 0) return <p class="muted">No task matches. Submit one with the form above.</p>
  return (
    <div class="table-wrap">
      <table class="task-table" data-testid="task-table">
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Type</th>
            <th scope="col">Side</th>
            <th scope="col">Peer</th>
            <th scope="col">State</th>
            <th scope="col" class="num">
              Latency
            </th>
            <th scope="col" class="num">
              Attempts
            </th>
            <th scope="col">Queued</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} class={selected === r.id ? 'selected' : undefined} data-task={r.id}>
              <td>
                <button
                  type="button"
                  class="link"
                  onClick={() => onSelect(r.id)}
                  aria-label={`Task ${r.id}, details`}
                >
                  <code>{r.id.length > 14 ? `${r.id.slice(0, 12)}…` : r.id}</code>
                </button>
              </td>
              <td>{r.type}</td>
              <td>{r.side === 'served' ? 'served' : 'submitted'}</td>
              <td>{r.peer === undefined ? '–' : <code title={r.peer}>{shortId(r.peer)}</code>}</td>
              <td>
                <span class={`badge status-${r.status.toLowerCase()}`}>{r.status.toLowerCase()}</span>
                {r.error !== undefined && <span class="code"> {r.error.code}</span>}
              </td>
              <td class="num">{duration(r.latencyMs)}</td>
              <td class="num">{r.attempts ?? '–'}</td>
              <td>{clock(r.queuedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
