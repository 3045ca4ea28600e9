/**
 * Every node of the graph as a list: searchable, walked with the arrow keys, Enter chooses one
 * (the graph then shows it). With a thousand nodes only the first rows matching the search are
 * drawn; the count says how many there are.
 */
import { useRef, useState } from 'preact/hooks'
import type { GraphNode } from '../../wire.js'
import { duration, shortId } from '../format.js'
import { useLiveThrottled } from '../hooks.js'
import type { LiveStore } from '../live.js'
import { memo } from '../memo.js'

const MAX_ROWS = 150
const ORDER = { self: 0, peer: 1, reached: 2 } as const

/** Re-rendered for its own props and at most twice a second for the swarm's changes, while shown. */
export const NodeList = memo(function NodeList({
  store,
  visible,
  selected,
  onSelect,
}: {
  store: LiveStore
  visible: boolean
  selected: string | undefined
  onSelect: (id: string) => void
}) {
  useLiveThrottled(store, 500, visible)
  const [query, setQuery] = useState('')
  const list = useRef<HTMLUListElement>(null)
  const q = query.trim().toLowerCase()
  const all = [...store.nodes.values()]
  const matching = (q === '' ? all : all.filter((n) => matches(n, q))).sort(
    (a, b) => ORDER[a.kind] - ORDER[b.kind] || (a.rttMs ?? 1e9) - (b.rttMs ?? 1e9) || (a.id < b.id ? -1 : 1),
  )
  const shown = matching.slice(0, MAX_ROWS)

  const onKey = (e: KeyboardEvent): void => {
    const items = [...(list.current?.querySelectorAll<HTMLButtonElement>('button.node-row') ?? [])]
    const at = items.indexOf(document.activeElement as HTMLButtonElement)
    const go = (i: number): void => {
      e.preventDefault()
      items[Math.max(0, Math.min(items.length - 1, i))]?.focus()
    }
    if (e.key === 'ArrowDown') go(at + 1)
    else if (e.key === 'ArrowUp') go(at - 1)
    else if (e.key === 'Home') go(0)
    else if (e.key === 'End') go(items.length - 1)
  }

  return (
    <section class="panel node-list" aria-labelledby="node-list-title">
      <div class="panel-head">
        <h2 id="node-list-title">Nodes</h2>
        <span class="muted" aria-live="polite">
          {matching.length === all.length ? `${all.length}` : `${matching.length} of ${all.length}`}
          {shown.length < matching.length ? `, first ${shown.length} shown` : ''}
        </span>
      </div>
      <label class="visually-hidden" for="node-search">
        Search nodes
      </label>
      <input
        id="node-search"
        type="search"
        placeholder="Search by PeerId, task type or state  ( / )"
        value={query}
        onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
      />
      <ul class="rows" ref={list} onKeyDown={onKey} data-testid="node-list">
        {shown.map((n) => (
          <li key={n.id}>
            <button
              type="button"
              class={`node-row${selected === n.id ? ' selected' : ''}`}
              aria-pressed={selected === n.id}
              data-peer={n.id}
              data-kind={n.kind}
              onClick={() => onSelect(n.id)}
            >
              <span class={`badge state-${n.state}`}>{n.kind === 'self' ? 'self' : n.state}</span>
              <code>{shortId(n.id)}</code>
              <span class="muted">
                {n.kind === 'reached'
                  ? `via ${shortId(n.via ?? '')}`
                  : n.rttMs !== undefined
                    ? duration(n.rttMs)
                    : n.kind === 'self'
                      ? 'this node'
                      : ''}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
})

function matches(n: GraphNode, q: string): boolean {
  return (
    n.id.toLowerCase().includes(q) ||
    n.state.includes(q) ||
    n.kind.includes(q) ||
    n.taskTypes.some((t) => t.includes(q))
  )
}
