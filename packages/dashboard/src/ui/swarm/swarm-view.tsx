/**
 * The Swarm tab: the topology graph with tasks flowing along its edges, what a node is on hover,
 * the chosen node's card, the list of every node (the graph's keyboard and screen reader way in),
 * and the latest flow, failovers first to the eye.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { FlowEvent, GraphEdge, GraphNode } from '../../wire.js'
import { clock, duration, shortId } from '../format.js'
import { useLiveThrottled } from '../hooks.js'
import type { LiveStore } from '../live.js'
import { memo } from '../memo.js'
import { FLOW_COLOURS, FlowLayer } from './flow-layer.js'
import { EDGE_COLOURS, STATE_COLOURS, SwarmGraph } from './graph.js'
import { NodeCard } from './node-card.js'
import { NodeList } from './node-list.js'

interface Hover {
  readonly kind: 'node' | 'edge'
  readonly id: string
  readonly x: number
  readonly y: number
}

const RECENT = 12
/** The list of recent flow is redrawn at most this often (tasks may move a thousand times a second). */
const RECENT_MS = 250

export function SwarmView({ store, visible }: { store: LiveStore; visible: boolean }) {
  const container = useRef<HTMLDivElement>(null)
  const graph = useRef<SwarmGraph | undefined>(undefined)
  const flow = useRef<FlowLayer | undefined>(undefined)
  const [hover, setHover] = useState<Hover>()
  const [selected, setSelected] = useState<string>()
  const state = useLiveThrottled(store, 250, visible)

  useEffect(() => {
    const el = container.current
    if (el === null) return
    const g = new SwarmGraph(el, {
      hover: (id, x, y) => setHover(id === undefined ? undefined : { kind: 'node', id, x, y }),
      hoverEdge: (id, x, y) => setHover(id === undefined ? undefined : { kind: 'edge', id, x, y }),
      click: (id) => setSelected(id),
      drawn: (nodes, edges) => {
        el.dataset.nodes = String(nodes)
        el.dataset.edges = String(edges)
      },
    })
    graph.current = g
    const flows = new FlowLayer(el, g)
    flow.current = flows
    // What the store already holds, then every change.
    g.apply(
      {
        upsertNodes: [...store.nodes.values()],
        removeNodes: [],
        upsertEdges: [...store.edges.values()],
        removeEdges: [],
      },
      true,
    )
    const offTopology = store.onTopology((diff, reset) => g.apply(diff, reset))
    const offFlow = store.onFlow((events) => flows.add(events))
    // Sigma measures its container once; the panel grows with the window. It draws again only when
    // told (a graph drawn into a container of no size stays blank otherwise), and only then: a
    // redraw reallocates the WebGL canvas and reprocesses every node.
    const resize = new ResizeObserver(() => {
      const before = g.sigma.getDimensions()
      const after = g.sigma.resize().getDimensions()
      if (after.width !== before.width || after.height !== before.height) g.sigma.refresh({ schedule: true })
    })
    resize.observe(el)
    // Tests and the benchmark read when the first full picture was drawn.
    g.sigma.once('afterRender', () => performance.mark('dashboard:first-render'))
    return () => {
      resize.disconnect()
      offTopology()
      offFlow()
      flows.destroy()
      g.kill()
    }
  }, [store])

  useEffect(() => {
    graph.current?.select(selected, true)
  }, [selected])

  // The graph may have been laid out while hidden (zero size): measure again when shown. Hidden,
  // it takes no change in (nor does the flow layer draw); shown, it catches up at once.
  useEffect(() => {
    const g = graph.current
    if (g === undefined) return
    if (visible) g.sigma.resize(true).refresh()
    g.setHidden(!visible)
    flow.current?.setHidden(!visible)
  }, [visible])

  const nodes = store.nodes
  const counts = countKinds(nodes)
  const onKey = (e: KeyboardEvent): void => {
    const g = graph.current
    if (g === undefined) return
    const keys: Record<string, () => void> = {
      '+': () => g.zoom(1.5),
      '=': () => g.zoom(1.5),
      '-': () => g.zoom(1 / 1.5),
      '0': () => g.resetView(),
      ArrowLeft: () => g.pan(-1, 0),
      ArrowRight: () => g.pan(1, 0),
      ArrowUp: () => g.pan(0, 1),
      ArrowDown: () => g.pan(0, -1),
    }
    const action = keys[e.key]
    if (action === undefined) return
    e.preventDefault()
    action()
  }

  return (
    <div class="swarm">
      <section class="panel graph-panel" aria-labelledby="topology-title">
        <div class="panel-head">
          <h2 id="topology-title">Topology</h2>
          <p class="counts" data-testid="node-counts">
            {counts.total} nodes: this node, {counts.peer} connected {counts.peer === 1 ? 'peer' : 'peers'},{' '}
            {counts.reached} reached through peers
          </p>
          <div class="graph-tools">
            <button type="button" onClick={() => graph.current?.zoom(1.5)} aria-label="Zoom in">
              +
            </button>
            <button type="button" onClick={() => graph.current?.zoom(1 / 1.5)} aria-label="Zoom out">
              −
            </button>
            <button type="button" onClick={() => graph.current?.resetView()}>
              Reset view
            </button>
          </div>
        </div>
        <div
          class="graph"
          ref={container}
          // biome-ignore lint/a11y/noNoninteractiveTabindex: the graph takes the keyboard (zoom, pan, reset)
          tabIndex={0}
          role="img"
          aria-roledescription="network graph"
          aria-label={`Topology graph of ${counts.total} nodes. Keys: plus and minus zoom, arrow keys pan, 0 resets. The node list beside it holds the same nodes.`}
          onKeyDown={onKey}
        >
          {hover !== undefined && <Tooltip hover={hover} nodes={nodes} edges={store.edges} />}
        </div>
        <Legend />
        <p class="reach-note">{state.reach}</p>
      </section>
      <aside class="side">
        <NodeCard
          node={selected === undefined ? undefined : nodes.get(selected)}
          onClose={() => setSelected(undefined)}
        />
        <NodeList store={store} visible={visible} selected={selected} onSelect={setSelected} />
        <RecentFlow store={store} visible={visible} />
      </aside>
    </div>
  )
}

