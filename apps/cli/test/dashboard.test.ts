/**
 * The dashboard end to end, in a real browser (Debian's Chromium driven by playwright-core): a
 * swarm of three `node start` processes on 127.0.0.1, the first serving its dashboard. One swarm
 * and one browser for the file; the tests run in order (the last one kills a node).
 */
import { type AxeViolation, axeViolations, type Browser, launchChromium, type Page } from '@p2p-ai/browser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectToNode } from '../src/control/client.js'
import { alive, cleanUp, LOCAL_NODE, run, tempHome } from './helpers.js'

interface Started {
  readonly pid: number
  readonly peerId: string
  readonly addresses: readonly string[]
  readonly dashboard?: { readonly url: string; readonly loginUrl: string; readonly started: boolean }
}

let home: string
let a: Started
let b: Started
let c: Started
let browser: Browser & AsyncDisposable
let page: Page

async function startNode(name: string, extra: readonly string[]): Promise<Started> {
  const r = await run(
    ['node', 'start', '--detach', '--json', '--data-dir', `${home}/${name}`, ...LOCAL_NODE, ...extra],
    {
      home,
    },
  )
  if (r.code !== 0) throw new Error(`node ${name} did not start: ${r.stderr}`)
  return JSON.parse(r.stdout) as Started
}

/** A new one-time login link, from the CLI as a person gets it. */
async function loginUrl(): Promise<string> {
  const r = await run(['dashboard', '--json', '--data-dir', `${home}/a`], { home })
  expect(r.code, r.stderr).toBe(0)
  const d = JSON.parse(r.stdout) as { url: string; loginUrl: string; started: boolean }
  expect(d.started).toBe(false)
  expect(d.url).toBe(a.dashboard?.url)
  return d.loginUrl
}

/** With DASHBOARD_SCREENSHOTS=<dir> (docs/images for the docs), the page as the tests leave it. */
async function screenshot(name: string): Promise<void> {
  const dir = process.env.DASHBOARD_SCREENSHOTS
  if (dir !== undefined && dir !== '') await page.screenshot({ path: `${dir}/${name}.png` })
}

