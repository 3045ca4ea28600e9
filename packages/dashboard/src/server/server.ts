/**
 * `startDashboard`: the dashboard served by a running node on 127.0.0.1. Nothing answers without a
 * session: not the page, not its scripts, not the API. A session comes from a one-time login token
 * (in the URL a person is given, or typed into the login form).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import {
  DASHBOARD_HOST,
  DAY,
  DEFAULT_DASHBOARD_PORT,
  DEFAULT_HISTORY_DAYS,
  DEFAULT_SAMPLE_MS,
  DEFAULT_TOPOLOGY_MS,
  HISTORY_FILE,
  historyTiers,
  MAX_HISTORY_DAYS,
} from '../constants.js'
import { DashboardPortInUseError } from '../errors.js'
import { HistoryRecorder } from '../history/recorder.js'
import { HistoryStore } from '../history/store.js'
import type { DashboardSource } from '../source/types.js'
import { api } from './api.js'
import { type Asset, loadAssets } from './assets.js'
import { Access } from './auth.js'
import { cookie, HttpError, readForm, sendJson, toHttpError } from './http.js'
import { LiveFeed } from './live.js'
import { loginPage } from './login-page.js'

export interface DashboardInit {
  /** What the dashboard shows: `nodeSource(...)` of a running node. */
  readonly source: DashboardSource
  /**
   * Port on 127.0.0.1; 0 picks a free one.
   *
   * @default 8080
   */
  readonly port?: number
  /** The metrics history goes to `dashboard-history.db` here; without it, history lives in memory. */
  readonly dataDir?: string
  /**
   * Days of metrics history kept, downsampled (1 to 365).
   *
   * @default 30
   */
  readonly historyDays?: number
  /**
   * One history point this often.
   *
   * @default 5_000
   */
  readonly sampleMs?: number
  /**
   * The topology is recomputed this often while a page is open.
   *
   * @default 1_000
   */
  readonly topologyMs?: number
  /** Where the built page is. @default the package's own `dist/ui` */
  readonly assetsDir?: string
  /** Called with errors that are not a request's (a failed history write...), for the node's log. */
  readonly onError?: (err: unknown) => void
  /** @default Date.now */
  readonly now?: () => number
}

export interface Dashboard {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  readonly port: number
  /** The URL with a new one-time login token: good once, for an hour. */
  loginUrl(): string
  /** Pages open now. */
  readonly pages: number
  /** Stops listening, ends every page's live feed, writes nothing more to the history. */
  close(): Promise<void>
}

