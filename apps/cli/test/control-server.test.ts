import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { openaiApi } from '@p2p-ai/node/openai'
import { afterEach, describe, expect, it } from 'vitest'
import { CLOSE_GRACE_MS, MAX_REQUEST_BYTES, OPENAI_PREFIX } from '../src/constants.js'
import { ControlClient } from '../src/control/client.js'
import type {
  NetworkTestJson,
  SnapshotJson,
  StressReportJson,
  TraceJson,
} from '../src/control/debug-types.js'
import {
  CONTROL_ROUTES,
  type ControlServer,
  SERVER_ERROR_CODES,
  startControlServer,
} from '../src/control/server.js'
import type { ControlTarget } from '../src/control/target.js'
import type { JobJson, LogLevel, NodeEventJson, StatusJson, TaskJson } from '../src/control/types.js'
import { STATUS_BY_CODE } from '../src/error-policy.js'
import { ControlApiError } from '../src/errors.js'

const TOKEN = 'a'.repeat(64)
const BANNED = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'

function fakeJob(id: string, type: string): JobJson {
  return {
    id,
    type,
    status: 'RUNNING',
    source: { kind: 'jsonl', path: '/data/docs.jsonl' },
    output: '/data/out.jsonl',
    order: 'input',
    failFast: false,
    createdAt: 1,
    items: { done: 0, failed: 0, inFlight: 0 },
  }
}

