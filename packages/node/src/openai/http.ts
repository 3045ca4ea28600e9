/** Reading requests and writing answers, JSON and server-sent events, in OpenAI's formats. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_OPENAI_BODY_BYTES } from './constants.js'
import { invalidRequest, OpenAIError } from './errors.js'

/** The request body as a JSON object, within `MAX_OPENAI_BODY_BYTES`. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new OpenAIError(415, 'invalid_request_error', 'send the body as Content-Type: application/json', {
      code: 'unsupported_media_type',
    })
  }
  if (Number(req.headers['content-length'] ?? 0) > MAX_OPENAI_BODY_BYTES) throw tooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_OPENAI_BODY_BYTES) throw tooLarge()
    chunks.push(chunk as Buffer)
  }
  let value: unknown
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (err) {
    throw invalidRequest(`We could not parse the JSON body of your request: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidRequest('The body of your request must be a JSON object')
  }
  return value as Record<string, unknown>
}

function tooLarge(): OpenAIError {
  return new OpenAIError(
    413,
    'invalid_request_error',
    `request bodies are limited to ${MAX_OPENAI_BODY_BYTES} bytes`,
    {
      code: 'request_too_large',
    },
  )
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  })
  res.end(text)
}

/** Answers with an OpenAI error object: as JSON, or as an event once a stream has begun. */
export function sendError(res: ServerResponse, error: OpenAIError): void {
  if (!res.headersSent) {
    sendJson(res, error.status, error.body())
    return
  }
  // OpenAI's clients raise an `APIError` for an event that carries `error`.
  if (!res.writableEnded) {
    writeEvent(res, error.body())
    res.end()
  }
}

/** Starts a server-sent event stream (text/event-stream), as OpenAI streams completions. */
export function startEvents(res: ServerResponse, headers: Record<string, string>): void {
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  })
  res.flushHeaders()
}

/** One `data:` event; JSON has no raw line breaks, so one line is enough. */
export function writeEvent(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
}
