import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isAbsolute } from 'node:path'
import { publicKeyFromPeerId } from '@p2p-ai/identity'
import {
  LOG_LEVELS,
  type LogLevel,
  MAX_PRIORITY,
  MAX_TIMEOUT_MS,
  MIN_PRIORITY,
  MIN_TIMEOUT_MS,
} from '@p2p-ai/node/control'
import { type OpenAIApi, OpenAIError } from '@p2p-ai/node/openai'
import {
  API_PREFIX,
  CLOSE_GRACE_MS,
  CONTROL_HOST,
  JOB_STATUSES,
  MAX_REQUEST_BYTES,
  MAX_WAIT_MS,
  OPENAI_PREFIX,
  TASK_STATUSES,
} from '../constants.js'
import {
  DEFAULT_PROBE_BYTES,
  DEFAULT_PROFILE_DURATION_MS,
  DEFAULT_SNAPSHOT_LOG_LINES,
  LOG_RING_LINES,
  MAX_PROBE_BYTES,
  MAX_PROFILE_DURATION_MS,
  MAX_STRESS_DURATION_MS,
  MAX_STRESS_IN_FLIGHT,
  MAX_STRESS_RATE,
} from '../debug/constants.js'
import { STATUS_BY_CODE } from '../error-policy.js'
import type { StressRequest } from './debug-types.js'
import type { ControlTarget, TaskQuery } from './target.js'
import type {
  AddModelRequest,
  DashboardRequest,
  JobStatus,
  JobSubmitRequest,
  SubmitRequest,
  SwarmPullLineJson,
  SwarmPullRequest,
  TaskStatus,
} from './types.js'

export interface ControlServerInit {
  readonly target: ControlTarget
  /** The bearer token every request must carry. */
  readonly token: string
  /** @default 0 (a free port) */
  readonly port?: number
  /** Called for each request that failed with a server error (for the node's log). */
  readonly onError?: (err: unknown) => void
  /**
   * The node's OpenAI-compatible API, served under `/openai/v1` behind the same token (the API
   * key) and the same loopback checks; its errors are OpenAI's error objects.
   */
  readonly openai?: OpenAIApi
}

export interface ControlServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  readonly port: number
  /**
   * The node is shutting down: open long-polls end at once with 503 `ERR_NODE_STOPPING`, so do
   * new ones and new tasks; reads (`/v1/status`...) still answer, each on a connection that then
   * closes. Returns at once.
   */
  drain(): void
  /**
   * Drains, stops listening and closes idle connections at once; a request still in progress
   * after `CLOSE_GRACE_MS` has its connection closed. Never waits longer than that for a client.
   */
  close(): Promise<void>
}

/** An error answer: the status and the `{ error: { code, message } }` body. */
export class HttpError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/** Every endpoint, as docs/control-api.md titles it (a test holds the two together). */
export const CONTROL_ROUTES: readonly string[] = [
  'GET /v1/status',
  'GET /v1/peers',
  'POST /v1/peers',
  'POST /v1/peers/:id/unban',
  'POST /v1/tasks',
  'GET /v1/tasks',
  'GET /v1/tasks/:id',
  'GET /v1/tasks/:id/wait',
  'GET /v1/tasks/:id/stream',
  'POST /v1/tasks/:id/cancel',
  'POST /v1/jobs',
  'GET /v1/jobs',
  'GET /v1/jobs/:id',
  'POST /v1/jobs/:id/cancel',
  'POST /v1/jobs/:id/resume',
  'GET /v1/models',
  'POST /v1/models',
  'POST /v1/models/scan',
  'POST /v1/models/pull',
  'GET /v1/events',
  'POST /v1/dashboard',
  'GET /v1/metrics',
  'GET /v1/log-level',
  'PUT /v1/log-level',
  'POST /v1/shutdown',
  'GET /v1/traces/:id',
  'GET /v1/debug/snapshot',
  'GET /v1/debug/network',
  'POST /v1/debug/stress',
  'POST /v1/debug/profile',
  'POST /v1/debug/heap-dump',
]