function countKinds(nodes: ReadonlyMap<string, GraphNode>): { total: number; peer: number; reached: number } {
  let peer = 0
  let reached = 0
  for (const n of nodes.values()) {
    if (n.kind === 'peer') peer++
    else if (n.kind === 'reached') reached++
  }
  return { total: nodes.size, peer, reached }
}

function Tooltip({
  hover,
  nodes,
  edges,
}: {
  hover: Hover
  nodes: ReadonlyMap<string, GraphNode>
  edges: ReadonlyMap<string, GraphEdge>
}) {
  const style = { left: `${hover.x + 14}px`, top: `${hover.y + 14}px` }
  if (hover.kind === 'edge') {
    const e = edges.get(hover.id)
    if (e === undefined) return null
    return (
      <div class="tooltip" style={style} role="tooltip">
        <strong>{e.kind === 'forward' ? 'announced route' : `${e.kind} connection`}</strong>
        <div>
          {shortId(e.source)} ↔ {shortId(e.target)}
        </div>
        {e.rttMs !== undefined && <div>latency (round trip) {duration(e.rttMs)}</div>}
        {e.relay !== undefined && <div>through relay {shortId(e.relay)}</div>}
        {e.taskTypes !== undefined && <div>forwards {e.taskTypes.join(', ')}</div>}
      </div>
    )
  }
  const n = nodes.get(hover.id)
  if (n === undefined) return null
  return (
    <div class="tooltip" style={style} role="tooltip">
      <strong>
        {n.kind === 'self'
          ? 'this node'
          : n.kind === 'peer'
            ? 'peer'
            : `reached through ${shortId(n.via ?? '')}`}
      </strong>{' '}
      <code>{shortId(n.id)}</code>
      <div>state {n.state}</div>
      {n.rttMs !== undefined && <div>latency {duration(n.rttMs)}</div>}
      {n.load !== undefined && (
        <div>
          load {n.load.running}/{n.concurrency ?? '?'} running, {n.load.queued} queued
        </div>
      )}
      {n.taskTypes.length > 0 && <div>runs {n.taskTypes.join(', ')}</div>}
    </div>
  )
}

