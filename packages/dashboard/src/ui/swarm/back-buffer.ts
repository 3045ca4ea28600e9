/**
 * Draws the graph off the frame, then shows it once drawn. Sigma redraws the whole graph for any
 * change, and without a GPU (WebGL on SwiftShader, the CPU) that drawing takes a good tenth of a
 * second for a thousand nodes. Drawn into the canvas, it holds up the frame: the compositor reads
 * the canvas back and waits for the drawing to finish, and the page stutters each time the swarm
 * changes. Drawn into a framebuffer of its own instead, the canvas is untouched, the GPU process
 * draws while the page goes on at 60 frames a second, and once a fence says the drawing is done,
 * one copy (`blitFramebuffer`) puts it on the canvas. With a GPU the same costs a frame of delay.
 */

/** What sigma draws with: its WebGL 2 context. */
type Gl = WebGL2RenderingContext

export class BackBuffer {
  readonly #gl: Gl
  #fbo: WebGLFramebuffer | null = null
  #colour: WebGLRenderbuffer | null = null
  #width = 0
  #height = 0
  #sync: WebGLSync | null = null
  #frame: number | undefined
  #drawing = false
  #shown: (() => void) | undefined

  constructor(gl: Gl) {
    this.#gl = gl
    gl.canvas.addEventListener('webglcontextlost', this.#lost)
  }

  /** A lost context keeps none of what was made on it (sigma restores its own; ours is remade). */
  readonly #lost = (): void => {
    this.#fbo = null
    this.#colour = null
    this.#sync = null
    this.discard()
  }

  /** True while `draw` runs its renderer: a render seen then is this one's, not a direct one. */
  get drawing(): boolean {
    return this.#drawing
  }

  /**
   * Runs `render` (which draws into the default framebuffer, as sigma does) into the back buffer,
   * and shows the result on the canvas once the GPU has drawn it; then calls `shown`. When there
   * is nothing to draw into (a canvas of no size, a lost context), `render` draws directly.
   */
  draw(render: () => void, shown?: () => void): void {
    const gl = this.#gl
    const fbo = gl.isContextLost() ? null : this.#fit(gl.drawingBufferWidth, gl.drawingBufferHeight)
    if (fbo === null) {
      this.discard()
      render()
      shown?.()
      return
    }
    // Sigma binds `null` for the canvas: while it draws, that means the back buffer. Only on this
    // context, only for this call.
    const bind = gl.bindFramebuffer
    gl.bindFramebuffer = (target, framebuffer) => bind.call(gl, target, framebuffer ?? fbo)
    this.#drawing = true
    try {
      render()
    } finally {
      this.#drawing = false
      // The own property goes; the prototype's method shows through again.
      delete (gl as Partial<Pick<Gl, 'bindFramebuffer'>>).bindFramebuffer
      bind.call(gl, gl.FRAMEBUFFER, null)
    }
    if (this.#sync !== null) gl.deleteSync(this.#sync)
    this.#sync = gl.fenceSync(gl.SYNC_GPU_COMMANDS_COMPLETE, 0)
    // Sent to the GPU process now, so it draws while this page goes on.
    gl.flush()
    this.#shown = shown
    this.#frame ??= requestAnimationFrame(() => this.#poll())
  }

  /** The canvas was drawn directly since: what waits here is older, and is dropped. */
  discard(): void {
    if (this.#sync !== null) this.#gl.deleteSync(this.#sync)
    this.#sync = null
    if (this.#frame !== undefined) cancelAnimationFrame(this.#frame)
    this.#frame = undefined
    const shown = this.#shown
    this.#shown = undefined
    shown?.()
  }

  kill(): void {
    this.#shown = undefined
    this.discard()
    const gl = this.#gl
    gl.canvas.removeEventListener('webglcontextlost', this.#lost)
    if (gl.isContextLost()) return
    gl.deleteFramebuffer(this.#fbo)
    gl.deleteRenderbuffer(this.#colour)
    this.#fbo = null
    this.#colour = null
  }

  #poll(): void {
    this.#frame = undefined
    const gl = this.#gl
    if (this.#sync === null) return
    if (gl.isContextLost()) {
      this.#sync = null
      return
    }
    // The status is read once per task (WebGL's rule), so a frame is as often as it can change.
    if (gl.getSyncParameter(this.#sync, gl.SYNC_STATUS) !== gl.SIGNALED) {
      this.#frame = requestAnimationFrame(() => this.#poll())
      return
    }
    gl.deleteSync(this.#sync)
    this.#sync = null
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, this.#fbo)
    gl.bindFramebuffer(gl.DRAW_FRAMEBUFFER, null)
    const [w, h] = [this.#width, this.#height]
    gl.blitFramebuffer(0, 0, w, h, 0, 0, w, h, gl.COLOR_BUFFER_BIT, gl.NEAREST)
    gl.bindFramebuffer(gl.FRAMEBUFFER, null)
    const shown = this.#shown
    this.#shown = undefined
    shown?.()
  }

  /** The back buffer, as large as the canvas's drawing buffer; null when that has no size. */
  #fit(width: number, height: number): WebGLFramebuffer | null {
    if (width === 0 || height === 0) return null
    const gl = this.#gl
    if (this.#fbo !== null && width === this.#width && height === this.#height) return this.#fbo
    this.#fbo ??= gl.createFramebuffer()
    this.#colour ??= gl.createRenderbuffer()
    gl.bindRenderbuffer(gl.RENDERBUFFER, this.#colour)
    gl.renderbufferStorage(gl.RENDERBUFFER, gl.RGBA8, width, height)
    gl.bindRenderbuffer(gl.RENDERBUFFER, null)
    gl.bindFramebuffer(gl.FRAMEBUFFER, this.#fbo)
    gl.framebufferRenderbuffer(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0, gl.RENDERBUFFER, this.#colour)
    gl.bindFramebuffer(gl.FRAMEBUFFER, null)
    this.#width = width
    this.#height = height
    return this.#fbo
  }
}
