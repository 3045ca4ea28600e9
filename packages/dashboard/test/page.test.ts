/**
 * The page in Debian's Chromium (playwright-core), with a synthetic swarm of 1,001 nodes behind
 * the same source interface a node gives: every node drawn, the keyboard alone gets around, and a
 * task's detail shows its trace timeline hop by hop when the node records traces. One browser and
 * one dashboard for the file.
 */
import { axeViolations, type Browser, launchChromium, type Page } from '@p2p-ai/browser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Dashboard,
  type DashboardSource,
  startDashboard,
  syntheticSwarm,
  type TaskDetailJson,
  type TaskStreamJson,
  type TraceJson,
} from '../src/index.js'

const swarm = syntheticSwarm({ peers: 100, reachedPerPeer: 9, seed: 3 })
// Churn would change the count under the test: the swarm stands still with every peer up (a few
// steps only make tasks to look at), but for the peer a test takes away and gives back.
const peers = swarm.peers()
for (let i = 0; i < 3; i++) swarm.step()
let connected = peers
const still: DashboardSource = { ...swarm, peers: () => connected }

/** A trace of a task forwarded through a relay: requester, relay, provider. */
function traceOf(taskId: string): TraceJson {
  const [relay, provider] = [peers[0]!.peerId, peers[1]!.peerId]
  const self = swarm.self().peerId
  const span = (
    spanId: string,
    node: string,
    name: string,
    startUs: number,
    endUs: number,
    parentId?: string,
  ) => ({
    spanId,
    node,
    name,
    kind: 'internal',
    startUs,
    endUs,
    status: 'ok',
    ...(parentId === undefined ? {} : { parentId }),
    attributes: { 'p2p_ai.task.id': taskId },
  })
  return {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    self,
    spans: [
      span('0000000000000001', self, 'task.submit', 0, 9_000),
      span('0000000000000002', relay, 'task.forward', 1_000, 8_000, '0000000000000001'),
      span('0000000000000003', provider, 'task.run', 2_000, 7_000, '0000000000000002'),
    ],
    missing: [],
  }
}

/** The page as built (`pnpm build`): these tests import the server from its sources. */
const BUILT_PAGE = new URL('../dist/ui/', import.meta.url).pathname

/** What the page's focus checks read, run in the page (this package's tests compile without the DOM's types). */
interface ActiveElement {
  document: { activeElement: { id: string } | null }
}

let dashboard: Dashboard
let browser: Browser & AsyncDisposable
let page: Page

/**
 * A `generate` task that streams its text, fails over once midway (the text so far is taken back),
 * and ends verified by its provider's signature: as a node's streamed generation goes.
 */
let generation: TaskDetailJson | undefined
function generationDetail(status: 'RUNNING' | 'COMPLETED', text?: string): TaskDetailJson {
  const provider = peers[1]!.peerId
  return {
    task: {
      id: 'generate-1',
      type: 'generate',
      status,
      side: 'submitted',
      peer: provider,
      queuedAt: Date.now(),
      ...(status === 'COMPLETED' ? { finishedAt: Date.now() + 900, latencyMs: 900, output: { text } } : {}),
    },
    attempts: [],
    ...(status === 'COMPLETED' ? { provider, verified: 'signed' as const } : {}),
  }
}
async function* streamGeneration(): AsyncGenerator<TaskStreamJson> {
  const pause = () => new Promise((r) => setTimeout(r, 80))
  for (const text of ['Rd', ' gr']) {
    await pause()
    yield { type: 'delta', text }
  }
  yield {
    type: 'restart',
    reason: { code: 'ERR_PEER_UNREACHABLE', message: 'the provider went away' },
    peer: peers[0]!.peerId,
    discarded: 5,
  }
  for (const text of ['Red', ', green', ' and blue.']) {
    await pause()
    yield { type: 'delta', text }
  }
  generation = generationDetail('COMPLETED', 'Red, green and blue.')
  yield { type: 'end', detail: generation }
}

beforeAll(async () => {
  const traced: DashboardSource = {
    ...still,
    tasks: {
      ...still.tasks,
      trace: async (id) => traceOf(id),
      async submit(request, options) {
        if (request.type !== 'generate') return still.tasks.submit(request, options)
        generation = generationDetail('RUNNING')
        return generation
      },
      detail: async (id) => (id === generation?.task.id ? generation : still.tasks.detail(id)),
      stream: (id, signal) =>
        id === generation?.task.id ? streamGeneration() : still.tasks.stream(id, signal),
    },
  }
  ;[dashboard, browser] = await Promise.all([
    startDashboard({ source: traced, port: 0, assetsDir: BUILT_PAGE }),
    launchChromium(),
  ])
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  await page.goto(dashboard.loginUrl())
}, 30_000)

afterAll(async () => {
  await browser?.[Symbol.asyncDispose]()
  await dashboard?.close()
})