/** Serious WCAG 2.1 A/AA violations, readable in a failed expectation. */
function summary(violations: readonly AxeViolation[]): string[] {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.slice(0, 3).join(', ')}`)
}

beforeAll(async () => {
  home = await tempHome()
  ;[a, b, c, browser] = await Promise.all([
    startNode('a', ['--dashboard-port', '0']),
    startNode('b', []),
    startNode('c', []),
    launchChromium(),
  ])
  // Started side by side, then introduced: b and c dial a through their control API.
  for (const n of ['b', 'c']) await (await connectToNode(`${home}/${n}`)).connect(a.addresses[0]!)
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
}, 60_000)

afterAll(async () => {
  await browser?.[Symbol.asyncDispose]()
  await cleanUp()
})

describe('the dashboard in a browser', () => {
  it('answers nothing without a session, and a login link signs in once', async () => {
    const url = a.dashboard!.url
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const root = await fetch(url)
    expect(root.status).toBe(401)
    expect(await root.text()).toContain('p2p-ai-agents dashboard')
    const api = await fetch(`${url}api/tasks`)
    expect(api.status).toBe(401)
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('ERR_UNAUTHORIZED')
    // A forged cookie is no session.
    const port = new URL(url).port
    const forged = await fetch(`${url}api/live`, { headers: { cookie: `p2p-ai-dashboard-${port}=forged` } })
    expect(forged.status).toBe(401)

    const link = await loginUrl()
    const first = await fetch(link, { redirect: 'manual' })
    expect(first.status).toBe(303)
    expect(first.headers.get('location')).toBe('/')
    expect(first.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/)
    const again = await fetch(link, { redirect: 'manual' })
    expect(again.status).toBe(401)
  })

  it('shows every node of the swarm, and passes the WCAG 2.1 AA checks of axe-core', async () => {
    await page.goto(await loginUrl())
    // The token leaves the address bar at once.
    expect(new URL(page.url()).search).toBe('')
    await expect.poll(() => page.getByTestId('connection').textContent(), { timeout: 10_000 }).toBe('live')
    const list = page.getByTestId('node-list').locator('li')
    await expect.poll(() => list.count(), { timeout: 10_000 }).toBe(3)
    const text = await page.getByTestId('node-list').textContent()
    for (const n of [a, b, c]) expect(text).toContain(n.peerId.slice(-8))
    expect(summary(await axeViolations(page))).toEqual([])
    await screenshot('dashboard-swarm')
    for (const tab of ['Tasks', 'Metrics']) {
      await page.getByRole('tab', { name: tab }).click()
      expect(summary(await axeViolations(page)), tab).toEqual([])
    }
  })

  it('submits a task from the form and shows its result, verified by the signature of the peer that ran it', async () => {
    await page.getByRole('tab', { name: 'Tasks' }).click()
    const form = page.locator('form.submit-form')
    await form.getByLabel('Type').fill('mock')
    await form.getByLabel('Target').selectOption(b.peerId)
    await form.getByLabel('Input').fill('hello from the dashboard')
    await form.getByRole('button', { name: 'Submit' }).click()
    const result = page.getByTestId('submit-result')
    await result.waitFor({ timeout: 15_000 })
    expect(await page.getByTestId('submit-run').getAttribute('data-status')).toBe('COMPLETED')
    expect(await result.locator('[data-verified]').getAttribute('data-verified')).toBe('signed')
    expect(await result.textContent()).toContain(b.peerId.slice(-8))
    // The table lists it too, run by that peer.
    const id = await page.getByTestId('submit-run').getAttribute('data-task')
    const row = page.getByTestId('task-table').locator(`tr[data-task="${id}"]`)
    await row.waitFor({ timeout: 5_000 })
    await expect.poll(() => row.textContent(), { timeout: 5_000 }).toContain('completed')
    // Its detail: the attempt that answered, on that peer.
    await row.getByRole('button').click()
    const detail = page.locator(`section.task-detail[data-task="${id}"]`)
    await detail.waitFor({ timeout: 5_000 })
    expect(await detail.locator('[data-verified]').getAttribute('data-verified')).toBe('signed')
    // Its trace, as both nodes recorded it: a lane for this node's attempt, then one for b, which
    // took the task in, queued and ran it.
    const lanes = detail.getByTestId('trace-timeline').locator('section.lane')
    await lanes.first().waitFor({ timeout: 10_000 })
    expect(await lanes.count()).toBe(2)
    const [first, second] = await lanes.allTextContents()
    expect(first).toContain(`…${a.peerId.slice(-8)} (this node)`)
    expect(second).toContain(`hop 1 …${b.peerId.slice(-8)}`)
    for (const span of ['serve', 'queue', 'run']) expect(second).toContain(span)
    await screenshot('dashboard-tasks')
    await lanes.last().scrollIntoViewIfNeeded()
    await screenshot('dashboard-trace')
  })

  it('starts the dashboard of a node that did not serve it, once, and says so when its port is taken', async () => {
    const taken = Number(new URL(a.dashboard!.url).port)
    const refused = await run(['dashboard', '--port', String(taken), '--data-dir', `${home}/b`], { home })
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(`port ${taken} on 127.0.0.1 is already in use`)
    expect(refused.stderr).toMatch(/hint: give the dashboard another port/)
    const first = await run(['dashboard', '--json', '--port', '0', '--data-dir', `${home}/b`], { home })
    expect(first.code, first.stderr).toBe(0)
    const started = JSON.parse(first.stdout) as { url: string; loginUrl: string; started: boolean }
    expect(started.started).toBe(true)
    const again = JSON.parse(
      (await run(['dashboard', '--json', '--data-dir', `${home}/b`], { home })).stdout,
    ) as {
      url: string
      loginUrl: string
      started: boolean
    }
    expect(again).toMatchObject({ url: started.url, started: false })
    expect(again.loginUrl).not.toBe(started.loginUrl)
    const status = JSON.parse(
      (await run(['node', 'status', '--json', '--data-dir', `${home}/b`], { home })).stdout,
    )
    expect(status.dashboard).toEqual({ url: started.url })
  })

  it('drops a node that dies within 5 s', async () => {
    await page.getByRole('tab', { name: 'Swarm' }).click()
    // The task of the form went along the edge to b and back: the flow shows both ways.
    const flow = await page.locator('ol.flow-list').textContent()
    expect(flow).toMatch(new RegExp(`mock \\S+ sent to …${b.peerId.slice(-8)}`))
    expect(flow).toMatch(new RegExp(`mock \\S+ answered by …${b.peerId.slice(-8)}`))
    const list = page.getByTestId('node-list').locator('li')
    expect(await list.count()).toBe(3)
    const killedAt = Date.now()
    process.kill(c.pid, 'SIGKILL')
    await expect.poll(() => list.count(), { timeout: 5_000, interval: 50 }).toBe(2)
    // The graph too: it takes changes in a few times a second.
    const graph = page.locator('.graph')
    await expect.poll(() => graph.getAttribute('data-nodes'), { timeout: 5_000, interval: 50 }).toBe('2')
    expect(Date.now() - killedAt).toBeLessThan(5_000)
    expect(await page.getByTestId('node-list').textContent()).not.toContain(c.peerId.slice(-8))
    expect(alive(c.pid)).toBe(false)
  })
})
