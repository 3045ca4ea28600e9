/**
 * The page: a header with this node and the feed's state, three tabs (Swarm, Tasks, Metrics) kept
 * in the address (`#swarm`, `#tasks/<id>`, `#metrics`), and keys for all of it.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { plural, shortId } from './format.js'
import { useLiveThrottled, useLiveValue } from './hooks.js'
import type { LiveStore } from './live.js'
import { MetricsView } from './metrics/metrics-view.js'
import { SwarmView } from './swarm/swarm-view.js'
import { TasksView } from './tasks/tasks-view.js'

type Tab = 'swarm' | 'tasks' | 'metrics'
const TABS: ReadonlyArray<[Tab, string]> = [
  ['swarm', 'Swarm'],
  ['tasks', 'Tasks'],
  ['metrics', 'Metrics'],
]

interface Route {
  readonly tab: Tab
  readonly task?: string
}

function readRoute(): Route {
  const [tab, task] = location.hash.replace(/^#\/?/, '').split('/')
  if (tab === 'tasks') return task ? { tab, task: decodeURIComponent(task) } : { tab }
  return { tab: tab === 'metrics' ? 'metrics' : 'swarm' }
}

function writeRoute(route: Route): void {
  const hash = route.task === undefined ? `#${route.tab}` : `#${route.tab}/${encodeURIComponent(route.task)}`
  if (location.hash !== hash) history.replaceState(null, '', hash)
}

export function App({ store }: { store: LiveStore }) {
  const [route, setRoute] = useState<Route>(readRoute)
  const [help, setHelp] = useState(false)
  const tabs = useRef<HTMLDivElement>(null)
  const connection = useLiveValue(store, (s) => s.connection)

  useEffect(() => writeRoute(route), [route])
  useEffect(() => {
    const onHash = (): void => setRoute(readRoute())
    window.addEventListener('hashchange', onHash)
    return () => window.removeEventListener('hashchange', onHash)
  }, [])

  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const typing =
        (e.target as HTMLElement | null)?.closest('input, textarea, select, [contenteditable]') != null
      if (e.key === 'Escape') {
        if (help) setHelp(false)
        else if (route.task !== undefined) setRoute({ tab: 'tasks' })
        return
      }
      if (typing || e.altKey || e.ctrlKey || e.metaKey) return
      const tab = ({ '1': 'swarm', '2': 'tasks', '3': 'metrics' } as const)[e.key as '1' | '2' | '3']
      if (tab !== undefined) {
        setRoute({ tab })
        document.getElementById(`tab-${tab}`)?.focus()
      } else if (e.key === '/') {
        e.preventDefault()
        setRoute({ tab: 'swarm' })
        setTimeout(() => document.getElementById('node-search')?.focus())
      } else if (e.key === '?') setHelp(true)
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [route, help])

  // The tab list's arrow keys (WAI-ARIA tabs pattern, activation follows focus).
  const onTabKey = (e: KeyboardEvent): void => {
    const at = TABS.findIndex(([t]) => t === route.tab)
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: TABS.length - 1 }[e.key]
    if (next === undefined) return
    e.preventDefault()
    const [tab] = TABS[(next + TABS.length) % TABS.length]!
    setRoute({ tab })
    tabs.current?.querySelector<HTMLButtonElement>(`#tab-${tab}`)?.focus()
  }

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <h1>
          p2p-ai <span class="muted">dashboard</span>
        </h1>
        <Summary store={store} />
        <div class="top-right">
          <span class={`conn conn-${connection}`} role="status" data-testid="connection">
            {connection === 'live' ? 'live' : connection === 'signed-out' ? 'signed out' : `${connection}…`}
          </span>
          <button type="button" class="link" onClick={() => setHelp(true)} aria-haspopup="dialog">
            Keys (?)
          </button>
          <form method="post" action="/logout">
            <button type="submit" class="link">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <div class="tabs" role="tablist" aria-label="Views" ref={tabs} onKeyDown={onTabKey}>
        {TABS.map(([tab, label]) => (
          <button
            key={tab}
            id={`tab-${tab}`}
            type="button"
            role="tab"
            aria-selected={route.tab === tab}
            aria-controls={`panel-${tab}`}
            tabIndex={route.tab === tab ? 0 : -1}
            onClick={() => setRoute({ tab })}
          >
            {label}
          </button>
        ))}
      </div>
      <main id="main">
        {connection === 'signed-out' && (
          <p class="error banner" role="alert">
            This session has ended. Run <code>p2p-ai-agents dashboard</code> on the node's machine for a new
            link.
          </p>
        )}
        <section id="panel-swarm" role="tabpanel" aria-labelledby="tab-swarm" hidden={route.tab !== 'swarm'}>
          <SwarmView store={store} visible={route.tab === 'swarm'} />
        </section>
        <section id="panel-tasks" role="tabpanel" aria-labelledby="tab-tasks" hidden={route.tab !== 'tasks'}>
          <TasksView
            store={store}
            visible={route.tab === 'tasks'}
            selected={route.task}
            onSelect={(task) => setRoute(task === undefined ? { tab: 'tasks' } : { tab: 'tasks', task })}
          />
        </section>
        <section
          id="panel-metrics"
          role="tabpanel"
          aria-labelledby="tab-metrics"
          hidden={route.tab !== 'metrics'}
        >
          <MetricsView store={store} visible={route.tab === 'metrics'} />
        </section>
      </main>
      {help && <KeysHelp onClose={() => setHelp(false)} />}
    </>
  )
}

function Summary({ store }: { store: LiveStore }) {
  const live = useLiveThrottled(store, 500)
  let peers = 0
  let reached = 0
  for (const n of store.nodes.values()) {
    if (n.kind === 'peer') peers++
    else if (n.kind === 'reached') reached++
  }
  const alerts = live.alerts.filter((a) => a.active).length
  return (
    <p class="summary">
      {live.self === undefined ? (
        'connecting to the node…'
      ) : (
        <>
          node <code title={live.self.peerId}>{shortId(live.self.peerId)}</code>{' '}
          <span class={`badge node-${live.self.state.toLowerCase()}`}>{live.self.state.toLowerCase()}</span> ·{' '}
          {plural(peers, 'peer')}
          {reached > 0 && <> · {reached} reached through them</>} ·{' '}
          <span class={alerts > 0 ? 'alert-count' : undefined}>{plural(alerts, 'alert')}</span>
        </>
      )}
    </p>
  )
}

function KeysHelp({ onClose }: { onClose: () => void }) {
  const close = useRef<HTMLButtonElement>(null)
  useEffect(() => close.current?.focus(), [])
  return (
    <div class="dialog-backdrop">
      <div class="dialog panel" role="dialog" aria-modal="true" aria-labelledby="keys-title">
        <h2 id="keys-title">Keys</h2>
        <dl class="facts">
          <dt>1, 2, 3</dt>
          <dd>Swarm, Tasks, Metrics</dd>
          <dt>← →</dt>
          <dd>the next tab, on the tab list</dd>
          <dt>/</dt>
          <dd>search the nodes</dd>
          <dt>↑ ↓, Enter</dt>
          <dd>move through the node list, choose a node</dd>
          <dt>+ − 0, arrows</dt>
          <dd>zoom, reset and pan the graph (when it has the focus)</dd>
          <dt>Esc</dt>
          <dd>close a task's detail, or this</dd>
        </dl>
        <button type="button" ref={close} onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  )
}