const Legend = memo(function Legend() {
  const states: Array<[keyof typeof STATE_COLOURS, string]> = [
    ['self', 'this node (diamond)'],
    ['idle', 'peer, idle'],
    ['busy', 'peer, busy'],
    ['full', 'peer, no free slot'],
    ['degraded', 'peer, failing'],
    ['reached', 'reached through a peer (square)'],
  ]
  const edges: Array<[keyof typeof EDGE_COLOURS, string]> = [
    ['direct', 'direct connection'],
    ['relayed', 'relayed connection (dashed)'],
    ['forward', 'route a peer announces (dotted)'],
  ]
  const flows: Array<[FlowEvent['kind'], string]> = [
    ['sent', 'task sent'],
    ['answered', 'result back'],
    ['failover', 'failover'],
    ['served', 'served for a peer'],
  ]
  return (
    <ul class="legend" aria-label="Legend">
      {states.map(([s, label]) => (
        <li key={s}>
          <span class="swatch" style={{ background: STATE_COLOURS[s] }} />
          {label}
        </li>
      ))}
      {edges.map(([k, label]) => (
        <li key={k}>
          <span class={`line line-${k}`} style={{ borderColor: EDGE_COLOURS[k] }} />
          {label}
        </li>
      ))}
      {flows.map(([k, label]) => (
        <li key={k}>
          <span class="dot" style={{ background: FLOW_COLOURS[k] }} />
          {label}
        </li>
      ))}
    </ul>
  )
})

const FLOW_WORDS: Readonly<Record<FlowEvent['kind'], string>> = {
  sent: 'sent to',
  answered: 'answered by',
  failed: 'failed on',
  failover: 'failed over from',
  served: 'served for',
  returned: 'returned to',
}

/** The latest task flow, newest first: gathered as it comes, drawn a few times a second while shown. */
const RecentFlow = memo(function RecentFlow({ store, visible }: { store: LiveStore; visible: boolean }) {
  const latest = useRef<readonly FlowEvent[]>([])
  const [events, setEvents] = useState(latest.current)
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const show = (): void => {
      timer = undefined
      setEvents(latest.current)
    }
    if (visible) show()
    const off = store.onFlow((batch) => {
      latest.current = [...batch.slice(-RECENT).reverse(), ...latest.current].slice(0, RECENT)
      if (visible) timer ??= setTimeout(show, RECENT_MS)
    })
    return () => {
      off()
      clearTimeout(timer)
    }
  }, [store, visible])
  return (
    <section class="panel recent" aria-labelledby="recent-title">
      <h2 id="recent-title">Recent flow</h2>
      {events.length === 0 ? (
        <p class="muted">No task has moved since this page opened.</p>
      ) : (
        <ol class="flow-list">
          {events.map((e, i) => (
            <li key={`${e.task}-${e.kind}-${e.at}-${i}`} class={`flow-${e.kind}`}>
              <span class="dot" style={{ background: FLOW_COLOURS[e.kind] }} />
              <span class="time">{clock(e.at)}</span> {e.type} <code>{e.task.slice(0, 8)}</code>{' '}
              {FLOW_WORDS[e.kind]}{' '}
              <code>{shortId(e.kind === 'sent' || e.kind === 'returned' ? e.to : e.from)}</code>
              {e.kind === 'failover' && (
                <>
                  {' '}
                  to <code>{shortId(e.to)}</code>
                </>
              )}
              {e.code !== undefined && <span class="code"> {e.code}</span>}
            </li>
          ))}
        </ol>
      )}
    </section>
  )
})
