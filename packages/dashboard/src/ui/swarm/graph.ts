/**
 * The topology drawn with sigma.js (WebGL) over a graphology graph, kept in step with the live
 * feed in batches (see `SwarmGraph`). Node shape and colour say what a node is (this node, a peer,
 * a node reached through a peer) and how busy; edges are solid for direct connections, dashed for
 * relayed ones, thin dashes for what a peer announces it forwards through.
 */
import Graph from 'graphology'
import Sigma, { DEFAULT_STYLES } from 'sigma'
import {
  layerDashed,
  layerFill,
  layerPlain,
  pathLine,
  sdfCircle,
  sdfDiamond,
  sdfSquare,
} from 'sigma/rendering'
import type { GraphEdge, GraphNode, GraphNodeState, TopologyDiff } from '../../wire.js'
import { shortId } from '../format.js'
import { BackBuffer } from './back-buffer.js'
import { position } from './layout.js'

export const STATE_COLOURS: Readonly<Record<GraphNodeState, string>> = {
  self: '#38bdf8',
  idle: '#4ade80',
  busy: '#facc15',
  full: '#fb923c',
  degraded: '#f87171',
  reached: '#94a3b8',
}

export const EDGE_COLOURS = { direct: '#64748b', relayed: '#c084fc', forward: '#94a3b8' } as const

const SHAPES = { self: 'diamond', peer: 'circle', reached: 'square' } as const
const TRANSPARENT = '#00000000'

interface NodeAttributes {
  x: number
  y: number
  size: number
  color: string
  label: string
  shape: string
  /** Left the swarm (see `COMPACT_SHARE`). */
  hidden: boolean
  [key: string]: unknown
}

interface EdgeAttributes {
  size: number
  color: string
  solid: string
  dash: number
  gap: number
  hidden: boolean
  [key: string]: unknown
}

export interface SwarmGraphEvents {
  /** The pointer is over a node (or left it: `undefined`); `x`, `y` in the container's pixels. */
  hover(node: string | undefined, x: number, y: number): void
  hoverEdge(edge: string | undefined, x: number, y: number): void
  click(node: string | undefined): void
  /** The drawn graph took in the diffs received since the last time. */
  drawn(nodes: number, edges: number): void
}

/**
 * At least this long between two redraws of the graph for changes of the swarm: drawn in software
 * (no GPU), a thousand nodes and edges take a good part of this.
 */
const MIN_REDRAW_MS = 500
/**
 * And at least this many times as long as the last redraw took (until it was shown), so that a slow
 * machine spends at most a fifth of its frames redrawing the graph, however fast the swarm changes;
 * but never longer than `MAX_REDRAW_MS`, so a change still shows within a couple of seconds.
 */
const REDRAW_GAP_FACTOR = 4
const MAX_REDRAW_MS = 2_000
/**
 * From this many nodes, the graph is drawn for speed: edges and labels are left out while the
 * camera moves (a zoom or a pan redraws each frame), and edges no longer answer the pointer (their
 * picking pass costs a third of each redraw; a node's own hover tells the same: a peer's latency,
 * the route to a reached node). A smaller graph keeps all of it.
 */
const LARGE_GRAPH = 300

/**
 * Nodes and edges that left are hidden, not dropped: sigma takes a hidden item in with a partial
 * pass (a drop makes it index the whole graph again, once per item dropped). Once this share of the
 * graph is hidden, it is rebuilt without them, in one full pass.
 */
const COMPACT_SHARE = 0.25
/** ...and never for fewer than this many (a small graph's full pass costs nothing to speak of). */
const COMPACT_MIN = 64

type Diffs = Array<{ readonly diff: TopologyDiff; readonly reset: boolean }>
interface Gone {
  readonly nodes: Set<string>
  readonly edges: Set<string>
}

/**
 * The graph drawn, kept in step with the live feed in batches: the diffs received are gathered and
 * taken in at the next animation frame (at most one every `MIN_REDRAW_MS`, and not at all while
 * the graph is hidden), and sigma draws the graph once per batch. A batch goes into the graph sigma
 * watches, so it reprocesses only what changed; what left is hidden (see `COMPACT_SHARE`), and
 * comes back as it was when it returns. A new `hello`, or a graph with too much hidden, is built
 * afresh beside it and swapped in (`setGraph`, one full pass). Either way sigma draws into a back
 * buffer (see `BackBuffer`): the page goes on while the GPU (or, without one, the CPU) draws, and
 * the canvas shows the new graph once it is drawn.
 */