/** A target that keeps tasks in memory and finishes each when told to. */
function fakeTarget() {
  const tasks = new Map<string, TaskJson>()
  const jobs = new Map<string, JobJson>()
  const waiters = new Map<string, () => void>()
  let n = 0
  let shutdowns = 0
  let hang = false
  const calls: Array<Record<string, unknown>> = []
  let level: LogLevel = 'info'
  const listeners = new Set<(event: NodeEventJson) => void>()
  const target: ControlTarget = {
    status: () => ({ peerId: '12D3KooWfake', state: 'ACTIVE' }) as unknown as StatusJson,
    peers: () => [],
    unban: (peerId) => ({ peerId, unbanned: peerId === BANNED }),
    connect: async (address) => {
      if (!address.includes('/p2p/'))
        throw Object.assign(new Error('address must end in /p2p/<peerId>'), { code: 'ERR_INVALID_MULTIADDR' })
    },
    submit: async (req) => {
      if (req.type === 'boom') throw new Error('something broke')
      if (req.type !== 'echo')
        throw Object.assign(new Error(`no backend runs task type "${req.type}"`), {
          code: 'ERR_UNSUPPORTED_TASK_TYPE',
        })
      const task: TaskJson = {
        id: `t${++n}`,
        type: req.type,
        status: 'RUNNING',
        priority: 0,
        backend: 'fake',
        queuedAt: n,
      }
      tasks.set(task.id, task)
      return task
    },
    task: (id) => tasks.get(id),
    wait: async (id, timeoutMs, signal) => {
      const t = tasks.get(id)
      if (t === undefined || t.status !== 'RUNNING') return t
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs)
        signal.addEventListener('abort', () => resolve(), { once: true })
        waiters.set(id, () => {
          clearTimeout(timer)
          resolve()
        })
      })
      return tasks.get(id)
    },
    list: (q) => [...tasks.values()].reverse().slice(q.offset, q.offset + q.limit),
    cancel: (id) => {
      const t = tasks.get(id)
      if (t === undefined)
        throw Object.assign(new Error(`no task with id "${id}"`), { code: 'ERR_TASK_NOT_FOUND' })
      const cancelled = t.status === 'RUNNING'
      if (cancelled)
        tasks.set(id, {
          ...t,
          status: 'CANCELLED',
          error: { code: 'ERR_TASK_CANCELLED', message: 'cancelled' },
        })
      waiters.get(id)?.()
      return { cancelled, task: tasks.get(id)! }
    },
    models: () => (hang ? new Promise<never>(() => {}) : Promise.resolve([])),
    addModel: async (req) => {
      if (req.path !== '/models/tiny.gguf')
        throw Object.assign(new Error(`${req.path} does not exist`), { code: 'ERR_MODEL_NOT_FOUND' })
      return {
        name: req.name,
        format: 'gguf',
        path: req.path,
        file: req.path,
        otherFiles: [],
        sha256: '0'.repeat(64),
        sizeBytes: 1,
        taskTypes: ['generate'],
        replaced: false,
        served: true,
      }
    },
    scanModels: async () => {},
    pullFromSwarm: async (req, { onProgress }) => {
      if (req.name !== 'tiny')
        throw Object.assign(new Error(`no connected peer announces model "${req.name}"`), {
          code: 'ERR_MODEL_NOT_IN_SWARM',
        })
      onProgress({ file: 'model.onnx', receivedBytes: 1024, totalBytes: 2048 })
      onProgress({ file: 'model.onnx', receivedBytes: 2048, totalBytes: 2048 })
      return {
        name: 'tiny',
        cid: 'bafybeidr7omxj4tps2cs2q6ngczpfuq7ujvt6cgg4ys4bswt4js4qzoii4',
        dir: '/data/models/tiny',
        model: 'model.onnx',
        files: { 'model.onnx': { sha256: '0'.repeat(64), sizeBytes: 2048 } },
        served: true,
      }
    },
    metrics: async () =>
      '# HELP p2p_ai_node_ready 1 when ready.\n# TYPE p2p_ai_node_ready gauge\np2p_ai_node_ready 1\n',
    logLevel: () => level,
    setLogLevel: (next) => {
      const previous = level
      level = next
      return { level, previous }
    },
    stream: (id) => {
      if (!tasks.has(id)) return undefined
      return (async function* () {
        yield { type: 'delta' as const, text: 'Hel' }
        yield { type: 'delta' as const, text: 'lo\n\nthere' }
        yield { type: 'end' as const, task: tasks.get(id) as TaskJson }
      })()
    },
    events: (listener, signal) => {
      listeners.add(listener)
      signal.addEventListener('abort', () => listeners.delete(listener), { once: true })
    },
    jobs: {
      submit: (req) => {
        if (req.type !== 'echo')
          throw Object.assign(new Error(`type: expected a task type, got ${req.type}`), {
            code: 'ERR_INVALID_JOB',
          })
        const job = fakeJob(`job${++n}`, req.type)
        jobs.set(job.id, job)
        return job
      },
      get: (id) => jobs.get(id),
      list: ({ limit, status }) =>
        [...jobs.values()]
          .reverse()
          .filter((j) => status === undefined || j.status === status)
          .slice(0, limit),
      cancel: (id) => {
        const job = jobs.get(id)
        if (job === undefined)
          throw Object.assign(new Error(`no job with id "${id}"`), { code: 'ERR_JOB_NOT_FOUND' })
        const cancelled = job.status === 'RUNNING'
        if (cancelled) jobs.set(id, { ...job, status: 'CANCELLED' })
        return { cancelled, job: jobs.get(id)! }
      },
      resume: (id) => {
        const job = jobs.get(id)
        if (job === undefined)
          throw Object.assign(new Error(`no job with id "${id}"`), { code: 'ERR_JOB_NOT_FOUND' })
        if (job.status === 'COMPLETED')
          throw Object.assign(new Error(`job ${id} completed`), { code: 'ERR_JOB_NOT_RESUMABLE' })
        jobs.set(id, { ...job, status: 'RUNNING' })
        return jobs.get(id)!
      },
    },
    dashboard: async (req) => ({
      url: `http://127.0.0.1:${req.port ?? 8080}/`,
      loginUrl: `http://127.0.0.1:${req.port ?? 8080}/?token=once`,
      started: true,
    }),
    shutdown: () => {
      shutdowns++
    },
    trace: async (id, options) => {
      calls.push({ op: 'trace', id, remote: options.remote })
      return id === 'traced'
        ? ({ traceId: 'a'.repeat(32), self: 'me', spans: [], missing: [] } as TraceJson)
        : undefined
    },
    snapshot: async (options) => ({ logLines: options.logLines }) as unknown as SnapshotJson,
    networkTest: async (options) =>
      ({ probeBytes: options.probeBytes, peer: options.peer }) as unknown as NetworkTestJson,
    stress: async (request) => {
      calls.push({ op: 'stress', ...request })
      return { submitted: 0 } as unknown as StressReportJson
    },
    profile: async (request) => ({
      path: request.path ?? '/data/debug/p.cpuprofile',
      bytes: 2,
      durationMs: request.durationMs,
    }),
    heapDump: async (request) => ({
      path: request.path ?? '/data/debug/h.heapsnapshot',
      bytes: 2,
      durationMs: 1,
    }),
  }
  return {
    target,
    calls,
    finish(id: string, output: unknown) {
      tasks.set(id, { ...tasks.get(id)!, status: 'COMPLETED', output })
      waiters.get(id)?.()
    },
    shutdowns: () => shutdowns,
    emit(event: NodeEventJson) {
      for (const l of listeners) l(event)
    },
    listening: () => listeners.size,
    /** `models()` never answers from now on. */
    hangModels() {
      hang = true
    },
  }
}

