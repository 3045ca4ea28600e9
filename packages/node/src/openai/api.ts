/**
 * The OpenAI-compatible API of a node: `GET /models`, `POST /chat/completions` (streaming or not)
 * and `POST /embeddings` under a base path, in OpenAI's wire format, each request a task routed
 * through the swarm (`target: 'auto'`: this node or the best peer, with failover). Mount it on any
 * `node:http` server; the `p2p-ai-agents` CLI serves it on the node's control server, at
 * `/openai/v1`, behind the control token (docs/openai.md).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TaskTarget } from '../exchange/types.js'
import { answerChat, type GenerationOutput, parseChatRequest, streamChat } from './chat.js'
import {
  DEFAULT_EMBED_TIMEOUT_MS,
  DEFAULT_GENERATE_TIMEOUT_MS,
  DEFAULT_OPENAI_BASE_PATH,
  TARGET_HEADER,
  TASK_ID_HEADER,
} from './constants.js'
import { answerEmbeddings, type EmbeddingOutput, parseEmbeddingsRequest } from './embeddings.js'
import { fromFailure, invalidRequest, modelNotFound, OpenAIError } from './errors.js'
import { readJson, sendError, sendJson } from './http.js'
import { modelObject, type OpenAINode, type OpenAITaskType, swarmModels } from './models.js'

export interface OpenAIApiInit {
  /** The node whose swarm runs the requests (a `P2PNode`). */
  readonly node: OpenAINode
  /**
   * The API key clients must send (`Authorization: Bearer <apiKey>`, as OpenAI's clients do).
   * Leave it out when the server in front checks it already, as the CLI's control server does.
   */
  readonly apiKey?: string
  /** Path the API is served under. @default '/v1' */
  readonly basePath?: string
  /** Time a chat completion may take, queueing and failover included. @default 600000 */
  readonly generateTimeoutMs?: number
  /** Time an embeddings request may take. @default 60000 */
  readonly embedTimeoutMs?: number
}

export interface OpenAIApi {
  /** The base path, e.g. `/v1`. */
  readonly basePath: string
  /**
   * Serves `req` if its path is under `basePath` (resolving true once answered), and leaves it
   * alone otherwise (resolving false, nothing written). Never rejects: failures are answered with
   * OpenAI's error objects.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>
}

/** The OpenAI-compatible API of `init.node`. */
export function openaiApi(init: OpenAIApiInit): OpenAIApi {
  const basePath = (init.basePath ?? DEFAULT_OPENAI_BASE_PATH).replace(/\/+$/, '')
  const key = init.apiKey === undefined ? undefined : digest(init.apiKey)
  const generateTimeoutMs = init.generateTimeoutMs ?? DEFAULT_GENERATE_TIMEOUT_MS
  const embedTimeoutMs = init.embedTimeoutMs ?? DEFAULT_EMBED_TIMEOUT_MS
  const { node } = init

  /** The model, served for `type` by this node or a connected peer, or OpenAI's 404. */
  function checkModel(model: string, type: OpenAITaskType): void {
    if (!swarmModels(node).some((m) => m.id === model && m.taskTypes.includes(type))) {
      throw modelNotFound(model, type === 'generate' ? 'chat completions' : 'embeddings')
    }
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    signal: AbortSignal,
  ): Promise<void> {
    if (key !== undefined) authorize(req, key)
    const method = req.method ?? 'GET'
    const target = targetOf(req)
    if (path === '/models') {
      allow(method, 'GET')
      sendJson(res, 200, { object: 'list', data: swarmModels(node).map(modelObject) })
      return
    }
    const one = /^\/models\/(.+)$/.exec(path)
    if (one !== null) {
      allow(method, 'GET')
      const id = decodeURIComponent(one[1] as string)
      const model = swarmModels(node).find((m) => m.id === id)
      if (model === undefined)
        throw new OpenAIError(404, 'invalid_request_error', `The model \`${id}\` does not exist`, {
          param: 'model',
          code: 'model_not_found',
        })
      sendJson(res, 200, modelObject(model))
      return
    }
    if (path === '/chat/completions') {
      allow(method, 'POST')
      const request = parseChatRequest(await readJson(req))
      checkModel(request.model, 'generate')
      const handle = node.submit<GenerationOutput>(
        { type: 'generate', input: request.input, timeoutMs: generateTimeoutMs },
        { target, signal },
      )
      if (request.stream) await streamChat(res, request, handle, signal)
      else await answer(res, handle.id, () => answerChat(res, request, handle))
      return
    }
    if (path === '/embeddings') {
      allow(method, 'POST')
      const request = parseEmbeddingsRequest(await readJson(req))
      checkModel(request.model, 'embed')
      const handle = node.submit<EmbeddingOutput>(
        { type: 'embed', input: request.input, timeoutMs: embedTimeoutMs },
        { target, signal },
      )
      await answer(res, handle.id, () => answerEmbeddings(res, request, handle))
      return
    }
    throw new OpenAIError(
      404,
      'invalid_request_error',
      `Unknown request URL: ${req.method} ${basePath}${path}`,
      {
        code: 'unknown_url',
      },
    )
  }

  return {
    basePath,
    async handle(req, res) {
      // Appended, not resolved: a target starting with `//` is a path, not another host (nor a throw).
      const target = req.url ?? '/'
      const url = new URL(`http://localhost${target.startsWith('/') ? target : '/'}`)
      if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return false
      // Aborts when the client goes away before its answer: the task is cancelled with it.
      const controller = new AbortController()
      res.once('close', () => {
        if (!res.writableFinished) controller.abort()
      })
      try {
        await route(req, res, url.pathname.slice(basePath.length), controller.signal)
      } catch (err) {
        if (!controller.signal.aborted) sendError(res, fromFailure(err))
      }
      return true
    },
  }
}

/** Waits for a task's answer, sending its id along with a failure, for `task status`. */
async function answer(res: ServerResponse, taskId: string, send: () => Promise<void>): Promise<void> {
  try {
    await send()
  } catch (err) {
    res.setHeader(TASK_ID_HEADER, taskId)
    throw err
  }
}

function targetOf(req: IncomingMessage): TaskTarget {
  const header = req.headers[TARGET_HEADER]
  if (header === undefined) return 'auto'
  if (typeof header !== 'string' || header === '')
    throw invalidRequest(`${TARGET_HEADER} must be auto, local or a PeerId`)
  return header
}

function allow(method: string, expected: string): void {
  if (method !== expected) {
    throw new OpenAIError(405, 'invalid_request_error', `use ${expected} here, not ${method}`, {
      code: 'method_not_allowed',
    })
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

/** Checks `Authorization: Bearer <key>` in constant time, answering as OpenAI does (401). */
function authorize(req: IncomingMessage, key: Buffer): void {
  const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '')
  const given = match?.[1]
  if (given === undefined || !timingSafeEqual(digest(given), key)) {
    throw unauthorized(given === undefined ? 'You didn’t provide an API key.' : 'Incorrect API key provided.')
  }
}

function unauthorized(message: string): OpenAIError {
  return new OpenAIError(
    401,
    'invalid_request_error',
    `${message} Use the node's control token (control.token in its data directory) as the API key.`,
    {
      code: 'invalid_api_key',
    },
  )
}
