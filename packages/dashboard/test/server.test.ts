/**
 * The dashboard's server over real HTTP on 127.0.0.1 port 0, reading a synthetic swarm through the
 * same source interface a node gives: nothing without a session, a login token good once, the
 * live feed's first picture and its diffs, the task API's coded errors, and the trace seam.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  type Dashboard,
  type DashboardSource,
  type LiveEvent,
  startDashboard,
  syntheticSwarm,
  type TraceJson,
} from '../src/index.js'

/** The page as built (`pnpm build`): these tests import the server from its sources. */
const BUILT_PAGE = new URL('../dist/ui/', import.meta.url).pathname

const open: Dashboard[] = []
afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
})

async function serve(
  source: DashboardSource = syntheticSwarm({ peers: 5, reachedPerPeer: 2 }),
): Promise<Dashboard> {
  const d = await startDashboard({ source, port: 0, topologyMs: 50, assetsDir: BUILT_PAGE })
  open.push(d)
  return d
}

/** A session cookie, from a login link. */
async function signIn(d: Dashboard): Promise<string> {
  const res = await fetch(d.loginUrl(), { redirect: 'manual' })
  expect(res.status).toBe(303)
  return res.headers.get('set-cookie')!.split(';')[0]!
}

/** The live feed's events, read until `until` says stop. */
async function readLive(
  d: Dashboard,
  cookie: string,
  until: (events: LiveEvent[]) => boolean,
): Promise<LiveEvent[]> {
  const controller = new AbortController()
  const res = await fetch(`${d.url}api/live`, { headers: { cookie }, signal: controller.signal })
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
  const events: LiveEvent[] = []
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end !== -1) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .find((l) => l.startsWith('data: '))
      if (data !== undefined) events.push(JSON.parse(data.slice(6)) as LiveEvent)
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf('\n\n')
    }
    if (until(events)) break
  }
  controller.abort()
  return events
}