describe('the page', () => {
  it('draws all 1,001 nodes of a large swarm and lists them', async () => {
    const graph = page.locator('.graph')
    await expect.poll(() => graph.getAttribute('data-nodes'), { timeout: 15_000 }).toBe('1001')
    expect(await page.getByTestId('node-counts').textContent()).toMatch(
      /^1001 nodes: this node, 100 connected peers, 900 reached/,
    )
    // The list holds the first 150 (search finds the rest): 150 buttons, not 1,001.
    expect(await page.getByTestId('node-list').locator('li').count()).toBe(150)
    expect(await axeViolations(page)).toEqual([])
  })

  it('takes a peer that leaves out of the graph with the nodes it reached, and back when it returns', async () => {
    const graph = page.locator('.graph')
    const gone = peers[0]!
    connected = peers.slice(1)
    const left = String(1001 - 1 - (gone.capabilities?.reach?.length ?? 0))
    await expect.poll(() => graph.getAttribute('data-nodes'), { timeout: 5_000, interval: 50 }).toBe(left)
    connected = peers
    await expect.poll(() => graph.getAttribute('data-nodes'), { timeout: 5_000, interval: 50 }).toBe('1001')
    expect(await graph.getAttribute('data-edges')).toBe('1000')
  })

  it('gets around with the keyboard alone: tabs with arrows, a node from the list, search with /', async () => {
    await page.locator('#tab-swarm').focus()
    await page.keyboard.press('ArrowRight')
    expect(await page.locator('#tab-tasks').getAttribute('aria-selected')).toBe('true')
    expect(
      await page.evaluate(() => (globalThis as unknown as ActiveElement).document.activeElement?.id),
    ).toBe('tab-tasks')
    await page.keyboard.press('ArrowLeft')
    expect(await page.locator('#tab-swarm').getAttribute('aria-selected')).toBe('true')

    await page.getByTestId('node-list').locator('button').first().focus()
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    const second = await page.getByTestId('node-list').locator('button').nth(1).getAttribute('data-peer')
    await expect.poll(() => page.locator('section.node-card').getAttribute('data-peer')).toBe(second)

    await page.locator('body').click({ position: { x: 5, y: 5 } })
    await page.keyboard.press('/')
    // The search box takes the focus once the Swarm tab is shown.
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as ActiveElement).document.activeElement?.id))
      .toBe('node-search')
    await page.keyboard.type(peers[42]!.peerId.slice(-10))
    await expect.poll(() => page.getByTestId('node-list').locator('li').count()).toBe(1)
  })

  it('shows alerts as they rise and clear, beside the metrics charts', async () => {
    await page.getByRole('tab', { name: 'Metrics' }).click()
    const panel = page.locator('section.alerts')
    expect(await panel.textContent()).toContain('No alert is raised')
    swarm.raise({ name: 'peers_low', message: '1 connected peer, below 2', value: 1, threshold: 2 })
    await expect
      .poll(() => panel.locator('li.alert-active').textContent(), { timeout: 5_000 })
      .toContain('peers_low')
    swarm.clear('peers_low')
    await expect.poll(() => panel.textContent(), { timeout: 5_000 }).toContain('No alert is raised')
    const changes = await panel.locator('table.alert-table tbody tr').allTextContents()
    expect(changes[0]).toContain('cleared')
    expect(changes[1]).toContain('raised')
    // Throughput, latency, failures, peers: one chart each.
    expect(await page.locator('#panel-metrics canvas').count()).toBeGreaterThanOrEqual(4)
    expect(await axeViolations(page)).toEqual([])
  })

  it('follows a submitted task as it streams, through a failover, to its verified result', async () => {
    await page.getByRole('tab', { name: 'Tasks' }).click()
    const form = page.locator('form.submit-form')
    await form.getByLabel('Type').fill('generate')
    await form.getByLabel('Input').fill('Name three colours.')
    await form.getByRole('button', { name: 'Submit' }).click()
    const run = page.getByTestId('submit-run')
    await page.getByTestId('submit-result').waitFor({ timeout: 20_000 })
    expect(await run.getAttribute('data-status')).toBe('COMPLETED')
    expect(await run.locator('pre.streamed').textContent()).toBe('Red, green and blue.')
    expect(await run.textContent()).toMatch(/Failover: …\w+ failed \(ERR_PEER_UNREACHABLE\)/)
    expect(await run.locator('[data-verified]').getAttribute('data-verified')).toBe('signed')
  })

  it("shows a task's trace timeline hop by hop", async () => {
    const [task] = await swarm.tasks.list({ limit: 1 })
    await page.goto(`${dashboard.url}#tasks/${task!.id}`)
    const timeline = page.getByTestId('trace-timeline')
    await timeline.waitFor({ timeout: 10_000 })
    expect(await timeline.locator('section.lane').count()).toBe(3)
    const text = await timeline.textContent()
    expect(text).toContain('3 spans on 3 nodes')
    for (const name of ['task.submit', 'task.forward', 'task.run']) expect(text).toContain(name)
    expect(await axeViolations(page)).toEqual([])
  })
})