let server: ControlServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

async function setup() {
  const fake = fakeTarget()
  // An OpenAI API over a node that serves no model, mounted as a node mounts it.
  const openai = openaiApi({
    node: {
      peerId: '12D3KooWfake',
      engine: { capabilities: () => ({ models: [] }) },
      peers: () => [],
      submit: () => {
        throw new Error('no tasks here')
      },
    },
    basePath: OPENAI_PREFIX,
  })
  server = await startControlServer({ target: fake.target, token: TOKEN, openai })
  return { fake, client: new ControlClient({ url: server.url, token: TOKEN }), url: server.url }
}

async function raw(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: { error?: { code: string; message: string } } }> {
  const res = await fetch(url, init)
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } }
}

describe('control API server', () => {
  it('listens on 127.0.0.1 only', async () => {
    const { url } = await setup()
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
  })

  it('answers 401 with the error format when the token is missing or wrong', async () => {
    const { url } = await setup()
    const none = await raw(`${url}/v1/status`)
    expect(none.status).toBe(401)
    expect(none.body).toEqual({
      error: { code: 'ERR_UNAUTHORIZED', message: expect.stringContaining('control.token') },
    })
    const short = await raw(`${url}/v1/status`, { headers: { authorization: 'Bearer a' } })
    expect(short.status).toBe(401)
    const basic = await raw(`${url}/v1/status`, { headers: { authorization: `Basic ${TOKEN}` } })
    expect(basic.status).toBe(401)
  })

  it('answers 404, 405 and 415 for wrong paths, methods and bodies', async () => {
    const { url } = await setup()
    const auth = { authorization: `Bearer ${TOKEN}` }
    expect((await raw(`${url}/v1/nothing`, { headers: auth })).body.error?.code).toBe('ERR_NOT_FOUND')
    expect((await raw(`${url}/status`, { headers: auth })).status).toBe(404)
    expect((await raw(`${url}/v1/status`, { method: 'DELETE', headers: auth })).status).toBe(405)
    const form = await raw(`${url}/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: '{}',
    })
    expect(form).toMatchObject({ status: 415, body: { error: { code: 'ERR_UNSUPPORTED_MEDIA_TYPE' } } })
    const broken = await raw(`${url}/v1/tasks`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"type":',
    })
    expect(broken).toMatchObject({ status: 400, body: { error: { code: 'ERR_BAD_REQUEST' } } })
  })

  it('answers a request that is not HTTP with a coded error too, and goes on serving', async () => {
    const { url, client } = await setup()
    const { port } = new URL(url)
    for (const bytes of ['GARBAGE\r\n\r\n', 'GET /v1/status HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n']) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(bytes))
        let text = ''
        socket.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk
        })
        socket.on('close', () => resolve(text)).on('error', reject)
      })
      expect(answer).toMatch(/^HTTP\/1\.1 400 /)
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as unknown
      expect(body).toEqual({
        error: {
          code: 'ERR_BAD_REQUEST',
          message: expect.stringMatching(/^not an HTTP request this server reads/),
        },
      })
    }
    await expect(client.status()).resolves.toMatchObject({ state: 'ACTIVE' })
  })

  it('reads a request target starting with // as a path on this server: 404, not a crash or another host', async () => {
    const { url } = await setup()
    const { port } = new URL(url)
    const ask = (target: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: target, headers: { authorization: `Bearer ${TOKEN}` } },
          (res) => {
            let body = ''
            res.setEncoding('utf8').on('data', (c: string) => {
              body += c
            })
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
          },
        )
        req.on('error', reject).end()
      })
    for (const target of ['//', '///x', '//evil.example/v1/status']) {
      const answer = await ask(target)
      expect(answer.status, target).toBe(404)
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'ERR_NOT_FOUND' } })
    }
  })

  it('validates submissions and maps the node error codes to HTTP statuses', async () => {
    const { client } = await setup()
    const expectError = async (p: Promise<unknown>, status: number, code: string) => {
      const err = (await p.catch((e: unknown) => e)) as ControlApiError
      expect(err).toBeInstanceOf(ControlApiError)
      expect([err.status, err.code]).toEqual([status, code])
    }
    await expectError(client.submit({ type: '', input: {} }), 400, 'ERR_BAD_REQUEST')
    await expectError(
      client.submit({ type: 'echo', input: 'x' as unknown as object }),
      400,
      'ERR_BAD_REQUEST',
    )
    await expectError(client.submit({ type: 'echo', input: {}, redundancy: 0 }), 400, 'ERR_BAD_REQUEST')
    await expectError(client.submit({ type: 'nope', input: {} }), 422, 'ERR_UNSUPPORTED_TASK_TYPE')
    await expectError(client.submit({ type: 'boom', input: {} }), 500, 'ERR_INTERNAL')
    await expectError(client.task('missing'), 404, 'ERR_TASK_NOT_FOUND')
    await expectError(client.cancel('missing'), 404, 'ERR_TASK_NOT_FOUND')
    await expectError(client.connect('/ip4/127.0.0.1/tcp/1'), 400, 'ERR_INVALID_MULTIADDR')
    await expectError(client.unban('12D3KooWnot-a-peer'), 400, 'ERR_INVALID_PEER_ID')
    await expectError(client.list({ status: 'DONE' as never }), 400, 'ERR_BAD_REQUEST')
  })

  it('registers a model (POST /v1/models), validating the request, and rescans (POST /v1/models/scan)', async () => {
    const { client } = await setup()
    const expectError = async (p: Promise<unknown>, status: number, code: string) => {
      const err = (await p.catch((e: unknown) => e)) as ControlApiError
      expect([err.status, err.code]).toEqual([status, code])
    }
    await expect(client.addModel({ name: 'tiny', path: '/models/tiny.gguf' })).resolves.toMatchObject({
      name: 'tiny',
      format: 'gguf',
      served: true,
    })
    await expectError(client.addModel({ name: 'tiny', path: 'relative.gguf' }), 400, 'ERR_BAD_REQUEST')
    await expectError(client.addModel({ name: 'tiny', path: '/m', file: '/abs' }), 400, 'ERR_BAD_REQUEST')
    await expectError(client.addModel({ name: 'tiny', path: '/nowhere.gguf' }), 422, 'ERR_MODEL_NOT_FOUND')
    await expect(client.scanModels()).resolves.toEqual([])
  })

  it('pulls a model from the swarm (POST /v1/models/pull): progress lines, then the model or a coded error', async () => {
    const { client } = await setup()
    const progress: number[] = []
    await expect(
      client.pullFromSwarm({ name: 'tiny' }, { onProgress: (p) => progress.push(p.receivedBytes) }),
    ).resolves.toMatchObject({ name: 'tiny', model: 'model.onnx', served: true })
    expect(progress).toEqual([1024, 2048])
    const err = (await client.pullFromSwarm({ name: 'absent' }).catch((e: unknown) => e)) as ControlApiError
    expect([err.status, err.code]).toEqual([404, 'ERR_MODEL_NOT_IN_SWARM'])
    const bad = (await client
      .pullFromSwarm({ name: 'tiny', sha256: 'xyz' })
      .catch((e: unknown) => e)) as ControlApiError
    expect([bad.status, bad.code]).toEqual([400, 'ERR_BAD_REQUEST'])
  })

  it('reads and sets the log level at run time, refusing a level that does not exist', async () => {
    const { client } = await setup()
    await expect(client.logLevel()).resolves.toEqual({ level: 'info' })
    await expect(client.setLogLevel('debug')).resolves.toEqual({ level: 'debug', previous: 'info' })
    await expect(client.logLevel()).resolves.toEqual({ level: 'debug' })
    const err = (await client.setLogLevel('loud' as LogLevel).catch((e: unknown) => e)) as ControlApiError
    expect([err.status, err.code]).toEqual([400, 'ERR_BAD_REQUEST'])
    expect(err.message).toContain('trace, debug, info, warn, error, fatal, silent')
  })

  it('lifts a ban (POST /v1/peers/:id/unban), and says when there was none', async () => {
    const { client } = await setup()
    await expect(client.unban(BANNED)).resolves.toEqual({ peerId: BANNED, unbanned: true })
    const other = '12D3KooWGocXVpemkkdVci9LkEp5KFCGCguC6SjSttmn3hQrZNif'
    await expect(client.unban(other)).resolves.toEqual({ peerId: other, unbanned: false })
  })

  it('serves the metrics exposition as text', async () => {
    const { client } = await setup()
    await expect(client.metrics()).resolves.toContain('p2p_ai_node_ready 1\n')
  })

  it('gives a dashboard login link (POST /v1/dashboard), on a port the caller may choose', async () => {
    const { client, url } = await setup()
    await expect(client.dashboard()).resolves.toEqual({
      url: 'http://127.0.0.1:8080/',
      loginUrl: 'http://127.0.0.1:8080/?token=once',
      started: true,
    })
    await expect(client.dashboard({ port: 0 })).resolves.toMatchObject({ url: 'http://127.0.0.1:0/' })
    const bad = await raw(`${url}/v1/dashboard`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ port: 70_000 }),
    })
    expect([bad.status, bad.body.error?.code]).toEqual([400, 'ERR_BAD_REQUEST'])
  })

  it('holds a wait until the task is final', async () => {
    const { client, fake } = await setup()
    const task = await client.submit({ type: 'echo', input: { text: 'x' } })
    const waiting = client.wait(task.id, { timeoutMs: 10_000 })
    setTimeout(() => fake.finish(task.id, { text: 'x' }), 50)
    await expect(waiting).resolves.toMatchObject({ id: task.id, status: 'COMPLETED', output: { text: 'x' } })
  })

  it('returns the task as it is when a wait times out', async () => {
    const { client } = await setup()
    const task = await client.submit({ type: 'echo', input: {} })
    await expect(client.wait(task.id, { timeoutMs: 100 })).resolves.toMatchObject({ status: 'RUNNING' })
  })

  it('pages the task list and cancels', async () => {
    const { client } = await setup()
    for (let i = 0; i < 3; i++) await client.submit({ type: 'echo', input: {} })
    const page = await client.list({ limit: 2, offset: 1 })
    expect(page).toMatchObject({ limit: 2, offset: 1 })
    expect(page.tasks.map((t) => t.id)).toEqual(['t2', 't1'])
    await expect(client.cancel('t1')).resolves.toMatchObject({
      cancelled: true,
      task: { status: 'CANCELLED' },
    })
    await expect(client.cancel('t1')).resolves.toMatchObject({ cancelled: false })
  })

  it('ends an open long-poll at once with ERR_NODE_STOPPING when the node starts stopping', async () => {
    const { client } = await setup()
    const task = await client.submit({ type: 'echo', input: {} })
    const waiting = client.wait(task.id).catch((e: unknown) => e)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const t0 = Date.now()
    server!.drain()
    const err = (await waiting) as ControlApiError
    expect(Date.now() - t0).toBeLessThan(1000)
    expect(err).toBeInstanceOf(ControlApiError)
    expect([err.status, err.code]).toEqual([503, 'ERR_NODE_STOPPING'])
    expect(err.message).toContain(`stopped waiting for task ${task.id}, which is RUNNING`)
    // Reads still answer while the node stops; new work is refused.
    await expect(client.status()).resolves.toMatchObject({ state: 'ACTIVE' })
    await expect(client.submit({ type: 'echo', input: {} })).rejects.toMatchObject({
      status: 503,
      code: 'ERR_NODE_STOPPING',
    })
  })

  it('closes without waiting for kept-alive clients or requests that never end', async () => {
    const { url, fake } = await setup()
    fake.hangModels()
    const { Agent, request } = await import('node:http')
    const agent = new Agent({ keepAlive: true })
    const get = (path: string) =>
      new Promise<number>((resolve) => {
        const req = request(
          `${url}${path}`,
          { agent, headers: { authorization: `Bearer ${TOKEN}` } },
          (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          },
        )
        req.on('error', () => resolve(-1))
        req.end()
      })
    // One idle kept-alive connection, and one request the target never answers.
    expect(await get('/v1/status')).toBe(200)
    const hanging = get('/v1/models')
    await new Promise((resolve) => setTimeout(resolve, 100))
    const t0 = Date.now()
    await server!.close()
    server = undefined
    expect(Date.now() - t0).toBeLessThan(CLOSE_GRACE_MS + 1000)
    expect(await hanging).toBe(-1)
    agent.destroy()
  })

  it('matches the Authorization scheme and the Content-Type case-insensitively', async () => {
    const { url } = await setup()
    for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
      const res = await raw(`${url}/v1/status`, { headers: { authorization: `${scheme} ${TOKEN}` } })
      expect(res.status, scheme).toBe(200)
    }
    for (const type of ['Application/JSON', 'application/json; charset=UTF-8', 'APPLICATION/JSON']) {
      const res = await raw(`${url}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': type },
        body: JSON.stringify({ type: 'echo', input: {} }),
      })
      expect(res.status, type).toBe(202)
    }
    const notJson = await raw(`${url}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/jsonx' },
      body: '{}',
    })
    expect(notJson.status).toBe(415)
  })

  it('refuses a body over 16 MiB on its announced length, and closes the connection so the sender stops', async () => {
    const { url } = await setup()
    const { request } = await import('node:http')
    const body = Buffer.alloc(MAX_REQUEST_BYTES + 8 * 1024 * 1024, 0x20)
    const outcome = await new Promise<{ status: number; code: string; closedAfterMs: number }>(
      (resolve, reject) => {
        const req = request(`${url}/v1/tasks`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            'content-length': body.length,
          },
        })
        let answer: { status: number; code: string; at: number } | undefined
        req.on('response', (res) => {
          let text = ''
          res.on('data', (c: Buffer) => {
            text += c.toString()
          })
          res.on('end', () => {
            answer = { status: res.statusCode ?? 0, code: JSON.parse(text).error.code, at: Date.now() }
          })
        })
        // The server hangs up once it has answered: the rest of the body is never sent.
        req.on('error', () => {})
        req.on('close', () => {
          if (answer === undefined) reject(new Error('closed without an answer'))
          else resolve({ status: answer.status, code: answer.code, closedAfterMs: Date.now() - answer.at })
        })
        req.end(body)
      },
    )
    expect(outcome).toMatchObject({ status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' })
    // Not left writing into a connection nobody reads until the keep-alive timeout (5 s) ends it.
    expect(outcome.closedAfterMs).toBeLessThan(2000)
  })

  it("streams the node's events as JSON lines until the client stops listening or the node stops", async () => {
    const { client, fake } = await setup()
    const listening = new AbortController()
    const seen: NodeEventJson[] = []
    const done = (async () => {
      for await (const event of client.events({ signal: listening.signal })) {
        seen.push(event)
        if (seen.length === 2) listening.abort()
      }
    })()
    while (fake.listening() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    fake.emit({ event: 'peer:connect', at: 1, peerId: '12D3KooWa' })
    fake.emit({ event: 'task:started', at: 2, id: 't1', type: 'echo', status: 'RUNNING' })
    await done
    expect(seen.map((e) => e.event)).toEqual(['peer:connect', 'task:started'])
    // The server lets go of a client that left.
    while (fake.listening() > 0) await new Promise((resolve) => setTimeout(resolve, 5))

    const second: NodeEventJson[] = []
    const ended = (async () => {
      for await (const event of client.events()) second.push(event)
    })()
    while (fake.listening() === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    fake.emit({ event: 'peer:failed', at: 3, peerId: '12D3KooWa', reason: 'ping timeout' })
    while (second.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    // A stream never holds the node's shutdown: it ends when the node starts stopping.
    server!.drain()
    await ended
    expect(second).toEqual([{ event: 'peer:failed', at: 3, peerId: '12D3KooWa', reason: 'ping timeout' }])
  })

  it("streams a task's text as server-sent events, ending with the task", async () => {
    const { client, url } = await setup()
    const task = await client.submit({ type: 'echo', input: {} })
    const events = []
    for await (const event of client.stream(task.id)) events.push(event)
    expect(events).toEqual([
      { type: 'delta', text: 'Hel' },
      { type: 'delta', text: 'lo\n\nthere' },
      { type: 'end', task: expect.objectContaining({ id: task.id }) },
    ])
    const res = await fetch(`${url}/v1/tasks/${task.id}/stream`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(await res.text()).toMatch(/^event: delta\ndata: \{"text":"Hel"\}\n\n/)
    await expect(client.stream('nope').next()).rejects.toMatchObject({ code: 'ERR_TASK_NOT_FOUND' })
  })

  it('serves the OpenAI API under /openai/v1, with the token as API key and OpenAI error objects', async () => {
    const { url } = await setup()
    const denied = await raw(`${url}/openai/v1/models`)
    expect(denied.status).toBe(401)
    expect(denied.body).toEqual({
      error: {
        message: expect.stringContaining('control.token'),
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    })
    const models = await raw(`${url}/openai/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(models).toEqual({ status: 200, body: { object: 'list', data: [] } })
    // The control API's own endpoint of the same name keeps its own format.
    const own = await raw(`${url}/v1/models`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(own.body).toEqual({ models: [] })
  })

  it('answers a shutdown request before shutting down', async () => {
    const { client, fake } = await setup()
    await client.shutdown()
    await new Promise((resolve) => setImmediate(resolve))
    expect(fake.shutdowns()).toBe(1)
  })
})