describe('startDashboard', () => {
  it('serves nothing without a session: the page asks for a login, the API answers 401', async () => {
    const d = await serve()
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const page = await fetch(d.url)
    expect(page.status).toBe(401)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    for (const path of ['api/live', 'api/tasks', 'api/history', 'index.html']) {
      expect((await fetch(`${d.url}${path}`)).status, path).toBe(401)
    }
  })

  it('trades a login token for a session once, and drops the token from the address', async () => {
    const d = await serve()
    const link = d.loginUrl()
    const res = await fetch(link.replace('/?', '/?tab=tasks&'), { redirect: 'manual' })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/?tab=tasks')
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly; SameSite=Strict; Path=\//)
    const page = await fetch(d.url, { headers: { cookie: cookie.split(';')[0]! } })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('<script')
    // Used: good no more, by link or by the login form.
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(401)
    const form = await fetch(`${d.url}login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${new URL(link).searchParams.get('token')}`,
      redirect: 'manual',
    })
    expect(form.status).toBe(401)
  })

  it('refuses requests addressed to another host name (DNS rebinding) and writes from other sites', async () => {
    const d = await serve()
    const cookie = await signIn(d)
    const { request } = await import('node:http')
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(d.url, { headers: { host: `evil.example:${d.port}`, cookie } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(403)
    const post = await fetch(`${d.url}api/tasks`, {
      method: 'POST',
      headers: { cookie, origin: 'http://evil.example', 'content-type': 'application/json' },
      body: '{}',
    })
    expect(post.status).toBe(403)
  })

  it('sends the whole topology first, then only what changes', async () => {
    const swarm = syntheticSwarm({ peers: 5, reachedPerPeer: 2 })
    const d = await serve(swarm)
    const cookie = await signIn(d)
    let stepped = false
    const events = await readLive(d, cookie, (seen) => {
      if (!stepped && seen.length > 0) {
        stepped = true
        // Enough steps that a peer surely leaves or comes back, and tasks move.
        for (let i = 0; i < 60; i++) swarm.step()
      }
      return seen.some((e) => e.type === 'topology') && seen.some((e) => e.type === 'flow')
    })
    const hello = events[0]!
    if (hello.type !== 'hello') throw new Error(`first event: ${hello.type}`)
    expect(hello.topology.nodes).toHaveLength(1 + 5 * 3)
    expect(hello.topology.edges).toHaveLength(5 * 3)
    expect(hello.traces).toBe(false)
    expect(hello.reach).toMatch(/two links/)
    const diff = events.find((e) => e.type === 'topology')
    if (diff?.type !== 'topology') throw new Error('no topology diff')
    expect(diff.removeNodes.length + diff.upsertNodes.length).toBeGreaterThan(0)
    const flow = events.find((e) => e.type === 'flow')
    if (flow?.type !== 'flow') throw new Error('no flow')
    expect(flow.events[0]!.kind).toBe('sent')
    // The page went away: the feed lets go of it (and of the node's events).
    await expect.poll(() => d.pages).toBe(0)
  })

  it('answers bad task requests with a coded error and a hint', async () => {
    const d = await serve()
    const cookie = await signIn(d)
    const post = (body: unknown, type = 'application/json') =>
      fetch(`${d.url}api/tasks`, {
        method: 'POST',
        headers: { cookie, 'content-type': type },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
    const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code
    expect(await codeOf(await post('{not json'))).toBe('ERR_BAD_REQUEST')
    expect(await codeOf(await post({ type: 'mock' }))).toBe('ERR_BAD_REQUEST')
    expect(await codeOf(await post({ type: 'mock', input: {}, redundancy: 99 }))).toBe('ERR_BAD_REQUEST')
    expect((await post({}, 'text/plain')).status).toBe(415)
    // The source's own refusal passes through with its code.
    const refused = await post({ type: 'mock', input: { text: 'x' } })
    expect(refused.status).toBe(400)
    expect(await codeOf(refused)).toBe('ERR_UNSUPPORTED_TASK_TYPE')
    expect((await fetch(`${d.url}api/tasks?status=NOPE`, { headers: { cookie } })).status).toBe(400)
    expect(await codeOf(await fetch(`${d.url}api/tasks/nope`, { headers: { cookie } }))).toBe(
      'ERR_TASK_NOT_FOUND',
    )
  })

  it('shows a task trace when the node records traces, and says so when it does not', async () => {
    const plain = syntheticSwarm({ peers: 2, reachedPerPeer: 0 })
    plain.step()
    const id = (await plain.tasks.list({ limit: 1 }))[0]!.id
    const without = await serve(plain)
    const c1 = await signIn(without)
    const none = await fetch(`${without.url}api/tasks/${id}/trace`, { headers: { cookie: c1 } })
    expect(none.status).toBe(501)
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('ERR_TRACING_UNAVAILABLE')

    const trace: TraceJson = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      self: plain.self().peerId,
      spans: [
        {
          spanId: '00f067aa0ba902b7',
          node: plain.self().peerId,
          name: 'task.submit',
          kind: 'client',
          startUs: 0,
          endUs: 900,
          status: 'ok',
        },
      ],
      missing: [],
    }
    const traced: DashboardSource = {
      ...plain,
      tasks: { ...plain.tasks, trace: async (t) => (t === id ? trace : undefined) },
    }
    const withTraces = await serve(traced)
    const c2 = await signIn(withTraces)
    const res = await fetch(`${withTraces.url}api/tasks/${id}/trace`, { headers: { cookie: c2 } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(trace)
  })

  it('says plainly when its port is taken', async () => {
    const d = await serve()
    await expect(
      startDashboard({ source: syntheticSwarm({ peers: 1 }), port: d.port }),
    ).rejects.toMatchObject({
      code: 'ERR_DASHBOARD_PORT_IN_USE',
    })
  })
})
