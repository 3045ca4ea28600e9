import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import { dirname } from 'node:path'
import { MAX_REDIRECTS } from '../constants.js'
import { type DownloadFailureReason, ModelDownloadFailedError } from '../errors.js'

export interface DownloadOptions {
  readonly signal?: AbortSignal
  /** Fail when no byte arrives for this long (also bounds connecting). */
  readonly stallTimeoutMs: number
  readonly headers?: Readonly<Record<string, string>>
  /** Custom DNS resolution for the sockets (`net.LookupFunction`). */
  readonly lookup?: LookupFunction
  readonly onBytes?: (received: number, total: number | undefined) => void
}

export interface Downloaded {
  readonly sha256: string
  readonly sizeBytes: number
}

const SHA256_RE = /^[0-9a-f]{64}$/
const REDIRECTS = new Set([301, 302, 303, 307, 308])

function reasonOf(err: unknown): DownloadFailureReason {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return 'dns'
    case 'ECONNREFUSED':
      return 'connection-refused'
    case 'ETIMEDOUT':
      return 'timeout'
    default:
      return 'network'
  }
}

const EXPLAIN: Record<DownloadFailureReason, string> = {
  dns: 'the host name did not resolve (offline, or no such host)',
  'connection-refused': 'the connection was refused (nothing listens there)',
  network: 'the connection failed',
  timeout: 'no data arrived in time',
  'http-status': 'the server refused',
  integrity: 'the data does not match its announced sha256',
  redirect: 'too many or broken redirects',
  filesystem: 'the file could not be written',
}

function failure(
  url: string,
  reason: DownloadFailureReason,
  detail: string,
  extra: { status?: number; cause?: unknown } = {},
): ModelDownloadFailedError {
  return new ModelDownloadFailedError(
    `cannot download ${url}: ${EXPLAIN[reason]} (${detail})`,
    { reason, url, ...(extra.status === undefined ? {} : { status: extra.status }) },
    extra.cause === undefined ? undefined : { cause: extra.cause },
  )
}

/** The sha256 a Hugging Face-style server announces: `X-Linked-Etag` (LFS) or a 64-hex `ETag`. */
function announcedSha256(res: IncomingMessage): string | undefined {
  for (const header of ['x-linked-etag', 'etag']) {
    const value = res.headers[header]
    const v = (Array.isArray(value) ? value[0] : value)?.replace(/^W\//, '').replaceAll('"', '').toLowerCase()
    if (v !== undefined && SHA256_RE.test(v)) return v
  }
  return undefined
}

/** One GET, resolving with the response (any status); rejects on socket errors and stalls. */
function get(
  url: URL,
  options: DownloadOptions,
  headers: Record<string, string>,
  state: { stalled: boolean },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest
    const req = send(url, {
      method: 'GET',
      headers,
      ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    req.setTimeout(options.stallTimeoutMs, () => {
      state.stalled = true
      req.destroy(
        Object.assign(new Error(`no response in ${options.stallTimeoutMs} ms`), { code: 'ETIMEDOUT' }),
      )
    })
    req.once('response', resolve)
    req.once('error', reject)
    req.end()
  })
}

/**
 * Downloads `url` to `dest` atomically: streamed into a temporary file beside it, hashed on the way,
 * checked against the length and sha256 the server announces, then renamed into place. Follows
 * redirects (dropping `Authorization` when the origin changes). Aborting rejects with the signal's
 * reason and leaves nothing behind.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions): Promise<Downloaded> {
  // The directory comes first: no await may sit between receiving the response and listening to
  // it, or a body that ends (or breaks) meanwhile goes unnoticed and the download hangs.
  try {
    await mkdir(dirname(dest), { recursive: true })
  } catch (err) {
    throw failure(url, 'filesystem', (err as Error).message, { cause: err })
  }
  let current = new URL(url)
  const origin = current.origin
  let expectedSha: string | undefined
  let res: IncomingMessage | undefined
  // Set when the socket went quiet for stallTimeoutMs; the body's close then reads as a timeout.
  const state = { stalled: false }
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { ...options.headers }
    if (current.origin !== origin) delete headers.authorization
    try {
      res = await get(current, options, headers, state)
    } catch (err) {
      options.signal?.throwIfAborted()
      throw failure(url, reasonOf(err), (err as NodeJS.ErrnoException).code ?? (err as Error).message, {
        cause: err,
      })
    }
    expectedSha ??= announcedSha256(res)
    const status = res.statusCode ?? 0
    if (!REDIRECTS.has(status)) break
    res.resume()
    const location = res.headers.location
    if (location === undefined || hop >= MAX_REDIRECTS) {
      throw failure(
        url,
        'redirect',
        location === undefined ? `HTTP ${status} without Location` : `${hop + 1} redirects`,
      )
    }
    current = new URL(location, current)
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw failure(url, 'redirect', `redirect to unsupported ${current.protocol} URL`)
    }
  }
  const status = res.statusCode ?? 0
  if (status < 200 || status > 299) {
    res.resume()
    throw failure(url, 'http-status', `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, {
      status,
    })
  }
  const lengthHeader = Number(res.headers['content-length'])
  const total = Number.isSafeInteger(lengthHeader) && lengthHeader >= 0 ? lengthHeader : undefined
  const tmp = `${dest}.part-${process.pid}-${randomBytes(4).toString('hex')}`
  const hash = createHash('sha256')
  let received = 0
  const out = createWriteStream(tmp)
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false
      const stop = (err: unknown): void => {
        if (settled) return
        settled = true
        res.destroy()
        out.destroy()
        reject(err)
      }
      // The socket timeout set in get() keeps firing between chunks: a stalled body fails too.
      const cut = (err?: Error): void =>
        stop(
          options.signal?.aborted === true
            ? options.signal.reason
            : state.stalled
              ? failure(url, 'timeout', `no data for ${options.stallTimeoutMs} ms after ${received} bytes`)
              : failure(
                  url,
                  err === undefined ? 'network' : reasonOf(err),
                  err?.message ?? 'connection closed mid-body',
                  {
                    cause: err,
                  },
                ),
        )
      let ended = false
      res.on('error', cut)
      res.on('aborted', () => cut())
      // Whatever else happens, a response that closes before its end is cut short.
      res.on('close', () => {
        if (!ended) cut()
      })
      if (res.destroyed && !res.complete) cut()
      out.on('error', (err) => stop(failure(url, 'filesystem', err.message, { cause: err })))
      const onAbort = (): void => stop(options.signal?.reason)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk)
        received += chunk.length
        options.onBytes?.(received, total)
        if (!out.write(chunk)) {
          res.pause()
          out.once('drain', () => res.resume())
        }
      })
      res.on('end', () => {
        ended = true
        options.signal?.removeEventListener('abort', onAbort)
        if (settled) return
        if (!res.complete) return stop(failure(url, 'network', 'connection closed mid-body'))
        out.end(() => {
          if (settled) return
          settled = true
          resolve()
        })
      })
    })
    if (total !== undefined && received !== total) {
      throw failure(url, 'network', `received ${received} of ${total} bytes`)
    }
    const sha256 = hash.digest('hex')
    if (expectedSha !== undefined && sha256 !== expectedSha) {
      throw failure(url, 'integrity', `sha256 ${sha256}, announced ${expectedSha}`)
    }
    try {
      await rename(tmp, dest)
    } catch (err) {
      throw failure(url, 'filesystem', (err as Error).message, { cause: err })
    }
    return { sha256, sizeBytes: received }
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