/** Codes the server itself answers with. */
export const SERVER_ERROR_CODES: readonly string[] = [
  'ERR_BAD_REQUEST',
  'ERR_UNAUTHORIZED',
  'ERR_FORBIDDEN',
  'ERR_NOT_FOUND',
  'ERR_TASK_NOT_FOUND',
  'ERR_TRACE_NOT_FOUND',
  'ERR_METHOD_NOT_ALLOWED',
  'ERR_PAYLOAD_TOO_LARGE',
  'ERR_UNSUPPORTED_MEDIA_TYPE',
  'ERR_INTERNAL',
  'ERR_ABORTED',
  'ERR_NODE_STOPPING',
]

/**
 * Starts the control API on 127.0.0.1 (never another address). Every request needs
 * `Authorization: Bearer <token>` (compared in constant time); a request whose Host is not the
 * loopback address is refused, so a web page cannot reach the API through DNS rebinding.
 */
export async function startControlServer(init: ControlServerInit): Promise<ControlServer> {
  const expected = digest(init.token)
  // Aborts when the node starts shutting down: long-polls end with it.
  const stopping = new AbortController()
  let port = 0
  // Answers not sent yet: once the node stops, each closes its connection.
  const inFlight = new Set<ServerResponse>()
  const server: Server = createServer((req, res) => {
    inFlight.add(res)
    res.once('close', () => inFlight.delete(res))
    if (stopping.signal.aborted) closeAfter(res)
    handle(req, res).catch((err: unknown) => {
      const e = toHttpError(err)
      if (e.status === 500) init.onError?.(err)
      // Refused before its body was read (too large, wrong type): close the connection after the
      // answer, or the client goes on writing into a socket nobody reads until it times out.
      if (!req.complete) closeAfter(res)
      // An OpenAI client gets OpenAI's error object, so it raises the error class it knows.
      const body = (req.url ?? '').startsWith(`${OPENAI_PREFIX}/`)
        ? openaiErrorOf(e).body()
        : { error: { code: e.code, message: e.message } }
      send(res, e.status, body)
    })
  })

  // Bytes that are not an HTTP request (a bad request line, a broken header): Node's own answer
  // is a bare 400 with no body; ours is coded, like every other refusal.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // As Node does: never write into the middle of an answer already on its way on this socket.
    const answering = [...inFlight].some((res) => res.socket === socket && res.headersSent)
    if (!socket.writable || err.code === 'ECONNRESET' || answering) {
      socket.destroy()
      return
    }
    const body = JSON.stringify({
      error: {
        code: 'ERR_BAD_REQUEST',
        message: `not an HTTP request this server reads (${err.code ?? err.message})`,
      },
    })
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
    )
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? ''
    if (host !== `${CONTROL_HOST}:${port}` && host !== `localhost:${port}`) {
      throw new HttpError(403, 'ERR_FORBIDDEN', `requests must be addressed to ${CONTROL_HOST}:${port}`)
    }
    const given = bearerToken(req.headers.authorization)
    if (given === '' || !timingSafeEqual(digest(given), expected)) {
      res.setHeader('www-authenticate', 'Bearer')
      throw new HttpError(
        401,
        'ERR_UNAUTHORIZED',
        given === ''
          ? 'missing Authorization: Bearer <token> (the token is in control.token in the data directory)'
          : 'wrong token',
      )
    }
    const url = requestUrl(req.url)
    if (init.openai !== undefined && (await init.openai.handle(req, res))) return
    if (!url.pathname.startsWith(`${API_PREFIX}/`)) throw notFound(url.pathname)
    const path = url.pathname.slice(API_PREFIX.length)
    const method = req.method ?? 'GET'
    const t = init.target
    const signal = requestSignal(res, stopping.signal)

    if (path === '/status') {
      allow(method, 'GET')
      return send(res, 200, await t.status())
    }
    if (path === '/peers') {
      if (method === 'GET') return send(res, 200, { peers: t.peers() })
      allow(method, 'POST')
      const body = await readJson(req)
      refuseWhileStopping()
      const address = body.address
      if (typeof address !== 'string' || address === '')
        throw badRequest('"address" must be a multiaddr string')
      await t.connect(address, { signal })
      return send(res, 200, { connected: true })
    }
    const unban = /^\/peers\/([^/]+)\/unban$/.exec(path)
    if (unban !== null) {
      allow(method, 'POST')
      const peerId = decodeURIComponent(unban[1]!)
      // Throws ERR_INVALID_PEER_ID (400) for what cannot be a PeerId.
      publicKeyFromPeerId(peerId)
      return send(res, 200, t.unban(peerId))
    }
    if (path === '/tasks') {
      if (method === 'GET') return send(res, 200, await listTasks(t, url.searchParams))
      allow(method, 'POST')
      const body = await readJson(req)
      refuseWhileStopping()
      const task = await t.submit(submitRequest(body), { signal })
      return send(res, 202, { task })
    }
    const taskPath = /^\/tasks\/([^/]+)(\/wait|\/cancel|\/stream)?$/.exec(path)
    if (taskPath !== null) {
      const id = decodeURIComponent(taskPath[1]!)
      if (taskPath[2] === '/cancel') {
        allow(method, 'POST')
        return send(res, 200, await t.cancel(id))
      }
      allow(method, 'GET')
      if (taskPath[2] === '/stream') {
        const events = t.stream(id, signal)
        if (events === undefined) throw taskNotFound(id)
        // Server-sent events: what the task streams as it comes, then the task as it ended.
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
        })
        res.flushHeaders()
        for await (const { type, ...data } of events)
          res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`)
        res.end()
        return
      }
      if (taskPath[2] === '/wait') {
        const timeoutMs = intParam(url.searchParams, 'timeoutMs', 0, MAX_WAIT_MS) ?? MAX_WAIT_MS
        const task = await t.wait(id, timeoutMs, signal)
        if (task === undefined) throw taskNotFound(id)
        if (stopping.signal.aborted && !isFinal(task.status)) throw stoppedWaiting(task.id, task.status)
        return send(res, 200, { task })
      }
      const task = await t.task(id)
      if (task === undefined) throw taskNotFound(id)
      return send(res, 200, { task })
    }
    if (path === '/jobs') {
      if (method === 'GET') {
        const status = url.searchParams.get('status') ?? undefined
        if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) {
          throw badRequest(`status must be one of ${JOB_STATUSES.join(', ')}`)
        }
        const limit = intParam(url.searchParams, 'limit', 1, 1000) ?? 100
        const jobs = t.jobs.list({ limit, ...(status === undefined ? {} : { status: status as JobStatus }) })
        return send(res, 200, { jobs })
      }
      allow(method, 'POST')
      const body = await readJson(req)
      refuseWhileStopping()
      return send(res, 202, { job: t.jobs.submit(jobSubmitRequest(body)) })
    }
    const jobPath = /^\/jobs\/([^/]+)(\/cancel|\/resume)?$/.exec(path)
    if (jobPath !== null) {
      const id = decodeURIComponent(jobPath[1]!)
      if (jobPath[2] === '/cancel') {
        allow(method, 'POST')
        return send(res, 200, t.jobs.cancel(id))
      }
      if (jobPath[2] === '/resume') {
        allow(method, 'POST')
        refuseWhileStopping()
        return send(res, 202, { job: t.jobs.resume(id) })
      }
      allow(method, 'GET')
      const job = t.jobs.get(id)
      if (job === undefined) {
        throw new HttpError(404, 'ERR_JOB_NOT_FOUND', `no job with id "${id}" (unknown, or expired)`)
      }
      return send(res, 200, { job })
    }
    if (path === '/events') {
      allow(method, 'GET')
      // One JSON object per line, for as long as the client listens and the node runs.
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
      res.flushHeaders()
      t.events((event) => res.write(`${JSON.stringify(event)}\n`), signal)
      if (!signal.aborted)
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      res.end()
      return
    }
    if (path === '/dashboard') {
      allow(method, 'POST')
      const body = await readJson(req)
      refuseWhileStopping()
      return send(res, 200, await t.dashboard(dashboardRequest(body)))
    }
    if (path === '/models') {
      if (method === 'GET') return send(res, 200, { models: await t.models() })
      allow(method, 'POST')
      const body = await readJson(req)
      refuseWhileStopping()
      return send(res, 201, { model: await t.addModel(addModelRequest(body), { signal }) })
    }
    if (path === '/models/scan') {
      allow(method, 'POST')
      await readJson(req)
      refuseWhileStopping()
      await t.scanModels({ signal })
      return send(res, 200, { models: await t.models() })
    }
    const tracePath = /^\/traces\/([^/]+)$/.exec(path)
    if (tracePath !== null) {
      allow(method, 'GET')
      const id = decodeURIComponent(tracePath[1]!)
      const trace = await t.trace(id, { remote: url.searchParams.get('remote') !== 'false', signal })
      if (trace === undefined) {
        throw new HttpError(
          404,
          'ERR_TRACE_NOT_FOUND',
          `no trace of "${id}" on this node (not traced, not sampled, or older than tracing.retentionHours)`,
        )
      }
      return send(res, 200, { trace })
    }
    if (path.startsWith('/debug/')) return debug(path.slice('/debug'.length), method, req, res, url, signal)
    if (path === '/models/pull') {
      allow(method, 'POST')
      const request = swarmPullRequest(await readJson(req))
      refuseWhileStopping()
      // Progress as the blocks come, then the model or the error: one JSON object per line.
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' })
      res.flushHeaders()
      const line = (value: SwarmPullLineJson): void => void res.write(`${JSON.stringify(value)}\n`)
      try {
        line({
          model: await t.pullFromSwarm(request, { signal, onProgress: (progress) => line({ progress }) }),
        })
      } catch (err) {
        const e = toHttpError(err)
        if (e.status === 500) init.onError?.(err)
        line({ error: { code: e.code, message: e.message, status: e.status } })
      }
      res.end()
      return
    }
    if (path === '/metrics') {
      allow(method, 'GET')
      const text = await t.metrics()
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
      })
      res.end(text)
      return
    }
    if (path === '/log-level') {
      if (method === 'GET') return send(res, 200, { level: t.logLevel() })
      allow(method, 'PUT')
      const { level } = await readJson(req)
      if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
        throw badRequest(`"level" must be one of ${LOG_LEVELS.join(', ')}`)
      }
      return send(res, 200, t.setLogLevel(level as LogLevel))
    }
    if (path === '/shutdown') {
      allow(method, 'POST')
      send(res, 202, { stopping: true })
      // Answer first: the node's shutdown closes this server.
      if (!stopping.signal.aborted) setImmediate(() => t.shutdown())
      return
    }
    throw notFound(url.pathname)
  }

  /** The debug tools (docs/control-api.md, "Debug"). */
  async function debug(
    path: string,
    method: string,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    signal: AbortSignal,
  ): Promise<void> {
    const t = init.target
    if (path === '/snapshot') {
      allow(method, 'GET')
      const logLines = intParam(url.searchParams, 'logs', 0, LOG_RING_LINES) ?? DEFAULT_SNAPSHOT_LOG_LINES
      return send(res, 200, { snapshot: await t.snapshot({ logLines }) })
    }
    if (path === '/network') {
      allow(method, 'GET')
      const probeBytes = intParam(url.searchParams, 'probeBytes', 0, MAX_PROBE_BYTES) ?? DEFAULT_PROBE_BYTES
      const peer = url.searchParams.get('peer') ?? undefined
      return send(res, 200, {
        network: await t.networkTest({ probeBytes, signal, ...(peer === undefined ? {} : { peer }) }),
      })
    }
    if (path === '/stress') {
      allow(method, 'POST')
      const body = await readJson(req)
      refuseWhileStopping()
      return send(res, 200, { report: await t.stress(stressRequest(body), signal) })
    }
    if (path === '/profile') {
      allow(method, 'POST')
      const body = await readJson(req)
      const durationMs =
        intField(body, 'durationMs', 1, MAX_PROFILE_DURATION_MS) ?? DEFAULT_PROFILE_DURATION_MS
      return send(res, 200, { profile: await t.profile({ durationMs, ...pathField(body) }, signal) })
    }
    if (path === '/heap-dump') {
      allow(method, 'POST')
      const body = await readJson(req)
      return send(res, 200, { heapDump: await t.heapDump(pathField(body)) })
    }
    throw notFound(url.pathname)
  }

  function refuseWhileStopping(): void {
    if (stopping.signal.aborted) {
      throw new HttpError(503, 'ERR_NODE_STOPPING', 'the node is shutting down and takes no new work')
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: CONTROL_HOST, port: init.port ?? 0 }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  port = (server.address() as AddressInfo).port
  const drain = (): void => {
    if (stopping.signal.aborted) return
    // While the node stops, every answer closes its connection: a kept-alive client cannot send
    // another request (a new long-poll) on a socket the shutdown would wait for.
    for (const res of inFlight) closeAfter(res)
    stopping.abort()
    server.closeIdleConnections()
  }
  let closed: Promise<void> | undefined
  return {
    url: `http://${CONTROL_HOST}:${port}`,
    port,
    drain,
    close() {
      closed ??= new Promise<void>((resolve) => {
        drain()
        const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
        server.close(() => {
          clearTimeout(grace)
          resolve()
        })
        server.closeIdleConnections()
      })
      return closed
    },
  }
}

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 7235). */
function bearerToken(header: string | undefined): string {
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '')
  return match?.[1] ?? ''
}

