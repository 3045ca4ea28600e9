/**
 * The scrape endpoint: `GET /metrics` over plain HTTP, on loopback unless told otherwise, with an
 * optional bearer token (compared in constant time). Everything else is 404; only GET and HEAD.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT } from '@p2p-ai/node'
import { MetricsListenError, MetricsTokenError } from './errors.js'

/** What the endpoint serves: `NodeMetrics` is one. */
export interface MetricsSource {
  exposition(): Promise<string>
  readonly contentType: string
}

export interface MetricsServerOptions {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 9100 */
  port?: number
  /** A token scrapes must send as `Authorization: Bearer <token>`. @default none */
  token?: string
  /** Called when building the exposition fails (it is answered 500). */
  onError?: (err: unknown) => void
}

export interface MetricsServer {
  /** `http://<host>:<port>/metrics` */
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

/** The path Prometheus scrapes by default. */
export const METRICS_PATH = '/metrics'

/**
 * Serves `source` at `http://<host>:<port>/metrics`. Rejects with `MetricsListenError` when the
 * address cannot be had (the port is taken, the host is not this machine's).
 */
export async function serveMetrics(
  source: MetricsSource,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const host = options.host ?? DEFAULT_METRICS_HOST
  const expected = options.token === undefined ? undefined : digest(options.token)
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      options.onError?.(err)
      if (!res.headersSent) answer(res, 500, 'could not collect the metrics\n')
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname
    if (path !== METRICS_PATH) return answer(res, 404, `not found; metrics are at ${METRICS_PATH}\n`)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD')
      return answer(res, 405, 'use GET\n')
    }
    if (expected !== undefined) {
      const given = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')?.[1]
      if (given === undefined || !timingSafeEqual(digest(given), expected)) {
        res.setHeader('www-authenticate', 'Bearer')
        return answer(res, 401, 'a bearer token is required (metrics.tokenFile)\n')
      }
    }
    const text = await source.exposition()
    res.writeHead(200, {
      'content-type': source.contentType,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    })
    res.end(req.method === 'HEAD' ? undefined : text)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new MetricsListenError(host, options.port ?? DEFAULT_METRICS_PORT, listenReason(err), { cause: err }),
      ),
    )
    server.listen({ host, port: options.port ?? DEFAULT_METRICS_PORT }, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | undefined
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}${METRICS_PATH}`,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    },
  }
}

/**
 * The token in a token file: its first line, trimmed (Prometheus's `credentials_file` format).
 * Rejects with `MetricsTokenError` for a file that is missing, unreadable or has no token.
 */
export async function readTokenFile(path: string): Promise<string> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new MetricsTokenError(
      path,
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message,
      { cause: err },
    )
  }
  const token = text.split(/\r?\n/)[0]?.trim() ?? ''
  if (token === '') throw new MetricsTokenError(path, 'the file holds no token (its first line is empty)')
  if (/\s/.test(token)) throw new MetricsTokenError(path, 'a token has no spaces')
  return token
}

function listenReason(err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return 'the port is in use (another node on this machine?)'
  if (err.code === 'EADDRNOTAVAIL') return 'the address is not one of this machine'
  if (err.code === 'EACCES') return 'permission denied (ports below 1024 need privileges)'
  return err.message
}

function answer(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}
