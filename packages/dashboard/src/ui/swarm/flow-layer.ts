/**
 * Tasks moving along the edges: a dot travels from sender to receiver for each attempt sent, each
 * result answered, each task served for a peer; a failover flashes a red cross on the edge of the
 * peer that failed and sends the task on to the next one. Drawn on a canvas over the graph, only
 * while something moves; a burst is capped so a thousand tasks a second stay smooth.
 */
import type { FlowEvent } from '../../wire.js'
import type { SwarmGraph } from './graph.js'

const TRAVEL_MS = 700
const FLASH_MS = 1200
/** Dots in flight at most; more are dropped (the counts in the metrics stay exact). */
const MAX_PARTICLES = 400
/**
 * The dots move thirty times a second, not sixty: each drawing makes the compositor blend the whole
 * graph again, which without a GPU costs as much as the rest of the page's frame.
 */
const DRAW_EVERY_MS = 1000 / 30

export const FLOW_COLOURS: Readonly<Record<FlowEvent['kind'], string>> = {
  sent: '#38bdf8',
  answered: '#4ade80',
  failed: '#f87171',
  failover: '#fb7185',
  served: '#c084fc',
  returned: '#e879f9',
}

interface Particle {
  readonly from: string
  readonly to: string
  readonly colour: string
  readonly start: number
  /** A flash at a node or on an edge, instead of a travelling dot. */
  readonly flash?: 'cross' | 'ring'
}

export class FlowLayer {
  readonly #canvas: HTMLCanvasElement
  readonly #graph: SwarmGraph
  #particles: Particle[] = []
  #frame: number | undefined
  #drawnAt = Number.NEGATIVE_INFINITY
  #hidden = false
  readonly #resize: ResizeObserver

  constructor(container: HTMLElement, graph: SwarmGraph) {
    this.#graph = graph
    this.#canvas = document.createElement('canvas')
    this.#canvas.className = 'flow-layer'
    this.#canvas.setAttribute('aria-hidden', 'true')
    container.appendChild(this.#canvas)
    this.#resize = new ResizeObserver(() => this.#fit())
    this.#resize.observe(container)
    this.#fit()
  }

  add(events: readonly FlowEvent[]): void {
    // Nobody sees a hidden graph's dots; the list of recent flow keeps what happened meanwhile.
    if (this.#hidden) return
    const now = performance.now()
    for (const e of events) {
      if (this.#particles.length >= MAX_PARTICLES) break
      const colour = FLOW_COLOURS[e.kind]
      if (e.kind === 'failover') {
        // The failed peer's edge flashes; the next attempt's `sent` draws the way on.
        this.#particles.push({ from: e.from, to: e.to, colour, start: now, flash: 'cross' })
      } else if (e.from === e.to) {
        this.#particles.push({ from: e.from, to: e.to, colour, start: now, flash: 'ring' })
      } else {
        // A forwarded task's answer comes from its provider through the neighbour it was sent to.
        if (e.kind === 'answered' && e.provider !== undefined && e.provider !== e.from) {
          this.#particles.push({ from: e.provider, to: e.from, colour, start: now })
        }
        this.#particles.push({ from: e.from, to: e.to, colour, start: now })
      }
    }
    this.#frame ??= requestAnimationFrame((t) => this.#draw(t))
  }

  setHidden(hidden: boolean): void {
    this.#hidden = hidden
    if (!hidden) return
    this.#particles = []
    if (this.#frame !== undefined) cancelAnimationFrame(this.#frame)
    this.#frame = undefined
  }

  destroy(): void {
    if (this.#frame !== undefined) cancelAnimationFrame(this.#frame)
    this.#resize.disconnect()
    this.#canvas.remove()
  }

  #fit(): void {
    const parent = this.#canvas.parentElement
    if (parent === null) return
    const ratio = window.devicePixelRatio || 1
    this.#canvas.width = Math.round(parent.clientWidth * ratio)
    this.#canvas.height = Math.round(parent.clientHeight * ratio)
  }

  #draw(now: number): void {
    this.#frame = undefined
    // A few milliseconds of slack: frames come every 16.7 ms, give or take.
    if (now - this.#drawnAt < DRAW_EVERY_MS - 4) {
      this.#frame = requestAnimationFrame((t) => this.#draw(t))
      return
    }
    this.#drawnAt = now
    const ctx = this.#canvas.getContext('2d')
    if (ctx === null) return
    const ratio = window.devicePixelRatio || 1
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0)
    ctx.clearRect(0, 0, this.#canvas.width, this.#canvas.height)
    const alive: Particle[] = []
    for (const p of this.#particles) {
      const age = now - p.start
      const life = p.flash === undefined ? TRAVEL_MS : FLASH_MS
      if (age > life) continue
      const a = this.#graph.viewportOf(p.from)
      const b = this.#graph.viewportOf(p.to)
      if (a === undefined) continue
      alive.push(p)
      const t = Math.max(0, age / life)
      ctx.globalAlpha = p.flash === undefined ? 1 : 1 - t
      ctx.strokeStyle = p.colour
      ctx.fillStyle = p.colour
      if (p.flash === 'ring') {
        ctx.lineWidth = 2
        ctx.beginPath()
        ctx.arc(a.x, a.y, 8 + 18 * t, 0, 2 * Math.PI)
        ctx.stroke()
      } else if (p.flash === 'cross') {
        const at = b === undefined ? a : { x: (a.x * 2 + b.x) / 3, y: (a.y * 2 + b.y) / 3 }
        const r = 7
        ctx.lineWidth = 3
        ctx.beginPath()
        ctx.moveTo(at.x - r, at.y - r)
        ctx.lineTo(at.x + r, at.y + r)
        ctx.moveTo(at.x + r, at.y - r)
        ctx.lineTo(at.x - r, at.y + r)
        ctx.stroke()
        ctx.font = '600 12px system-ui, sans-serif'
        ctx.fillText('failover', at.x + r + 4, at.y - r)
      } else if (b !== undefined) {
        const e = easeInOut(t)
        const x = a.x + (b.x - a.x) * e
        const y = a.y + (b.y - a.y) * e
        // A short trail behind the dot shows which way it goes.
        const tail = easeInOut(Math.max(0, t - 0.12))
        ctx.lineWidth = 2
        ctx.globalAlpha = 0.5
        ctx.beginPath()
        ctx.moveTo(a.x + (b.x - a.x) * tail, a.y + (b.y - a.y) * tail)
        ctx.lineTo(x, y)
        ctx.stroke()
        ctx.globalAlpha = 1
        ctx.beginPath()
        ctx.arc(x, y, 3.5, 0, 2 * Math.PI)
        ctx.fill()
      }
    }
    ctx.globalAlpha = 1
    this.#particles = alive
    if (alive.length > 0) this.#frame = requestAnimationFrame((t) => this.#draw(t))
  }
}

function easeInOut(t: number): number {
  return t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2
}