/** Everything the page's own origin may do; nothing from anywhere else. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const PRUNE_MS = 10 * 60 * 1000

export async function startDashboard(init: DashboardInit): Promise<Dashboard> {
  const historyDays = init.historyDays ?? DEFAULT_HISTORY_DAYS
  if (!Number.isSafeInteger(historyDays) || historyDays < 1 || historyDays > MAX_HISTORY_DAYS) {
    throw new RangeError(`historyDays must be an integer from 1 to ${MAX_HISTORY_DAYS}, not ${historyDays}`)
  }
  const sampleMs = init.sampleMs ?? DEFAULT_SAMPLE_MS
  const now = init.now ?? Date.now
  const onError = init.onError ?? (() => {})
  const assets = await loadAssets(init.assetsDir)
  const access = new Access({ now })
  const keepMs = historyDays * DAY
  const history = new HistoryStore({
    file: init.dataDir === undefined ? ':memory:' : join(init.dataDir, HISTORY_FILE),
    tiers: historyTiers(sampleMs, keepMs),
    keepMs,
  })
  const feed = new LiveFeed({
    source: init.source,
    topologyMs: init.topologyMs ?? DEFAULT_TOPOLOGY_MS,
    sampleMs,
    traces: init.source.tasks.trace !== undefined,
    onError,
  })
  const recorder = new HistoryRecorder({
    source: init.source,
    store: history,
    sampleMs,
    pruneMs: PRUNE_MS,
    onSample: (point) => feed.sample(point),
    onError,
    now,
  })
  const closing = new AbortController()
  let port = 0
  const cookieName = (): string => `p2p-ai-dashboard-${port}`

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('content-security-policy', CSP)
    res.setHeader('x-content-type-options', 'nosniff')
    res.setHeader('referrer-policy', 'no-referrer')
    res.setHeader('x-frame-options', 'DENY')
    // DNS rebinding: a page of another site, its name pointed at 127.0.0.1, sends its own Host.
    const host = req.headers.host ?? ''
    if (host !== `${DASHBOARD_HOST}:${port}` && host !== `localhost:${port}`) {
      throw new HttpError(403, 'ERR_FORBIDDEN', `requests must be addressed to ${DASHBOARD_HOST}:${port}`)
    }
    const method = req.method ?? 'GET'
    // Cross-site requests carry another Origin (and no cookie: SameSite=Strict); refused either way.
    const origin = req.headers.origin
    if (method !== 'GET' && method !== 'HEAD' && origin !== undefined && origin !== `http://${host}`) {
      throw new HttpError(403, 'ERR_FORBIDDEN', 'requests from other sites are refused')
    }
    const url = new URL(req.url ?? '/', `http://${host}`)
    if (url.pathname === '/login' && method === 'POST') {
      return login(res, (await readForm(req)).get('token') ?? '', '/')
    }
    const token = url.searchParams.get('token')
    if (token !== null && method === 'GET') {
      url.searchParams.delete('token')
      return login(res, token, `${url.pathname}${url.search}`)
    }
    if (!access.check(cookie(req, cookieName()))) {
      if (url.pathname.startsWith('/api/')) {
        throw new HttpError(
          401,
          'ERR_UNAUTHORIZED',
          'no session: open the URL that `p2p-ai-agents dashboard` prints',
        )
      }
      return page(res, 401, loginPage())
    }
    if (url.pathname === '/logout' && method === 'POST') {
      access.revoke(cookie(req, cookieName()) ?? '')
      res.setHeader('set-cookie', `${cookieName()}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`)
      return page(res, 200, loginPage('Signed out.'))
    }
    if (url.pathname.startsWith('/api/')) {
      const signal = requestSignal(res, closing.signal)
      return api(
        { source: init.source, feed, history, keepMs, now },
        url.pathname.slice('/api'.length),
        url,
        req,
        res,
        signal,
      )
    }
    if (method !== 'GET' && method !== 'HEAD') {
      throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `use GET here, not ${method}`)
    }
    const asset = assets.get(url.pathname === '/' ? '/index.html' : url.pathname)
    if (asset === undefined) throw new HttpError(404, 'ERR_NOT_FOUND', `nothing at ${url.pathname}`)
    return serveAsset(req, res, asset)
  }

  /** A login token for a session cookie, then on to `next` without the token in the address. */
  function login(res: ServerResponse, token: string, next: string): void {
    const session = access.redeem(token)
    if (session === undefined) {
      page(
        res,
        401,
        loginPage(
          'That login link was used already or has expired. Run `p2p-ai-agents dashboard` for a new one.',
        ),
      )
      return
    }
    res.setHeader('set-cookie', `${cookieName()}=${session.id}; HttpOnly; SameSite=Strict; Path=/`)
    res.writeHead(303, { location: next, 'cache-control': 'no-store' })
    res.end()
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = toHttpError(err)
      if (e.status >= 500) onError(err)
      if (!req.complete) res.setHeader('connection', 'close')
      sendJson(res, e.status, { error: { code: e.code, message: e.message } })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      history.close()
      reject(
        err.code === 'EADDRINUSE'
          ? new DashboardPortInUseError(init.port ?? DEFAULT_DASHBOARD_PORT, { cause: err })
          : err,
      )
    })
    server.listen({ host: DASHBOARD_HOST, port: init.port ?? DEFAULT_DASHBOARD_PORT }, () => resolve())
  })
  port = (server.address() as AddressInfo).port
  recorder.start()
  const url = `http://${DASHBOARD_HOST}:${port}/`
  let closed: Promise<void> | undefined
  return {
    url,
    port,
    loginUrl: () => `${url}?token=${access.issueLogin().token}`,
    get pages() {
      return feed.clients
    },
    close() {
      closed ??= (async () => {
        recorder.stop()
        closing.abort()
        feed.close()
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
        history.close()
      })()
      return closed
    },
  }
}

/** Aborts when the answer is done, the client went away, or the dashboard closes. */
function requestSignal(res: ServerResponse, closing: AbortSignal): AbortSignal {
  const controller = new AbortController()
  res.once('close', () => controller.abort())
  return AbortSignal.any([controller.signal, closing])
}

function page(res: ServerResponse, status: number, html: string): void {
  // The login page has no script; its one inline style block is all it may use.
  res.setHeader(
    'content-security-policy',
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  )
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  })
  res.end(html)
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const gzip = asset.gzip !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
  const body = gzip ? asset.gzip! : asset.body
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': body.length,
    // Behind the session: private, never in a shared cache.
    'cache-control': asset.immutable ? 'private, max-age=31536000, immutable' : 'no-store',
    vary: 'accept-encoding',
    ...(gzip ? { 'content-encoding': 'gzip' } : {}),
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}