describe('the trace and debug endpoints', () => {
  it('pass valid requests on, refuse malformed ones with ERR_BAD_REQUEST, and answer an unknown trace with 404', async () => {
    const { client, fake } = await setup()
    expect((await client.trace('traced', { remote: false })).traceId).toBe('a'.repeat(32))
    await expect(client.trace('nothing')).rejects.toMatchObject({ status: 404, code: 'ERR_TRACE_NOT_FOUND' })
    expect(fake.calls.filter((c) => c.op === 'trace').map((c) => c.remote)).toEqual([false, true])
    expect(await client.snapshot({ logs: 5 })).toEqual({ logLines: 5 })
    expect(await client.networkTest({ probeBytes: 1024, peer: 'p' })).toEqual({ probeBytes: 1024, peer: 'p' })
    await client.stress({ durationMs: 1_000, ratePerSecond: 100, type: 'mock' })
    expect(fake.calls.at(-1)).toEqual({ op: 'stress', durationMs: 1_000, ratePerSecond: 100, type: 'mock' })
    expect((await client.profile({ durationMs: 10 })).durationMs).toBe(10)
    for (const bad of [
      () => client.stress({ durationMs: 1_000, ratePerSecond: 1_000_000 }),
      () => client.stress({ durationMs: 0, ratePerSecond: 1 }),
      () => client.profile({ durationMs: 10, path: 'relative.cpuprofile' }),
      () => client.heapDump({ path: 'x.heapsnapshot' }),
    ]) {
      await expect(bad()).rejects.toMatchObject({ status: 400, code: 'ERR_BAD_REQUEST' })
    }
  })
})

