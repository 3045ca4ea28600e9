/**
 * Random and mutated requests for a node's control API (fast-check arbitraries), and the judge of
 * each answer: a known status, JSON, and for a refusal a code that docs/control-api.md lists with
 * that status. Never a 500, never a request that would make the node dial off this machine or
 * stop.
 */
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import fc from 'fast-check'

/** Code → HTTP status, from the table of docs/control-api.md (the contract the fuzz holds the node to). */
export function documentedCodes(): Map<string, number> {
  const doc = readFileSync(new URL('../../../docs/control-api.md', import.meta.url), 'utf8')
  const codes = new Map<string, number>()
  for (const line of doc.split('\n')) {
    const row = /^\| (\d{3}) \| ([^|]+) \|/.exec(line)
    if (row === null) continue
    for (const m of row[2]!.matchAll(/`(ERR_[A-Z0-9_]+)`/g)) codes.set(m[1]!, Number(row[1]))
  }
  return codes
}

export type FuzzRequest =
  | {
      readonly kind: 'http'
      readonly method: string
      readonly path: string
      readonly headers: Readonly<Record<string, string>>
      readonly body?: string
    }
  | { readonly kind: 'raw'; readonly bytes: Uint8Array }

export interface Target {
  readonly port: number
  readonly token: string
  /** Ids of tasks that exist and are final (a wait on them answers at once). */
  readonly finalIds: readonly string[]
}

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const
/** Printable ASCII: what an HTTP client may put in a header value. */
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) })
/** An id no task has: a wait on it answers 404 at once. */
const unknownId = fc.uuid().map((u) => `unknown-${u}`)

function taskBody(target: Target): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      type: fc.constantFrom('mock', 'chunk', 'no.such.type', ''),
      input: fc.record(
        { text: fc.string({ maxLength: 40 }), latencyMs: fc.integer({ min: 0, max: 20 }) },
        { requiredKeys: ['text'] },
      ),
      priority: fc.integer({ min: -2, max: 12 }),
      timeoutMs: fc.oneof(fc.integer({ min: -5, max: 4_000_000 }), fc.double()),
      redundancy: fc.integer({ min: 0, max: 20 }),
      // Never an address: a target is a PeerId or a word, and no peer is connected.
      target: fc.constantFrom('self', 'auto', 'local', '', '12D3KooWnotreal', 'not a peer'),
      id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/), fc.constantFrom(...target.finalIds)),
    },
    { requiredKeys: ['type', 'input'] },
  )
}

/** A body mutated: a field set to any JSON value, dropped, or the whole replaced. */
function mutatedBody(target: Target): fc.Arbitrary<string> {
  const fields = ['type', 'input', 'priority', 'timeoutMs', 'redundancy', 'target', 'id', 'extra']
  return fc.oneof(
    { weight: 3, arbitrary: taskBody(target).map((b) => JSON.stringify(b)) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(taskBody(target), fc.constantFrom(...fields), fc.jsonValue(), fc.boolean())
        .map(([body, field, value, drop]) => {
          const copy: Record<string, unknown> = { ...body }
          if (drop) delete copy[field]
          else copy[field] = value
          return JSON.stringify(copy)
        }),
    },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: printable },
    { weight: 1, arbitrary: taskBody(target).map((b) => JSON.stringify(b).slice(0, -3)) },
  )
}

