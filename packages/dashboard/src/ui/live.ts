/**
 * The page's copy of what the node reports over its live feed (`/api/live`, server-sent events):
 * this node, the topology (applied diff by diff), alerts, the latest history points, and task flow
 * handed on to whoever draws it. One connection per page; the browser reconnects by itself and the
 * node then starts again with a `hello`.
 */
import type {
  AlertEvent,
  AlertView,
  FlowEvent,
  GraphEdge,
  GraphNode,
  HelloJson,
  HistoryPoint,
  LiveEvent,
  SelfView,
  TopologyDiff,
} from '../wire.js'

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'signed-out'

export interface LiveState {
  readonly connection: Connection
  readonly self: SelfView | undefined
  readonly alerts: readonly AlertView[]
  readonly reach: string
  readonly traces: boolean
  readonly sampleMs: number
  /** Bumped at each topology change, so views that read the maps know to redraw. */
  readonly version: number
}

type Listener = () => void

export class LiveStore {
  readonly nodes = new Map<string, GraphNode>()
  readonly edges = new Map<string, GraphEdge>()
  /** Points received since the page opened (the metrics view joins them to the history it reads). */
  readonly samples: HistoryPoint[] = []
  #state: LiveState = {
    connection: 'connecting',
    self: undefined,
    alerts: [],
    reach: '',
    traces: false,
    sampleMs: 5000,
    version: 0,
  }
  readonly #listeners = new Set<Listener>()
  readonly #topologyListeners = new Set<(diff: TopologyDiff, reset: boolean) => void>()
  readonly #flowListeners = new Set<(events: readonly FlowEvent[]) => void>()
  readonly #alertListeners = new Set<(event: AlertEvent) => void>()
  readonly #sampleListeners = new Set<(point: HistoryPoint) => void>()
  #source: EventSource | undefined

  get state(): LiveState {
    return this.#state
  }

  connect(url = '/api/live'): void {
    const source = new EventSource(url)
    this.#source = source
    const on = <T extends LiveEvent['type']>(type: T, fn: (e: Extract<LiveEvent, { type: T }>) => void) =>
      source.addEventListener(type, (msg) => fn(JSON.parse((msg as MessageEvent<string>).data)))
    on('hello', (e) => this.#hello(e))
    on('self', (e) => this.#set({ self: e.self }))
    on('topology', (e) => this.#apply(e, false))
    on('flow', (e) => {
      for (const fn of this.#flowListeners) fn(e.events)
    })
    on('sample', (e) => {
      this.samples.push(e.point)
      if (this.samples.length > 2000) this.samples.splice(0, this.samples.length - 2000)
      for (const fn of this.#sampleListeners) fn(e.point)
    })
    on('alert', (e) => {
      this.#set({ alerts: e.alerts })
      for (const fn of this.#alertListeners) fn(e.event)
    })
    source.addEventListener('error', () => {
      if (this.#state.connection === 'signed-out') return
      // The browser retries on its own; a session that ended makes every retry fail: ask once.
      this.#set({ connection: 'reconnecting' })
      void fetch('/api/tasks?limit=1').then((res) => {
        if (res.status === 401) this.signedOut()
      })
    })
    window.addEventListener('dashboard:signed-out', () => this.signedOut())
  }

  signedOut(): void {
    this.#source?.close()
    this.#set({ connection: 'signed-out' })
  }

  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn)
    return () => this.#listeners.delete(fn)
  }

  onTopology(fn: (diff: TopologyDiff, reset: boolean) => void): () => void {
    this.#topologyListeners.add(fn)
    return () => this.#topologyListeners.delete(fn)
  }

  onFlow(fn: (events: readonly FlowEvent[]) => void): () => void {
    this.#flowListeners.add(fn)
    return () => this.#flowListeners.delete(fn)
  }

  onAlert(fn: (event: AlertEvent) => void): () => void {
    this.#alertListeners.add(fn)
    return () => this.#alertListeners.delete(fn)
  }

  onSample(fn: (point: HistoryPoint) => void): () => void {
    this.#sampleListeners.add(fn)
    return () => this.#sampleListeners.delete(fn)
  }

  #hello(hello: HelloJson): void {
    this.nodes.clear()
    this.edges.clear()
    this.#apply(
      {
        upsertNodes: hello.topology.nodes,
        removeNodes: [],
        upsertEdges: hello.topology.edges,
        removeEdges: [],
      },
      true,
    )
    this.#set({
      connection: 'live',
      self: hello.self,
      alerts: hello.alerts,
      reach: hello.reach,
      traces: hello.traces,
      sampleMs: hello.sampleMs,
    })
  }

  #apply(diff: TopologyDiff, reset: boolean): void {
    for (const id of diff.removeNodes) this.nodes.delete(id)
    for (const id of diff.removeEdges) this.edges.delete(id)
    for (const n of diff.upsertNodes) this.nodes.set(n.id, n)
    for (const e of diff.upsertEdges) this.edges.set(e.id, e)
    for (const fn of this.#topologyListeners) fn(diff, reset)
    this.#set({ version: this.#state.version + 1 })
  }

  #set(patch: Partial<LiveState>): void {
    this.#state = { ...this.#state, ...patch }
    for (const fn of this.#listeners) fn()
  }
}
