/**
 * The live feed every open page reads (`GET /api/live`): the whole picture once (`hello`), then
 * only what changes: topology diffs (recomputed every `topologyMs`, and soon after a peer event),
 * task flow in batches, history points, alerts. One topology and one subscription to the node are
 * shared by every page, and only while a page listens.
 */
import { FLOW_BATCH_MS, HEARTBEAT_MS, TOPOLOGY_DEBOUNCE_MS } from '../constants.js'
import type { DashboardSource, SourceEvent } from '../source/types.js'
import { buildTopology, REACH_NOTE } from '../topology/build.js'
import { diffTopology, isEmptyDiff } from '../topology/diff.js'
import type { FlowEvent, HistoryPoint, LiveEvent, SelfView, Topology } from '../wire.js'

/** One open page. */
export interface LiveClient {
  /** Returns false when the page cannot keep up (it is then closed). */
  send(event: LiveEvent): boolean
  /** A comment line, to keep the connection open. */
  ping(): void
  close(): void
}

export interface LiveFeedInit {
  readonly source: DashboardSource
  readonly topologyMs: number
  readonly sampleMs: number
  /** Whether the node records traces (task details then show a timeline). */
  readonly traces: boolean
  readonly onError: (err: unknown) => void
}

export class LiveFeed {
  readonly #init: LiveFeedInit
  readonly #clients = new Set<LiveClient>()
  #topology: Topology | undefined
  #self = ''
  #flows: FlowEvent[] = []
  #flowTimer: NodeJS.Timeout | undefined
  #debounce: NodeJS.Timeout | undefined
  #ticker: NodeJS.Timeout | undefined
  #heartbeat: NodeJS.Timeout | undefined
  #listening: AbortController | undefined

  constructor(init: LiveFeedInit) {
    this.#init = init
  }

  get clients(): number {
    return this.#clients.size
  }

  add(client: LiveClient): void {
    if (this.#clients.size === 0) this.#listen()
    // The others first get what changed up to now, so all pages share one topology from here on.
    else this.#refresh()
    const { source, sampleMs, traces } = this.#init
    const self = source.self()
    this.#topology ??= buildTopology(self, source.peers())
    this.#self = JSON.stringify(selfView(self))
    this.#clients.add(client)
    this.#send(client, {
      type: 'hello',
      self: selfView(self),
      topology: this.#topology,
      alerts: source.alerts(),
      sampleMs,
      reach: REACH_NOTE,
      traces,
    })
  }

  remove(client: LiveClient): void {
    if (!this.#clients.delete(client)) return
    if (this.#clients.size === 0) this.#quiet()
  }

  /** A history point, as the recorder writes it. */
  sample(point: HistoryPoint): void {
    this.#broadcast({ type: 'sample', point, stepMs: this.#init.sampleMs })
  }

  close(): void {
    for (const client of this.#clients) client.close()
    this.#clients.clear()
    this.#quiet()
  }

  #listen(): void {
    this.#listening = new AbortController()
    this.#init.source.subscribe((event) => this.#on(event), this.#listening.signal)
    this.#ticker = setInterval(() => this.#refresh(), this.#init.topologyMs)
    this.#ticker.unref()
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) client.ping()
    }, HEARTBEAT_MS)
    this.#heartbeat.unref()
  }

  /** Nobody listens: stop reading the node, and forget the topology (the next page gets a fresh one). */
  #quiet(): void {
    this.#listening?.abort()
    this.#listening = undefined
    clearInterval(this.#ticker)
    clearInterval(this.#heartbeat)
    clearTimeout(this.#debounce)
    clearTimeout(this.#flowTimer)
    this.#debounce = this.#flowTimer = undefined
    this.#topology = undefined
    this.#flows = []
  }

  #on(event: SourceEvent): void {
    if (event.type === 'peers') {
      this.#debounce ??= setTimeout(() => {
        this.#debounce = undefined
        this.#refresh()
      }, TOPOLOGY_DEBOUNCE_MS)
    } else if (event.type === 'flow') {
      this.#flows.push(event.flow)
      this.#flowTimer ??= setTimeout(() => {
        this.#flowTimer = undefined
        const events = this.#flows
        this.#flows = []
        this.#broadcast({ type: 'flow', events })
      }, FLOW_BATCH_MS)
    } else {
      this.#broadcast({ type: 'alert', event: event.alert, alerts: this.#init.source.alerts() })
    }
  }

  #refresh(): void {
    if (this.#topology === undefined) return
    try {
      const { source } = this.#init
      const self = source.self()
      const next = buildTopology(self, source.peers())
      const diff = diffTopology(this.#topology, next)
      this.#topology = next
      if (!isEmptyDiff(diff)) this.#broadcast({ type: 'topology', ...diff })
      const view = selfView(self)
      const text = JSON.stringify(view)
      if (text !== this.#self) {
        this.#self = text
        this.#broadcast({ type: 'self', self: view })
      }
    } catch (err) {
      this.#init.onError(err)
    }
  }

  #broadcast(event: LiveEvent): void {
    for (const client of this.#clients) this.#send(client, event)
  }

  #send(client: LiveClient, event: LiveEvent): void {
    if (client.send(event)) return
    // Too far behind: closed, and its browser reconnects to a fresh `hello`.
    this.remove(client)
    client.close()
  }
}

function selfView(self: SelfView): SelfView {
  const { peerId, state, version, addresses, startedAt, taskTypes } = self
  return { peerId, state, version, addresses, startedAt, taskTypes }
}