export class SwarmGraph {
  readonly sigma: ReturnType<typeof createSigma>
  #graph = createGraph()
  /** Nodes and edges in `#graph` that left, hidden. */
  #gone: Gone = { nodes: new Set(), edges: new Set() }
  #pending: Diffs = []
  #frame: number | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #lastDrawn = Number.NEGATIVE_INFINITY
  #redrawMs = 0
  #hidden = false
  #radius = 0
  #large = false
  readonly #events: SwarmGraphEvents
  #selected: string | undefined
  readonly #buffer: BackBuffer

  constructor(container: HTMLElement, events: SwarmGraphEvents) {
    this.#events = events
    this.sigma = createSigma(this.#graph, container)
    this.#buffer = new BackBuffer(this.sigma.getWebGLContext())
    // Sigma draws straight onto the canvas too (the camera moves, a hover): newer than what the
    // back buffer holds, which is then dropped.
    this.sigma.on('beforeRender', () => {
      if (!this.#buffer.drawing) this.#buffer.discard()
    })
    const at = (e: { event: { x: number; y: number } }): [number, number] => [e.event.x, e.event.y]
    this.sigma.on('enterNode', (e) => events.hover(e.node, ...at(e)))
    this.sigma.on('leaveNode', (e) => events.hover(undefined, ...at(e)))
    this.sigma.on('enterEdge', (e) => events.hoverEdge(e.edge, ...at(e)))
    this.sigma.on('leaveEdge', (e) => events.hoverEdge(undefined, ...at(e)))
    this.sigma.on('clickNode', (e) => events.click(e.node))
    this.sigma.on('clickStage', () => events.click(undefined))
  }

  /** Whether a node is in the graph as drawn now (not gone). */
  hasNode(id: string): boolean {
    return this.#graph.hasNode(id) && !this.#gone.nodes.has(id)
  }

  /** Takes a diff of the live feed in (soon); `reset` drops what was drawn before (a new `hello`). */
  apply(diff: TopologyDiff, reset: boolean): void {
    if (reset) this.#pending = []
    this.#pending.push({ diff, reset })
    this.#schedule()
  }

  /** A hidden graph takes nothing in until it is shown again. */
  setHidden(hidden: boolean): void {
    this.#hidden = hidden
    this.#schedule()
  }

  #schedule(): void {
    if (
      this.#hidden ||
      this.#pending.length === 0 ||
      this.#frame !== undefined ||
      this.#timer !== undefined
    ) {
      return
    }
    const gap = Math.min(MAX_REDRAW_MS, Math.max(MIN_REDRAW_MS, REDRAW_GAP_FACTOR * this.#redrawMs))
    const wait = this.#lastDrawn + gap - performance.now()
    if (wait <= 0) this.#frame = requestAnimationFrame(() => this.#take())
    else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#schedule()
      }, wait)
    }
  }

