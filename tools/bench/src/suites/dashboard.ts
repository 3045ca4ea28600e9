/**
 * The dashboard with a swarm of 1,001 nodes (this node, 100 peers, 9 neighbours announced by
 * each), fed by `syntheticSwarm` through the same source, topology, live feed and page a running
 * node uses, in Debian's Chromium (headless; WebGL on SwiftShader, the CPU, as there is no GPU
 * here: a desktop browser with a GPU draws faster). While frames are measured, the swarm churns (a
 * peer leaves or returns about every two seconds) and five tasks a tick move along its edges.
 *
 * - load: from navigating to the login link to the graph drawn with every node (two frames after
 *   the page counts 1,001 nodes and the graph shows them);
 * - frames: requestAnimationFrame intervals over three seconds of that live swarm, and how many of
 *   them took over 50 ms (a stutter a person sees).
 *
 * With DASHBOARD_SCREENSHOTS=<dir>, the last round saves the page as dashboard-1000-nodes.png.
 */
import { join } from 'node:path'
import { type Browser, launchChromium } from '@p2p-ai/browser'
import { type Dashboard, type SyntheticSwarm, startDashboard, syntheticSwarm } from '@p2p-ai/dashboard'
import { defineSuite, measure } from '../runner.js'

interface State {
  swarm: SyntheticSwarm
  dashboard: Dashboard
  browser: Browser & AsyncDisposable
}

const FRAME_WINDOW_MS = 3_000
/** A frame longer than this is a stutter a person sees. */
const LONG_FRAME_MS = 50

/**
 * The page's globals, for functions that run in the page (serialised: they may use nothing of this
 * module, only a cast), as this package compiles without the DOM's types.
 */
interface PageGlobals {
  document: {
    querySelector(s: string): { textContent: string | null; getAttribute(name: string): string | null } | null
  }
  requestAnimationFrame(fn: (now: number) => void): void
}

async function openPage(s: State) {
  const page = await s.browser.newPage({ viewport: { width: 1400, height: 900 } })
  const t0 = performance.now()
  await page.goto(s.dashboard.loginUrl())
  // The count in the heading, and the graph on the canvas with as many nodes (`data-nodes` is set
  // once a redraw is shown): the list can be there well before the graph is drawn.
  await page.waitForFunction(
    (n) => {
      const { document } = globalThis as unknown as PageGlobals
      return (
        document.querySelector('[data-testid="node-counts"]')?.textContent?.startsWith(`${n} nodes`) ===
          true && document.querySelector('.graph')?.getAttribute('data-nodes') === String(n)
      )
    },
    s.swarm.size,
    { timeout: 60_000, polling: 'raf' },
  )
  await page.evaluate(
    () =>
      new Promise((r) =>
        (globalThis as unknown as PageGlobals).requestAnimationFrame(() =>
          (globalThis as unknown as PageGlobals).requestAnimationFrame(r),
        ),
      ),
  )
  return { page, loadMs: performance.now() - t0 }
}

export default defineSuite<State>({
  name: 'dashboard',
  description:
    'the dashboard page with a synthetic swarm of 1,001 nodes in headless Chromium (software WebGL)',
  setup: async () => {
    const swarm = syntheticSwarm({ peers: 100, reachedPerPeer: 9 })
    const dashboard = await startDashboard({ source: swarm, port: 0 })
    const browser = await launchChromium()
    return { swarm, dashboard, browser }
  },
  teardown: async (s) => {
    s.swarm.stop()
    await s.browser[Symbol.asyncDispose]()
    await s.dashboard.close()
  },
  cases: (s) => [
    measure(
      'load, 1,001-node graph',
      async () => {
        const { page, loadMs } = await openPage(s)
        await page.close()
        return { loadMs }
      },
      { rounds: 5, description: 'login link to the graph drawn with every node (a fresh page each round)' },
    ),
    measure(
      'frames, 1,001 nodes live',
      async (ctx) => {
        const { page } = await openPage(s)
        s.swarm.start(200)
        const window = ctx.quick ? 1_000 : FRAME_WINDOW_MS
        const frames = await page.evaluate(
          (ms) =>
            new Promise<number[]>((resolve) => {
              const { requestAnimationFrame } = globalThis as unknown as PageGlobals
              const deltas: number[] = []
              let last = performance.now()
              const end = last + ms
              const tick = (now: number) => {
                deltas.push(now - last)
                last = now
                if (now < end) requestAnimationFrame(tick)
                else resolve(deltas)
              }
              requestAnimationFrame(tick)
            }),
          window,
        )
        const shots = process.env.DASHBOARD_SCREENSHOTS
        if (shots !== undefined && ctx.round >= 0) {
          await page.screenshot({ path: join(shots, 'dashboard-1000-nodes.png') })
        }
        s.swarm.stop()
        await page.close()
        const sorted = frames.slice(1).sort((x, y) => x - y)
        const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
        return {
          frameP50Ms: at(0.5),
          frameP95Ms: at(0.95),
          frameMaxMs: sorted.at(-1) ?? 0,
          fps: (sorted.length * 1000) / window,
          longFrames: sorted.filter((ms) => ms > LONG_FRAME_MS).length,
        }
      },
      {
        rounds: 3,
        units: { fps: 'frames/s', longFrames: 'frames' },
        description: 'requestAnimationFrame intervals while the swarm churns and tasks flow',
      },
    ),
  ],
})