function path(target: Target): fc.Arbitrary<string> {
  const anyId = fc.oneof(unknownId, fc.constantFrom(...target.finalIds), fc.string({ maxLength: 30 }))
  const query = fc
    .dictionary(
      fc.constantFrom('limit', 'offset', 'status', 'type', 'timeoutMs', 'x'),
      fc.oneof(
        fc.integer({ min: -5, max: 2_000 }).map(String),
        printable,
        fc.constantFrom('COMPLETED', 'PENDING'),
      ),
      { maxKeys: 4 },
    )
    .map((q) => new URLSearchParams(q).toString())
  const waitable = fc.oneof(unknownId, fc.constantFrom(...target.finalIds))
  return fc.oneof(
    fc.constantFrom(
      '/v1/status',
      '/v1/peers',
      '/v1/tasks',
      '/v1/models',
      '/v1/events',
      '/v1/shutdown',
      '/',
      '/v1',
      '/v2/status',
    ),
    query.map((q) => `/v1/tasks?${q}`),
    anyId.map((id) => `/v1/tasks/${encodeURIComponent(id)}`),
    anyId.map((id) => `/v1/tasks/${encodeURIComponent(id)}/cancel`),
    // Waits are on ids that answer at once (unknown, or final), with short or malformed timeouts.
    fc
      .tuple(waitable, fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), printable))
      .map(([id, t]) => `/v1/tasks/${encodeURIComponent(id)}/wait?timeoutMs=${encodeURIComponent(t)}`),
    fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)),
    fc.string({ maxLength: 40 }).map((s) => `/v1/${encodeURIComponent(s)}`),
  )
}

function headers(target: Target): fc.Arbitrary<Record<string, string>> {
  const good = { host: `127.0.0.1:${target.port}`, authorization: `Bearer ${target.token}` }
  return fc.oneof(
    { weight: 12, arbitrary: fc.constant(good) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constant(''),
          printable,
          fc.constant(`bearer ${target.token}`),
          fc.constant(`BEARER  ${target.token} `),
          fc.constant(`Basic ${target.token}`),
          fc.constant(`Bearer ${target.token}x`),
        )
        .map((authorization) => ({ ...good, authorization })),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(fc.constant('evil.example'), fc.constant(`localhost:${target.port}`), printable)
        .map((host) => ({ ...good, host })),
    },
  )
}

const contentType = fc.constantFrom(
  'application/json',
  'application/json',
  'Application/JSON; charset=utf-8',
  'text/plain',
  'application/json-seq',
  '',
)

/** Bytes that are not (quite) an HTTP request, or one that announces a body over the limit. */
function raw(target: Target): fc.Arbitrary<Uint8Array> {
  const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
  return fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 200 }),
    fc.string({ maxLength: 100 }).map((s) => enc(`${s}\r\n\r\n`)),
    fc
      .string({ maxLength: 60 })
      .map((h) => enc(`GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\n${h}\r\n\r\n`)),
    fc
      .integer({ min: 16 * 2 ** 20 + 1, max: 2 ** 31 })
      .map((n) =>
        enc(
          `POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nAuthorization: Bearer ${target.token}\r\nContent-Type: application/json\r\nContent-Length: ${n}\r\n\r\n{`,
        ),
      ),
  )
}

/** The path as the server reads it (`new URL` resolves dot segments), if it parses. */
function pathnameOf(path: string): string | undefined {
  try {
    return new URL(path, 'http://127.0.0.1').pathname
  } catch {
    return undefined
  }
}

/** Requests a fuzz run sends, never one that stops the node (`POST /v1/shutdown`). */
export function fuzzRequest(target: Target): fc.Arbitrary<FuzzRequest> {
  const http = fc
    .record({
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...METHODS) },
        fc.stringMatching(/^[A-Z]{1,8}$/),
      ),
      path: path(target),
      headers: headers(target),
      body: fc.option(mutatedBody(target), { nil: undefined }),
      type: contentType,
    })
    .map(({ method, path, headers, body, type }): FuzzRequest => {
      const stops = method === 'POST' && pathnameOf(path) === '/v1/shutdown'
      return {
        kind: 'http',
        method: stops ? 'PUT' : method,
        path,
        // Node's client sends a HEAD's body without framing it: the bytes would be a second,
        // malformed request on the connection (the raw cases send such bytes on purpose).
        ...(body === undefined || method === 'HEAD'
          ? { headers }
          : // Framed: Node's client sends the body of a GET, DELETE or OPTIONS unframed otherwise.
            {
              headers: {
                ...headers,
                'content-type': type,
                'content-length': String(Buffer.byteLength(body)),
              },
              body,
            }),
      }
    })
  return fc.oneof(
    { weight: 19, arbitrary: http },
    { weight: 1, arbitrary: raw(target).map((bytes): FuzzRequest => ({ kind: 'raw', bytes })) },
  )
}

export interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 })

/**
 * Closes the connections the agent keeps idle. Call it after the event loop was blocked (sampling
 * 10,000 requests): the server closed those idle for its keep-alive timeout (5 s) meanwhile, and
 * the agent, which has not yet seen them close, would send the next request on one of them.
 */
export function dropIdleConnections(): void {
  for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy()
}

/** Sends one request; undefined when the HTTP client itself refused to send it (an invalid header). */
export function send(port: number, r: FuzzRequest): Promise<Answer | undefined> {
  if (r.kind === 'raw') return sendRaw(port, r.bytes)
  return new Promise((resolve, reject) => {
    let req: ReturnType<typeof request>
    try {
      req = request(
        {
          host: '127.0.0.1',
          port,
          method: r.method,
          path: r.path,
          headers: r.headers,
          agent,
          timeout: 30_000,
        },
        (res) => {
          const type = String(res.headers['content-type'] ?? '')
          // The event stream stays open for as long as the client listens: its head is the answer.
          if (type.startsWith('application/x-ndjson')) {
            res.destroy()
            resolve({ status: res.statusCode ?? 0, contentType: type, body: '' })
            return
          }
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            body += chunk
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: type, body }))
          res.on('error', reject)
        },
      )
    } catch {
      // Node's client validates methods, paths and header values before sending.
      resolve(undefined)
      return
    }
    req.on('timeout', () => req.destroy(new Error(`no answer to ${r.method} ${r.path} within 30 s`)))
    req.on('error', reject)
    req.end(r.body)
  })
}

function sendRaw(port: number, bytes: Uint8Array): Promise<Answer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes))
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.setTimeout(5_000, () => socket.destroy())
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close as soon as it answered, before we finished writing.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return
      reject(err)
    })
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      if (text === '') {
        resolve(undefined)
        return
      }
      const head = /^HTTP\/1\.1 (\d{3})/.exec(text)
      const split = text.indexOf('\r\n\r\n')
      const type = /content-type: ([^\r\n]*)/i.exec(text.slice(0, split))?.[1] ?? ''
      resolve({ status: head === null ? 0 : Number(head[1]), contentType: type, body: text.slice(split + 4) })
    })
  })
}

/** What is wrong with an answer, or undefined when it keeps the contract. */
export function judge(r: FuzzRequest, a: Answer, codes: ReadonlyMap<string, number>): string | undefined {
  if (a.status === 500 || a.status === 0) return `status ${a.status}: ${a.body.slice(0, 200)}`
  const head = r.kind === 'http' && r.method === 'HEAD'
  if (a.contentType.startsWith('application/x-ndjson'))
    return a.status === 200 ? undefined : `events answered ${a.status}`
  if (head) return a.body === '' ? undefined : 'a HEAD answer has a body'
  let body: unknown
  try {
    body = JSON.parse(a.body)
  } catch {
    return `status ${a.status} with a body that is not JSON: ${a.body.slice(0, 100)}`
  }
  if (typeof body !== 'object' || body === null) return `status ${a.status} with a body that is not an object`
  if (a.status < 400) return a.status === 200 || a.status === 202 ? undefined : `status ${a.status}`
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error
  if (typeof error?.code !== 'string' || typeof error.message !== 'string' || error.message === '') {
    return `status ${a.status} without { error: { code, message } }: ${a.body.slice(0, 200)}`
  }
  const documented = codes.get(error.code)
  if (documented === undefined)
    return `status ${a.status} with ${error.code}, a code docs/control-api.md does not list`
  if (documented !== a.status)
    return `${error.code} came with status ${a.status}; docs/control-api.md says ${documented}`
  return undefined
}