describe('jobs over the control API', () => {
  it('submits, lists, shows, cancels and resumes a job; paths must be absolute', async () => {
    const { client } = await setup()
    await expect(client.submitJob({ type: 'echo', input: 'docs.jsonl' })).rejects.toMatchObject({
      status: 400,
      code: 'ERR_BAD_REQUEST',
      message: '"input" must be an absolute path',
    })
    await expect(client.submitJob({ type: 'Nope', input: '/data/docs.jsonl' })).rejects.toMatchObject({
      status: 400,
      code: 'ERR_INVALID_JOB',
    })
    const job = await client.submitJob({ type: 'echo', input: '/data/docs.jsonl', output: '/data/out.jsonl' })
    expect(await client.job(job.id)).toEqual(job)
    expect(await client.jobs({ status: 'RUNNING' })).toEqual([job])
    expect(await client.cancelJob(job.id)).toMatchObject({ cancelled: true, job: { status: 'CANCELLED' } })
    expect(await client.resumeJob(job.id)).toMatchObject({ id: job.id, status: 'RUNNING' })
    await expect(client.job('missing-job')).rejects.toMatchObject({ status: 404, code: 'ERR_JOB_NOT_FOUND' })
  })
})

describe('docs/control-api.md', () => {
  const doc = readFileSync(new URL('../../../docs/control-api.md', import.meta.url), 'utf8')

  it('documents every endpoint, and every documented endpoint exists', async () => {
    const { url } = await setup()
    for (const route of CONTROL_ROUTES) {
      expect(doc, route).toContain(`### \`${route.replace('/wait', '/wait?timeoutMs=N')}\``)
      const [method, path] = route.split(' ') as [string, string]
      const res = await fetch(`${url}${path.replace(':id', 't0')}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      })
      if (res.headers.get('content-type')?.startsWith('text/plain') === true) {
        // The metrics exposition: it answered in Prometheus's text format.
        expect(res.status, route).toBe(200)
        await res.text()
        continue
      }
      if (res.headers.get('content-type')?.match(/x-ndjson|event-stream/)) {
        // A stream (events): it answered; stop listening.
        expect(res.status, route).toBe(200)
        await res.body?.cancel()
        continue
      }
      const body = (await res.json()) as { error?: { code: string } }
      expect(body.error?.code, route).not.toBe('ERR_NOT_FOUND')
      expect(body.error?.code, route).not.toBe('ERR_METHOD_NOT_ALLOWED')
    }
    const documented = [...doc.matchAll(/^### `(GET|POST|PUT) (\/v1\/[^`?]+)/gm)].map(
      (m) => `${m[1]} ${m[2]}`,
    )
    expect(documented.sort()).toEqual([...CONTROL_ROUTES].sort())
  })

  it('documents every error code the server answers with', () => {
    for (const code of [...SERVER_ERROR_CODES, ...Object.keys(STATUS_BY_CODE)])
      expect(doc, code).toContain(`\`${code}\``)
  })
})
