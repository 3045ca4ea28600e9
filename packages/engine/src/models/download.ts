import { createHash, type Hash } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, open, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import { dirname } from 'node:path'
import { LOCK_SUFFIX, MAX_REDIRECTS, PARTIAL_SUFFIX } from '../constants.js'
import { type DownloadFailureReason, ModelDownloadFailedError } from '../errors.js'

export interface DownloadOptions {
  readonly signal?: AbortSignal
  /** Fail when no byte arrives for this long (also bounds connecting). */
  readonly stallTimeoutMs: number
  readonly headers?: Readonly<Record<string, string>>
  /** Custom DNS resolution for the sockets (`net.LookupFunction`). */
  readonly lookup?: LookupFunction
  /**
   * Bytes of the file so far (what a resumed download already had included), its size when the
   * server says, and how many bytes were already there when this download started.
   */
  readonly onBytes?: (received: number, total: number | undefined, resumedFrom: number) => void
}

export interface Downloaded {
  readonly sha256: string
  readonly sizeBytes: number
  /** Bytes kept from an earlier, interrupted download of the file (0 for a fresh one). */
  readonly resumedFrom: number
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
  busy: 'another download of the same file is in progress',
  'bad-response': 'the server answered with something unexpected',
}

export function failure(
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
  options: Omit<DownloadOptions, 'onBytes'>,
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

/** A response after redirects, with the sha256 any hop announced. */
export interface Opened {
  readonly res: IncomingMessage
  readonly sha256: string | undefined
  /** Set when the socket went quiet for the stall timeout; the body's close then reads as one. */
  readonly state: { stalled: boolean }
}

/**
 * GETs `url`, following redirects (dropping `Authorization` when the origin changes), and resolves
 * with the final response whatever its status. Its body must be listened to at once: no await may
 * sit between this resolving and the first listener, or a body that ends (or breaks) meanwhile
 * goes unnoticed.
 */
export async function openUrl(
  url: string,
  options: Omit<DownloadOptions, 'onBytes'>,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<Opened> {
  let current = new URL(url)
  const origin = current.origin
  let sha256: string | undefined
  const state = { stalled: false }
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { ...options.headers, ...extraHeaders }
    if (current.origin !== origin) delete headers.authorization
    let res: IncomingMessage
    try {
      res = await get(current, options, headers, state)
    } catch (err) {
      options.signal?.throwIfAborted()
      throw failure(url, reasonOf(err), (err as NodeJS.ErrnoException).code ?? (err as Error).message, {
        cause: err,
      })
    }
    sha256 ??= announcedSha256(res)
    const status = res.statusCode ?? 0
    if (!REDIRECTS.has(status)) return { res, sha256, state }
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
}

/** The refusal of a non-2xx response (its body discarded). */
export function statusFailure(url: string, res: IncomingMessage): ModelDownloadFailedError {
  res.resume()
  const status = res.statusCode ?? 0
  return failure(url, 'http-status', `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, {
    status,
  })
}

/**
 * Holds `<dest>.lock` while a download of `dest` runs, so two pulls never write one partial file.
 * A lock left by a process that is gone is taken over.
 */
async function lock(url: string, dest: string): Promise<() => Promise<void>> {
  const file = `${dest}${LOCK_SUFFIX}`
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => rm(file, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw failure(url, 'filesystem', (err as Error).message, { cause: err })
      }
    }
    const pid = Number(await readFile(file, 'utf8').catch(() => ''))
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) {
      throw failure(url, 'busy', `pid ${pid} holds ${file}`)
    }
    await unlink(file).catch(() => {})
  }
  throw failure(url, 'busy', `${file} was taken meanwhile`)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const sizeOf = (file: string): Promise<number> =>
  stat(file).then(
    (s) => s.size,
    () => 0,
  )

/** Bytes already in the partial file, hashed into `hash` (streamed). */
async function hashPrefix(partial: string, hash: Hash, signal: AbortSignal | undefined): Promise<number> {
  const size = await sizeOf(partial)
  if (size === 0) return 0
  for await (const chunk of createReadStream(partial, { end: size - 1, signal })) hash.update(chunk as Buffer)
  return size
}

/** The first byte and the total of a Content-Range header (`bytes 10-99/100`; `bytes *\/100` in a 416). */
function contentRange(res: IncomingMessage): { first?: number; total?: number } {
  const m = /^bytes (?:(\d+)-\d+|\*)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '')
  if (m === null) return {}
  return {
    ...(m[1] === undefined ? {} : { first: Number(m[1]) }),
    ...(m[2] === '*' ? {} : { total: Number(m[2]) }),
  }
}

/**
 * Downloads `url` to `dest`, resumably: bytes go to `<dest>.partial`, hashed on the way, and the
 * file is checked against the length and sha256 the server announces, then renamed into place. A
 * download cut short (network, stall, abort, full disk) keeps its partial file, and the next
 * download of `dest` asks only for the rest (an HTTP Range request); a server that ignores the
 * range sends the whole file again. Bytes that fail the sha256 check are deleted, and a resumed
 * download that fails it (the file changed on the server) starts once more from the beginning.
 * Follows redirects (dropping `Authorization` when the origin changes). `<dest>.lock` keeps a
 * second download of the same file out (`reason: 'busy'`). Aborting rejects with the signal's
 * reason.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions): Promise<Downloaded> {
  try {
    await mkdir(dirname(dest), { recursive: true })
  } catch (err) {
    throw failure(url, 'filesystem', (err as Error).message, { cause: err })
  }
  const unlock = await lock(url, dest)
  const partial = `${dest}${PARTIAL_SUFFIX}`
  try {
    const resuming = (await sizeOf(partial)) > 0
    try {
      return await attempt(url, dest, partial, options)
    } catch (err) {
      if (!(resuming && err instanceof ModelDownloadFailedError && err.reason === 'integrity')) throw err
      return await attempt(url, dest, partial, options)
    }
  } finally {
    await unlock()
  }
}

async function attempt(
  url: string,
  dest: string,
  partial: string,
  options: DownloadOptions,
): Promise<Downloaded> {
  const hash = createHash('sha256')
  let resumedFrom = await hashPrefix(partial, hash, options.signal)
  options.signal?.throwIfAborted()
  const opened = await openUrl(url, options, resumedFrom > 0 ? { range: `bytes=${resumedFrom}-` } : {})
  const { res, state } = opened
  const status = res.statusCode ?? 0
  const range = contentRange(res)
  if (status === 416 && resumedFrom > 0 && range.total === resumedFrom) {
    // Everything had arrived already: only the check and the rename were missing.
    res.resume()
    return finish(url, dest, partial, hash, resumedFrom, resumedFrom, opened.sha256)
  }
  if (status === 416 || (status === 206 && range.first !== resumedFrom)) {
    // The partial file does not fit what the server has now: start over.
    res.resume()
    await rm(partial, { force: true })
    return attempt(url, dest, partial, options)
  }
  if (status < 200 || status > 299) throw statusFailure(url, res)
  const lengthHeader = Number(res.headers['content-length'])
  const length = Number.isSafeInteger(lengthHeader) && lengthHeader >= 0 ? lengthHeader : undefined
  // A 200 is the whole file, also when a range was asked for (a server that ignores ranges).
  const whole = status !== 206
  if (whole) resumedFrom = 0
  const sum = whole ? createHash('sha256') : hash
  const total = whole ? length : (range.total ?? (length === undefined ? undefined : resumedFrom + length))
  let received = resumedFrom
  const out = createWriteStream(partial, { flags: whole ? 'w' : 'a' })
  await new Promise<void>((resolve, reject) => {
    let settled = false
    const stop = (err: unknown): void => {
      if (settled) return
      settled = true
      res.destroy()
      // What was written stays: a prefix of the file, which the next download continues from.
      out.end()
      out.once('close', () => reject(err))
      out.once('error', () => reject(err))
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
    out.on('error', (err) => {
      if (settled) return
      settled = true
      res.destroy()
      reject(failure(url, 'filesystem', err.message, { cause: err }))
    })
    const onAbort = (): void => stop(options.signal?.reason)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    res.on('data', (chunk: Buffer) => {
      sum.update(chunk)
      received += chunk.length
      options.onBytes?.(received, total, resumedFrom)
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
  return finish(url, dest, partial, sum, received, resumedFrom, opened.sha256)
}

/** Checks the whole file's sha256 and moves it into place; wrong bytes are deleted. */
async function finish(
  url: string,
  dest: string,
  partial: string,
  hash: Hash,
  sizeBytes: number,
  resumedFrom: number,
  expected: string | undefined,
): Promise<Downloaded> {
  const sha256 = hash.digest('hex')
  if (expected !== undefined && sha256 !== expected) {
    await rm(partial, { force: true })
    throw failure(url, 'integrity', `sha256 ${sha256}, announced ${expected}`)
  }
  try {
    await rename(partial, dest)
  } catch (err) {
    throw failure(url, 'filesystem', (err as Error).message, { cause: err })
  }
  return { sha256, sizeBytes, resumedFrom }
}
