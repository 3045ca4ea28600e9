/**
 * The topology drawn with sigma.js (WebGL) over a graphology graph, kept in step with the live
 * feed diff by diff. Node shape and colour say what a node is (this node, a peer, a node reached
 * through a peer) and how busy; edges are solid for direct connections, dashed for relayed ones,
 * thin dashes for what a peer announces it forwards through.
 */
import Graph from 'graphology'
import Sigma, { DEFAULT_STYLES } from 'sigma'
import { layerDashed, layerFill, layerPlain, sdfCircle, sdfDiamond, sdfSquare } from 'sigma/rendering'
import type { GraphEdge, GraphNode, GraphNodeState, TopologyDiff } from '../../wire.js'
import { shortId } from '../format.js'
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
  [key: string]: unknown
}

interface EdgeAttributes {
  size: number
  color: string
  solid: string
  dash: number
  gap: number
  [key: string]: unknown
}

export interface SwarmGraphEvents {
  /** The pointer is over a node (or left it: `undefined`); `x`, `y` in the container's pixels. */
  hover(node: string | undefined, x: number, y: number): void
  hoverEdge(edge: string | undefined, x: number, y: number): void
  click(node: string | undefined): void
}

export class SwarmGraph {
  readonly graph = new Graph<NodeAttributes, EdgeAttributes>({ type: 'undirected', multi: false })
  readonly sigma: ReturnType<typeof createSigma>
  #selected: string | undefined

  constructor(container: HTMLElement, events: SwarmGraphEvents) {
    this.sigma = createSigma(this.graph, container)
    const at = (e: { event: { x: number; y: number } }): [number, number] => [e.event.x, e.event.y]
    this.sigma.on('enterNode', (e) => events.hover(e.node, ...at(e)))
    this.sigma.on('leaveNode', (e) => events.hover(undefined, ...at(e)))
    this.sigma.on('enterEdge', (e) => events.hoverEdge(e.edge, ...at(e)))
    this.sigma.on('leaveEdge', (e) => events.hoverEdge(undefined, ...at(e)))
    this.sigma.on('clickNode', (e) => events.click(e.node))
    this.sigma.on('clickStage', () => events.click(undefined))
  }

  /** Applies a diff of the live feed; `reset` drops what was drawn before (a new `hello`). */
  apply(diff: TopologyDiff, reset: boolean): void {
    if (reset) this.graph.clear()
    for (const id of diff.removeEdges) if (this.graph.hasEdge(id)) this.graph.dropEdge(id)
    for (const id of diff.removeNodes) if (this.graph.hasNode(id)) this.graph.dropNode(id)
    for (const node of diff.upsertNodes) this.graph.mergeNode(node.id, nodeAttributes(node))
    for (const edge of diff.upsertEdges) {
      if (!this.graph.hasNode(edge.source) || !this.graph.hasNode(edge.target)) continue
      if (this.graph.hasEdge(edge.id)) this.graph.mergeEdgeAttributes(edge.id, edgeAttributes(edge))
      else this.graph.addEdgeWithKey(edge.id, edge.source, edge.target, edgeAttributes(edge))
    }
    if (this.#selected !== undefined && !this.graph.hasNode(this.#selected)) this.select(undefined)
    this.#centre()
  }

  /**
   * Keeps this node (at 0, 0) in the middle: the frame is the smallest square around it that
   * holds every node, not the nodes' own bounding box (which would push it to an edge when its
   * few peers happen to lie on one side).
   */
  #centre(): void {
    let r = 1
    this.graph.forEachNode((_, a) => {
      r = Math.max(r, Math.abs(a.x), Math.abs(a.y))
    })
    this.sigma.setCustomBBox({ x: [-r, r], y: [-r, r] })
  }

  /** Marks a node (and its edges) as chosen, and brings it into view. */
  select(id: string | undefined, focus = false): void {
    if (this.#selected !== undefined && this.graph.hasNode(this.#selected)) {
      this.sigma.setNodeState(this.#selected, { isHighlighted: false })
      this.sigma.setEdgesState(this.graph.edges(this.#selected), { isHighlighted: false })
    }
    this.#selected = id !== undefined && this.graph.hasNode(id) ? id : undefined
    if (this.#selected === undefined) return
    this.sigma.setNodeState(this.#selected, { isHighlighted: true })
    this.sigma.setEdgesState(this.graph.edges(this.#selected), { isHighlighted: true })
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
    if (!this.graph.hasNode(id)) return undefined
    const { x, y } = this.graph.getNodeAttributes(id)
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
    this.sigma.kill()
  }
}

/** The renderer: node shapes, edges solid or dashed, labels, and what hovering and choosing do. */
function createSigma(graph: Graph<NodeAttributes, EdgeAttributes>, container: HTMLElement) {
  return new Sigma(graph, container, {
    primitives: {
      nodes: {
        shapes: [sdfCircle(), sdfDiamond(), sdfSquare()],
        layers: [layerFill()],
      },
      edges: {
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
        },
        {
          whenState: 'isHighlighted',
          // biome-ignore lint/suspicious/noThenProperty: sigma's style rules are written this way
          then: { size: { attribute: 'size', defaultValue: 10 }, labelVisibility: 'visible' },
        },
      ],
      edges: [
        DEFAULT_STYLES.edges,
        { solid: { attribute: 'solid' }, dash: { attribute: 'dash' }, gap: { attribute: 'gap' } },
      ],
    },
    settings: {
      // The Swarm tab may be hidden (zero size) while the graph changes.
      allowInvalidContainer: true,
      enableEdgeEvents: true,
      renderEdgeLabels: false,
      labelDensity: 0.5,
      labelRenderedSizeThreshold: 9,
      hideEdgesOnMove: false,
      stagePadding: 40,
      // Sizes in pixels, whatever the zoom: a node stays a dot, not a disc that covers its ring.
      itemSizesReference: 'screen',
      minCameraRatio: 0.02,
      maxCameraRatio: 4,
    },
  })
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
  }
}

function edgeAttributes(edge: GraphEdge): EdgeAttributes {
  const colour = EDGE_COLOURS[edge.kind]
  if (edge.kind === 'direct') return { size: 1.5, color: colour, solid: colour, dash: 0, gap: 0 }
  if (edge.kind === 'relayed') return { size: 2, color: colour, solid: TRANSPARENT, dash: 8, gap: 5 }
  return { size: 1, color: colour, solid: TRANSPARENT, dash: 3, gap: 4 }
}