function closeAfter(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close')
}

function isFinal(status: TaskStatus): boolean {
  return status !== 'PENDING' && status !== 'QUEUED' && status !== 'RUNNING'
}

function stoppedWaiting(id: string, status: TaskStatus): HttpError {
  return new HttpError(
    503,
    'ERR_NODE_STOPPING',
    `the node is shutting down: stopped waiting for task ${id}, which is ${status}`,
  )
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/**
 * Aborts when the answer is done or the client went away, or the node starts stopping, so a
 * long-poll ends with it. (The response's `close`, not the socket's: a kept-alive socket outlives
 * requests.)
 */
function requestSignal(res: ServerResponse, closing: AbortSignal): AbortSignal {
  const controller = new AbortController()
  res.once('close', () => controller.abort())
  return AbortSignal.any([controller.signal, closing])
}

/**
 * The request target as a URL on this server. Appended to the origin rather than resolved against
 * it: a target starting with `//` is a path here, not another host (and `//` alone not a crash).
 */
function requestUrl(target: string | undefined): URL {
  try {
    return new URL(`http://${CONTROL_HOST}${target?.startsWith('/') === true ? target : '/'}`)
  } catch {
    throw badRequest('the request target is not a path this server reads')
  }
}

function allow(method: string, expected: string): void {
  if (method !== expected)
    throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `use ${expected} here, not ${method}`)
}

