/**
 * The page's API under `/api` (docs/dashboard.md): the live feed, tasks (listed, looked at,
 * submitted, followed as they stream), their traces, and the metrics history. Only reached by a
 * request with a good session; the server checks that before.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_BUFFERED_BYTES, MAX_TASK_ROWS } from '../constants.js'
import type { HistoryStore } from '../history/store.js'
import type { DashboardSource, TaskFilter } from '../source/types.js'
import type { LiveEvent, SubmitJson, TaskRow, TaskState } from '../wire.js'
import { badRequest, HttpError, readJson, sendJson, startEvents, writeEvent } from './http.js'
import type { LiveFeed } from './live.js'

const STATES: readonly TaskState[] = [
  'PENDING',
  'QUEUED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'TIMEOUT',
  'CANCELLED',
]
const SIDES: readonly TaskRow['side'][] = ['submitted', 'served']
/** A submitted task may be spread over at most this many providers. */
const MAX_REDUNDANCY = 16
const HOUR = 60 * 60 * 1000

export interface ApiInit {
  readonly source: DashboardSource
  readonly feed: LiveFeed
  readonly history: HistoryStore
  /** How long history is kept: the longest range one can ask for. */
  readonly keepMs: number
  readonly now: () => number
}

/** Answers one `/api/...` request; `signal` aborts when the client goes away or the server closes. */
export async function api(
  init: ApiInit,
  path: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const method = req.method ?? 'GET'
  const tasks = init.source.tasks
  if (path === '/live') {
    allow(method, 'GET')
    return live(init.feed, res, signal)
  }
  if (path === '/tasks') {
    if (method === 'POST') {
      const detail = await tasks.submit(submitJson(await readJson(req)), { signal })
      return sendJson(res, 202, detail)
    }
    allow(method, 'GET')
    return sendJson(res, 200, { tasks: await tasks.list(taskFilter(url.searchParams)) })
  }
  const task = /^\/tasks\/([^/]+)(\/stream|\/trace)?$/.exec(path)
  if (task !== null) {
    allow(method, 'GET')
    const id = decodeURIComponent(task[1]!)
    if (task[2] === '/stream') {
      const events = tasks.stream(id, signal)
      if (events === undefined) throw taskNotFound(id)
      startEvents(res)
      for await (const event of events) writeEvent(res, event.type, event, Number.POSITIVE_INFINITY)
      res.end()
      return
    }
    if (task[2] === '/trace') {
      if (tasks.trace === undefined) {
        throw new HttpError(
          501,
          'ERR_TRACING_UNAVAILABLE',
          'this node records no traces: the task detail shows its attempts and timings instead',
        )
      }
      if ((await tasks.detail(id)) === undefined) throw taskNotFound(id)
      const trace = await tasks.trace(id, { signal })
      if (trace === undefined) {
        throw new HttpError(404, 'ERR_TRACE_NOT_FOUND', `no trace of task "${id}" (not sampled, or expired)`)
      }
      return sendJson(res, 200, trace)
    }
    const detail = await tasks.detail(id)
    if (detail === undefined) throw taskNotFound(id)
    return sendJson(res, 200, detail)
  }
  if (path === '/history') {
    allow(method, 'GET')
    const now = init.now()
    const range = intParam(url.searchParams, 'range', 60_000, init.keepMs) ?? HOUR
    return sendJson(res, 200, init.history.query(now - range, now, now))
  }
  throw new HttpError(404, 'ERR_NOT_FOUND', `no endpoint /api${path}; see docs/dashboard.md`)
}

/** The live feed as server-sent events, until the page goes away. */
async function live(feed: LiveFeed, res: ServerResponse, signal: AbortSignal): Promise<void> {
  startEvents(res)
  const client = {
    send: (event: LiveEvent) => writeEvent(res, event.type, event, MAX_BUFFERED_BYTES),
    ping: () => {
      if (!res.destroyed) res.write(': ping\n\n')
    },
    close: () => res.destroy(),
  }
  feed.add(client)
  if (!signal.aborted)
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
  feed.remove(client)
  res.end()
}

function allow(method: string, expected: string): void {
  if (method !== expected) {
    throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `use ${expected} here, not ${method}`)
  }
}

function taskNotFound(id: string): HttpError {
  return new HttpError(404, 'ERR_TASK_NOT_FOUND', `no task with id "${id}" (unknown, or its record expired)`)
}

function intParam(params: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = params.get(name)
  if (raw === null) return undefined
  const n = Number(raw)
  if (raw === '' || !Number.isSafeInteger(n) || n < min) {
    throw badRequest(`"${name}" must be an integer of at least ${min}`)
  }
  return Math.min(n, max)
}

function taskFilter(params: URLSearchParams): TaskFilter {
  const status = params.get('status') || undefined
  if (status !== undefined && !(STATES as readonly string[]).includes(status)) {
    throw badRequest(`"status" must be one of ${STATES.join(', ')}`)
  }
  const side = params.get('side') || undefined
  if (side !== undefined && !(SIDES as readonly string[]).includes(side)) {
    throw badRequest(`"side" must be one of ${SIDES.join(', ')}`)
  }
  const type = params.get('type') || undefined
  const peer = params.get('peer') || undefined
  return {
    limit: intParam(params, 'limit', 1, MAX_TASK_ROWS) ?? 100,
    ...(status === undefined ? {} : { status: status as TaskState }),
    ...(side === undefined ? {} : { side: side as TaskRow['side'] }),
    ...(type === undefined ? {} : { type }),
    ...(peer === undefined ? {} : { peer }),
  }
}

function submitJson(body: Record<string, unknown>): SubmitJson {
  const { type, input, target, redundancy } = body
  if (typeof type !== 'string' || type === '') throw badRequest('"type" must be a non-empty string')
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw badRequest('"input" must be a JSON object')
  }
  if (target !== undefined && (typeof target !== 'string' || target === '')) {
    throw badRequest('"target" must be a PeerId or "self"')
  }
  if (
    redundancy !== undefined &&
    (typeof redundancy !== 'number' ||
      !Number.isSafeInteger(redundancy) ||
      redundancy < 1 ||
      redundancy > MAX_REDUNDANCY)
  ) {
    throw badRequest(`"redundancy" must be an integer from 1 to ${MAX_REDUNDANCY}`)
  }
  return {
    type,
    input: input as Record<string, unknown>,
    ...(target === undefined ? {} : { target: target as string }),
    ...(redundancy === undefined ? {} : { redundancy: redundancy as number }),
  }
}
