/** The HTTP pieces the dashboard's server answers with: errors, JSON, bodies, server-sent events. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_BODY_BYTES } from '../constants.js'

/** An error answer: its status and `{ error: { code, message } }`. */
export class HttpError extends Error {
  readonly status: number
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, 'ERR_BAD_REQUEST', message)

/** Any thrown value as an answer: coded errors of the node are the client's to fix (400). */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  const e = err as { code?: unknown; message?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  if (e?.code === 'ERR_NODE_STOPPING') return new HttpError(503, e.code, message)
  if (typeof e?.code === 'string' && e.code.startsWith('ERR_') && e.code !== 'ERR_INTERNAL') {
    return new HttpError(400, e.code, message)
  }
  return new HttpError(500, 'ERR_INTERNAL', message)
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}

/** A JSON object body of at most `MAX_BODY_BYTES`. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new HttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'send the body as Content-Type: application/json')
  }
  const text = await readBody(req)
  let value: unknown
  try {
    value = JSON.parse(text || '{}')
  } catch (err) {
    throw badRequest(`the body is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('the body must be a JSON object')
  }
  return value as Record<string, unknown>
}

/** A form body (`application/x-www-form-urlencoded`). */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readBody(req))
}

async function readBody(req: IncomingMessage): Promise<string> {
  const tooLarge = (): HttpError =>
    new HttpError(413, 'ERR_PAYLOAD_TOO_LARGE', `request bodies are limited to ${MAX_BODY_BYTES} bytes`)
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw tooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Starts a server-sent event stream. */
export function startEvents(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // No buffering proxy between: but a reverse proxy in front (nginx) would otherwise hold events.
    'x-accel-buffering': 'no',
  })
  res.flushHeaders()
}

/** Writes one event; false once the client is this many bytes behind. */
export function writeEvent(res: ServerResponse, type: string, data: unknown, maxBuffered: number): boolean {
  if (res.destroyed) return false
  res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`)
  return res.writableLength <= maxBuffered
}

/** The value of one cookie of a request. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