function notFound(path: string): HttpError {
  return new HttpError(404, 'ERR_NOT_FOUND', `no endpoint ${path}; see docs/control-api.md`)
}

function taskNotFound(id: string): HttpError {
  return new HttpError(404, 'ERR_TASK_NOT_FOUND', `no task with id "${id}" (unknown, or its result expired)`)
}

function payloadTooLarge(size?: number): HttpError {
  return new HttpError(
    413,
    'ERR_PAYLOAD_TOO_LARGE',
    `request bodies are limited to ${MAX_REQUEST_BYTES} bytes (16 MiB)${size === undefined ? '' : `; this one has ${size}`}`,
  )
}

function badRequest(message: string): HttpError {
  return new HttpError(400, 'ERR_BAD_REQUEST', message)
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  // The media type, without parameters, compared case-insensitively (RFC 9110 §8.3.1).
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as Content-Type: application/json')
  }
  // Refused on its announced length before a byte is read; a body without one is counted.
  const announced = Number(req.headers['content-length'] ?? 0)
  if (announced > MAX_REQUEST_BYTES) throw payloadTooLarge(announced)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_REQUEST_BYTES) throw payloadTooLarge()
    chunks.push(chunk as Buffer)
  }
  let value: unknown
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
  } catch (err) {
    throw badRequest(`the body is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw badRequest('the body must be a JSON object')
  return value as Record<string, unknown>
}

function submitRequest(body: Record<string, unknown>): SubmitRequest {
  const { type, input, target, redundancy, timeoutMs, priority, id } = body
  if (typeof type !== 'string' || type === '') throw badRequest('"type" must be a non-empty string')
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw badRequest('"input" must be a JSON object')
  if (target !== undefined && (typeof target !== 'string' || target === ''))
    throw badRequest('"target" must be a PeerId or "self"')
  const int = (name: string, v: unknown, min: number, max: number): number | undefined => {
    if (v === undefined) return undefined
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw badRequest(`"${name}" must be an integer between ${min} and ${max}`)
    }
    return v
  }
  const r = int('redundancy', redundancy, 1, 16)
  // The bounds of the wire: a task outside them could not be sent to a peer.
  const tm = int('timeoutMs', timeoutMs, MIN_TIMEOUT_MS, MAX_TIMEOUT_MS)
  const p = int('priority', priority, MIN_PRIORITY, MAX_PRIORITY)
  if (id !== undefined && typeof id !== 'string') throw badRequest('"id" must be a string')
  return {
    type,
    input,
    ...(target === undefined ? {} : { target: target as string }),
    ...(r === undefined ? {} : { redundancy: r }),
    ...(tm === undefined ? {} : { timeoutMs: tm }),
    ...(p === undefined ? {} : { priority: p }),
    ...(id === undefined ? {} : { id: id as string }),
  }
}

/** An integer member of a JSON body, within bounds; undefined when absent. */
function intField(body: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = body[name]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw badRequest(`"${name}" must be an integer between ${min} and ${max}`)
  }
  return v
}

/** `path` of a dump request: an absolute path, when given. */
function pathField(body: Record<string, unknown>): { path?: string } {
  const path = body.path
  if (path === undefined) return {}
  if (typeof path !== 'string' || !path.startsWith('/')) throw badRequest('"path" must be an absolute path')
  return { path }
}

function stressRequest(body: Record<string, unknown>): StressRequest {
  const durationMs = intField(body, 'durationMs', 1, MAX_STRESS_DURATION_MS)
  const ratePerSecond = intField(body, 'ratePerSecond', 1, MAX_STRESS_RATE)
  if (durationMs === undefined || ratePerSecond === undefined) {
    throw badRequest('"durationMs" and "ratePerSecond" are required')
  }
  const maxInFlight = intField(body, 'maxInFlight', 1, MAX_STRESS_IN_FLIGHT)
  const { type, input, target } = body
  if (type !== undefined && (typeof type !== 'string' || type === ''))
    throw badRequest('"type" must be a task type')
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input)))
    throw badRequest('"input" must be a JSON object')
  if (target !== undefined && (typeof target !== 'string' || target === ''))
    throw badRequest('"target" must be a PeerId or "self"')
  return {
    durationMs,
    ratePerSecond,
    ...(type === undefined ? {} : { type: type as string }),
    ...(input === undefined ? {} : { input: input as Record<string, unknown> }),
    ...(target === undefined ? {} : { target: target as string }),
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
  }
}

/**
 * The paths are checked here (a relative one would be read from the node's working directory, not
 * the caller's); every other field is the node's to check (`ERR_INVALID_JOB`).
 */
function jobSubmitRequest(body: Record<string, unknown>): JobSubmitRequest {
  const { input, output } = body
  if (typeof input !== 'string' || !isAbsolute(input)) throw badRequest('"input" must be an absolute path')
  if (output !== undefined && (typeof output !== 'string' || !isAbsolute(output)))
    throw badRequest('"output" must be an absolute path')
  return body as unknown as JobSubmitRequest
}

function addModelRequest(body: Record<string, unknown>): AddModelRequest {
  const { name, path, file, taskTypes } = body
  if (typeof name !== 'string' || name === '') throw badRequest('"name" must be a non-empty string')
  if (typeof path !== 'string' || !isAbsolute(path)) throw badRequest('"path" must be an absolute path')
  if (file !== undefined && (typeof file !== 'string' || file === '' || isAbsolute(file)))
    throw badRequest('"file" must be a path relative to "path"')
  if (
    taskTypes !== undefined &&
    !(Array.isArray(taskTypes) && taskTypes.every((t) => typeof t === 'string' && t !== ''))
  )
    throw badRequest('"taskTypes" must be an array of task type names')
  return {
    name,
    path,
    ...(file === undefined ? {} : { file: file as string }),
    ...(taskTypes === undefined ? {} : { taskTypes: taskTypes as string[] }),
  }
}

function swarmPullRequest(body: Record<string, unknown>): SwarmPullRequest {
  const { name, sha256 } = body
  if (typeof name !== 'string' || name === '') throw badRequest('"name" must be a non-empty string')
  if (sha256 !== undefined && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)))
    throw badRequest('"sha256" must be 64 lowercase hex digits')
  return { name, ...(sha256 === undefined ? {} : { sha256: sha256 as string }) }
}

function dashboardRequest(body: Record<string, unknown>): DashboardRequest {
  const { port } = body
  if (port === undefined) return {}
  if (typeof port !== 'number' || !Number.isSafeInteger(port) || port < 0 || port > 65_535) {
    throw badRequest('"port" must be an integer between 0 and 65535')
  }
  return { port }
}

function intParam(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = params.get(name)
  if (raw === null) return undefined
  const n = Number(raw)
  if (raw === '' || !Number.isSafeInteger(n) || n < min)
    throw badRequest(`"${name}" must be an integer of at least ${min}`)
  return Math.min(n, max)
}

async function listTasks(
  t: ControlTarget,
  params: URLSearchParams,
): Promise<{ tasks: unknown; limit: number; offset: number }> {
  const limit = intParam(params, 'limit', 1, 1000) ?? 20
  const offset = intParam(params, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0
  const status = params.get('status') ?? undefined
  if (status !== undefined && !(TASK_STATUSES as readonly string[]).includes(status)) {
    throw badRequest(`"status" must be one of ${TASK_STATUSES.join(', ')}`)
  }
  const type = params.get('type') ?? undefined
  const query: TaskQuery = {
    limit,
    offset,
    ...(status === undefined ? {} : { status: status as TaskStatus }),
    ...(type === undefined ? {} : { type }),
  }
  return { tasks: await t.list(query), limit, offset }
}

/** A control API error as OpenAI's error object (401 and 403 come from the checks in front). */
function openaiErrorOf(e: HttpError): OpenAIError {
  if (e.status === 401) {
    return new OpenAIError(401, 'invalid_request_error', e.message, { code: 'invalid_api_key' })
  }
  if (e.status === 403) return new OpenAIError(403, 'permission_error', e.message, { code: 'forbidden' })
  return new OpenAIError(e.status, e.status >= 500 ? 'server_error' : 'invalid_request_error', e.message, {
    code: e.code,
  })
}

function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  const e = err as { code?: unknown; message?: unknown; name?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (typeof e?.code === 'string' && e.code.startsWith('ERR_')) {
    return new HttpError(STATUS_BY_CODE[e.code] ?? 500, e.code, message)
  }
  if (e?.name === 'AbortError') return new HttpError(503, 'ERR_ABORTED', 'the node is shutting down')
  return new HttpError(500, 'ERR_INTERNAL', message)
}