  #take(): void {
    this.#frame = undefined
    if (this.#hidden) return
    const started = performance.now()
    const batch = this.#pending
    this.#pending = []
    const last = batch.findLastIndex((b) => b.reset)
    let graph = this.#graph
    if (last >= 0) {
      graph = createGraph()
      this.#gone = { nodes: new Set(), edges: new Set() }
    }
    // Sigma watches `#graph`: what goes in there is reprocessed on its own at the next render.
    hideAll(graph, batch.slice(Math.max(0, last)), this.#gone)
    const hidden = this.#gone.nodes.size
    if (graph === this.#graph && hidden >= COMPACT_MIN && hidden >= COMPACT_SHARE * graph.order) {
      graph = graph.copy()
      for (const id of this.#gone.edges) graph.dropEdge(id)
      for (const id of this.#gone.nodes) graph.dropNode(id)
      this.#gone = { nodes: new Set(), edges: new Set() }
    }
    const shown = { nodes: graph.order - this.#gone.nodes.size, edges: graph.size - this.#gone.edges.size }
    this.#centre(graph)
    const large = shown.nodes >= LARGE_GRAPH
    if (large !== this.#large) {
      this.#large = large
      this.sigma.setSettings({ hideEdgesOnMove: large, hideLabelsOnMove: large, enableEdgeEvents: !large })
    }
    // Sized first, so the back buffer is the canvas's size (the render then has nothing to resize).
    this.sigma.resize()
    const swap = graph !== this.#graph
    this.#graph = graph
    this.#buffer.draw(
      // An empty partial refresh renders now, taking in what the graph's events told sigma (and
      // cancelling the frame it had asked for to do so).
      () =>
        swap ? this.sigma.setGraph(graph) : this.sigma.refresh({ partialGraph: {}, skipIndexation: true }),
      () => {
        this.#redrawMs = performance.now() - started
        this.#events.drawn(shown.nodes, shown.edges)
      },
    )
    // An empty graph (the page has just opened, the swarm not yet in) makes the next batch wait for
    // nothing: the whole swarm is then drawn as soon as it comes.
    this.#lastDrawn = shown.nodes === 0 ? Number.NEGATIVE_INFINITY : performance.now()
    if (this.#selected !== undefined && !this.hasNode(this.#selected)) this.select(undefined)
  }

  /**
   * Keeps this node (at 0, 0) in the middle: the frame is the smallest square around it that
   * holds every node, not the nodes' own bounding box (which would push it to an edge when its
   * few peers happen to lie on one side).
   */
  #centre(graph: Graph<NodeAttributes, EdgeAttributes>): void {
    let r = 1
    graph.forEachNode((_, a) => {
      if (a.hidden !== true) r = Math.max(r, Math.abs(a.x), Math.abs(a.y))
    })
    if (r === this.#radius) return
    this.#radius = r
    this.sigma.setCustomBBox({ x: [-r, r], y: [-r, r] })
  }

  /** Marks a node (and its edges) as chosen, and brings it into view. */
  select(id: string | undefined, focus = false): void {
    if (this.#selected !== undefined && this.#graph.hasNode(this.#selected)) {
      this.sigma.setNodeState(this.#selected, { isHighlighted: false })
      this.sigma.setEdgesState(this.#graph.edges(this.#selected), { isHighlighted: false })
    }
    this.#selected = id !== undefined && this.hasNode(id) ? id : undefined
    if (this.#selected === undefined) return
    this.sigma.setNodeState(this.#selected, { isHighlighted: true })
    this.sigma.setEdgesState(this.#graph.edges(this.#selected), { isHighlighted: true })
    if (focus) {
      const data = this.sigma.getNodeDisplayData(this.#selected)
      if (data !== undefined) {
        const camera = this.sigma.getCamera()
        void camera.animate({ x: data.x, y: data.y, ratio: Math.min(camera.ratio, 0.6) }, { duration: 300 })
      }
    }
  }

  /** Where a node is drawn now, in the container's pixels. */
  viewportOf(id: string): { x: number; y: number } | undefined {
    if (!this.hasNode(id)) return undefined
    const { x, y } = this.#graph.getNodeAttributes(id)
    return this.sigma.graphToViewport({ x, y })
  }

  zoom(factor: number): void {
    const camera = this.sigma.getCamera()
    void camera.animate({ ratio: camera.ratio / factor }, { duration: 200 })
  }

  pan(dx: number, dy: number): void {
    const camera = this.sigma.getCamera()
    const step = 0.1 * camera.ratio
    void camera.animate({ x: camera.x + dx * step, y: camera.y + dy * step }, { duration: 150 })
  }

  resetView(): void {
    void this.sigma.getCamera().animate({ x: 0.5, y: 0.5, ratio: 1, angle: 0 }, { duration: 300 })
  }

  kill(): void {
    if (this.#frame !== undefined) cancelAnimationFrame(this.#frame)
    clearTimeout(this.#timer)
    this.#buffer.kill()
    this.sigma.kill()
  }
}

/** An item that left (`hidden`) is neither drawn nor picked. */
const WHEN_GONE_HIDDEN = {
  whenData: { hidden: true },
  // biome-ignore lint/suspicious/noThenProperty: sigma's style rules are written this way
  then: 'hidden',
  else: 'visible',
} as const

/** The renderer: node shapes, edges solid or dashed, labels, and what hovering and choosing do. */
function createSigma(graph: Graph<NodeAttributes, EdgeAttributes>, container: HTMLElement) {
  return new Sigma(graph, container, {
    primitives: {
      nodes: {
        shapes: [sdfCircle(), sdfDiamond(), sdfSquare()],
        layers: [layerFill()],
      },
      edges: {
        // Straight edges only: sigma's default paths add the self-loop, whose 32 segments make
        // every edge 66 vertices and its shader an arc-length walk. The topology has no loops
        // (build.ts never links a node to itself), and a quad per edge draws the same lines at
        // about a third of the cost in software WebGL.
        paths: [pathLine()],
        // Per-edge values the layers read: a solid colour (transparent for dashed edges), dash and gap.
        variables: {
          solid: { type: 'color', default: TRANSPARENT },
          dash: { type: 'number', default: 0 },
          gap: { type: 'number', default: 0 },
        },
        layers: [
          layerPlain({ color: { attribute: 'solid', default: TRANSPARENT } }),
          layerDashed({
            dashSize: { attribute: 'dash', default: 0, mode: 'pixels' },
            gapSize: { attribute: 'gap', default: 0, mode: 'pixels' },
            dashColor: { attribute: 'color' },
          }),
        ],
      },
    },
    styles: {
      nodes: [
        DEFAULT_STYLES.nodes,
        {
          shape: { attribute: 'shape', defaultValue: 'circle' },
          labelColor: '#e2e8f0',
          labelSize: 12,
          backdropColor: '#1e293b',
          backdropShadowColor: 'rgba(0, 0, 0, 0.6)',
          visibility: WHEN_GONE_HIDDEN,
        },
        {
          whenState: 'isHighlighted',
          // biome-ignore lint/suspicious/noThenProperty: sigma's style rules are written this way
          then: { size: { attribute: 'size', defaultValue: 10 }, labelVisibility: 'visible' },
        },
      ],
      edges: [
        DEFAULT_STYLES.edges,
        {
          solid: { attribute: 'solid' },
          dash: { attribute: 'dash' },
          gap: { attribute: 'gap' },
          visibility: WHEN_GONE_HIDDEN,
        },
      ],
    },
    settings: {
      // The Swarm tab may be hidden (zero size) while the graph changes.
      allowInvalidContainer: true,
      // Until the graph is large (see LARGE_GRAPH), like hideEdgesOnMove and hideLabelsOnMove.
      enableEdgeEvents: true,
      renderEdgeLabels: false,
      labelDensity: 0.5,
      labelRenderedSizeThreshold: 9,
      hideEdgesOnMove: false,
      hideLabelsOnMove: false,
      stagePadding: 40,
      // Sizes in pixels, whatever the zoom: a node stays a dot, not a disc that covers its ring.
      itemSizesReference: 'screen',
      minCameraRatio: 0.02,
      maxCameraRatio: 4,
    },
  })
}

function createGraph(): Graph<NodeAttributes, EdgeAttributes> {
  return new Graph<NodeAttributes, EdgeAttributes>({ type: 'undirected', multi: false })
}

/**
 * Writes a batch into a graph: what left is hidden (and noted in `gone`), what comes (back) is
 * merged in and shown. An edge waits for both its ends to be shown.
 */
function hideAll(graph: Graph<NodeAttributes, EdgeAttributes>, batch: Diffs, gone: Gone): void {
  const shown = (id: string): boolean => graph.hasNode(id) && !gone.nodes.has(id)
  for (const { diff } of batch) {
    for (const id of diff.removeEdges) {
      if (!graph.hasEdge(id) || gone.edges.has(id)) continue
      graph.setEdgeAttribute(id, 'hidden', true)
      gone.edges.add(id)
    }
    for (const id of diff.removeNodes) {
      if (!graph.hasNode(id) || gone.nodes.has(id)) continue
      graph.setNodeAttribute(id, 'hidden', true)
      gone.nodes.add(id)
    }
    for (const node of diff.upsertNodes) {
      graph.mergeNode(node.id, nodeAttributes(node))
      gone.nodes.delete(node.id)
    }
    for (const edge of diff.upsertEdges) {
      if (!shown(edge.source) || !shown(edge.target)) continue
      if (graph.hasEdge(edge.id)) graph.mergeEdgeAttributes(edge.id, edgeAttributes(edge))
      else graph.addEdgeWithKey(edge.id, edge.source, edge.target, edgeAttributes(edge))
      gone.edges.delete(edge.id)
    }
  }
}

function nodeAttributes(node: GraphNode): NodeAttributes {
  const { x, y } = position(node)
  const load =
    node.load === undefined || node.concurrency === undefined ? 0 : node.load.running / node.concurrency
  return {
    x,
    y,
    size: node.kind === 'self' ? 14 : node.kind === 'peer' ? 7 + 4 * Math.min(1, load) : 5,
    color: STATE_COLOURS[node.state],
    label: node.kind === 'self' ? `this node ${shortId(node.id)}` : shortId(node.id),
    shape: SHAPES[node.kind],
    hidden: false,
  }
}

function edgeAttributes(edge: GraphEdge): EdgeAttributes {
  const colour = EDGE_COLOURS[edge.kind]
  if (edge.kind === 'direct')
    return { size: 1.5, color: colour, solid: colour, dash: 0, gap: 0, hidden: false }
  if (edge.kind === 'relayed') {
    return { size: 2, color: colour, solid: TRANSPARENT, dash: 8, gap: 5, hidden: false }
  }
  return { size: 1, color: colour, solid: TRANSPARENT, dash: 3, gap: 4, hidden: false }
}
