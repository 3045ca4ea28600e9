/**
 * `POST /chat/completions`: OpenAI's chat request as a `generate` task (chat messages, rendered
 * with the model's own chat template by the provider), and the task's output as OpenAI's
 * `chat.completion`, or its stream as `chat.completion.chunk` events.
 */
import type { ServerResponse } from 'node:http'
import type { NetworkTaskHandle, TaskStreamEvent } from '../exchange/types.js'
import { PEER_HEADER, TASK_ID_HEADER } from './constants.js'
import { fromFailure, invalidRequest, OpenAIError } from './errors.js'
import { sendError, sendJson, startEvents, writeEvent } from './http.js'

/** The `generate` output fields this module reads (the task's output type lives in `@p2p-ai/llama`). */
export interface GenerationOutput {
  readonly text: string
  readonly finishReason: 'stop' | 'length' | 'stopSequence'
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number }
}

/** A chat request, checked and turned into a `generate` input. */
export interface ChatRequest {
  readonly model: string
  readonly input: Record<string, unknown>
  readonly stream: boolean
  readonly includeUsage: boolean
}

const ROLES: Readonly<Record<string, 'system' | 'user' | 'assistant'>> = {
  system: 'system',
  // OpenAI's newer name for the system role.
  developer: 'system',
  user: 'user',
  assistant: 'assistant',
}

/**
 * Checks a chat request as OpenAI would and maps it. Sampling follows OpenAI's defaults
 * (temperature 1, top_p 1, no top-k); `temperature: 0` is greedy decoding, the same text on every
 * run and every node. What cannot be honoured (tools, several choices, log probabilities, images)
 * is refused, naming the parameter, rather than silently ignored.
 */
export function parseChatRequest(body: Record<string, unknown>): ChatRequest {
  const model = body.model
  if (typeof model !== 'string' || model === '')
    throw invalidRequest('you must provide a model parameter', 'model')
  const messages = body.messages
  if (!Array.isArray(messages) || messages.length === 0) {
    throw invalidRequest('messages must be a non-empty array', 'messages')
  }
  const mapped = messages.map((m, i) => chatMessage(m, i))
  for (const name of ['tools', 'functions', 'tool_choice', 'function_call', 'audio', 'prediction']) {
    if (body[name] !== undefined && body[name] !== null) {
      throw invalidRequest(`${name} is not supported by this server`, name, 'unsupported_parameter')
    }
  }
  if (body.n !== undefined && body.n !== null && body.n !== 1) {
    throw invalidRequest('only n = 1 is supported', 'n', 'unsupported_value')
  }
  if (body.logprobs === true)
    throw invalidRequest('logprobs are not supported', 'logprobs', 'unsupported_value')
  const format = (body.response_format as { type?: unknown } | undefined)?.type
  if (format !== undefined && format !== 'text') {
    throw invalidRequest(
      `response_format ${String(format)} is not supported`,
      'response_format',
      'unsupported_value',
    )
  }
  for (const name of ['frequency_penalty', 'presence_penalty']) {
    if (body[name] !== undefined && body[name] !== null && body[name] !== 0) {
      throw invalidRequest(`${name} is not supported (only 0)`, name, 'unsupported_value')
    }
  }
  const maxTokens = body.max_completion_tokens ?? body.max_tokens
  const stop = typeof body.stop === 'string' ? [body.stop] : body.stop
  const input: Record<string, unknown> = {
    model,
    messages: mapped,
    temperature: number(body.temperature, 'temperature') ?? 1,
    topP: number(body.top_p, 'top_p') ?? 1,
    topK: 0,
    ...(maxTokens === undefined || maxTokens === null ? {} : { maxTokens }),
    ...(body.seed === undefined || body.seed === null ? {} : { seed: body.seed }),
    ...(stop === undefined || stop === null ? {} : { stop }),
  }
  const streamOptions = body.stream_options as { include_usage?: unknown } | undefined | null
  return {
    model,
    input,
    stream: body.stream === true,
    includeUsage: streamOptions?.include_usage === true,
  }
}

function number(value: unknown, param: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw invalidRequest(`${param} must be a number`, param)
  return value
}

function chatMessage(value: unknown, i: number): { role: string; content: string } {
  const m = value as { role?: unknown; content?: unknown } | null
  const role = typeof m?.role === 'string' ? ROLES[m.role] : undefined
  if (role === undefined) {
    throw invalidRequest(
      `messages[${i}].role must be one of system, developer, user or assistant (tool messages are not supported)`,
      `messages[${i}].role`,
    )
  }
  const content = m?.content
  if (typeof content === 'string') return { role, content }
  if (Array.isArray(content)) {
    const texts = content.map((part, j) => {
      const p = part as { type?: unknown; text?: unknown } | null
      if (p?.type !== 'text' || typeof p.text !== 'string') {
        throw invalidRequest(
          `messages[${i}].content[${j}]: only text parts are supported`,
          `messages[${i}].content[${j}]`,
          'unsupported_value',
        )
      }
      return p.text
    })
    return { role, content: texts.join('') }
  }
  if (content === null && role === 'assistant') return { role, content: '' }
  throw invalidRequest(
    `messages[${i}].content must be a string or an array of text parts`,
    `messages[${i}].content`,
  )
}

const FINISH: Readonly<Record<GenerationOutput['finishReason'], 'stop' | 'length'>> = {
  stop: 'stop',
  stopSequence: 'stop',
  length: 'length',
}

const usageOf = (output: GenerationOutput) => ({
  prompt_tokens: output.usage.promptTokens,
  completion_tokens: output.usage.completionTokens,
  total_tokens: output.usage.promptTokens + output.usage.completionTokens,
})

/** The non-streaming answer: one `chat.completion`. */
export async function answerChat(
  res: ServerResponse,
  request: ChatRequest,
  handle: NetworkTaskHandle<GenerationOutput>,
): Promise<void> {
  const output = await handle.output()
  const record = handle.record()
  sendJson(
    res,
    200,
    {
      id: `chatcmpl-${handle.id}`,
      object: 'chat.completion',
      created: Math.floor(record.submittedAt / 1000),
      model: request.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: output.text, refusal: null },
          logprobs: null,
          finish_reason: FINISH[output.finishReason],
        },
      ],
      usage: usageOf(output),
    },
    record.peer === undefined ? {} : { [PEER_HEADER]: record.provider ?? record.peer },
  )
}

/**
 * The streaming answer: `chat.completion.chunk` events as the text arrives, the finish reason,
 * usage if asked for, then `[DONE]`. The status line waits for the first event, so a request that
 * fails before any text (no node serves the model, the prompt does not fit) gets its proper HTTP
 * error. A failover mid-generation (a `restart`) is invisible to the client as long as the new
 * provider writes the text already sent, as it does under greedy or seeded decoding; if it writes
 * something else, the stream ends with an error event, since text already sent cannot be taken back.
 */
export async function streamChat(
  res: ServerResponse,
  request: ChatRequest,
  handle: NetworkTaskHandle<GenerationOutput>,
  signal: AbortSignal,
): Promise<void> {
  const created = Math.floor(handle.record().submittedAt / 1000)
  const chunk = (delta: Record<string, unknown>, finish: 'stop' | 'length' | null) => ({
    id: `chatcmpl-${handle.id}`,
    object: 'chat.completion.chunk',
    created,
    model: request.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  })
  let started = false
  const start = (): void => {
    if (started) return
    started = true
    startEvents(res, { [TASK_ID_HEADER]: handle.id })
    writeEvent(res, chunk({ role: 'assistant', content: '' }, null))
  }
  /** Text sent to the client since the start. */
  let sent = ''
  /** After a restart: how much of `sent` the new attempt has repeated so far. */
  let replayed: number | undefined
  const send = (text: string): void => {
    if (replayed !== undefined) {
      const expected = sent.slice(replayed, replayed + text.length)
      const overlap = Math.min(text.length, sent.length - replayed)
      if (text.slice(0, overlap) !== expected.slice(0, overlap)) throw restartedDifferently()
      replayed += overlap
      text = text.slice(overlap)
      if (replayed >= sent.length) replayed = undefined
      if (text === '') return
    }
    start()
    sent += text
    writeEvent(res, chunk({ content: text }, null))
  }
  try {
    for await (const event of handle.stream({ signal })) onEvent(event)
    const output = await handle.output()
    if (replayed !== undefined) throw restartedDifferently()
    start()
    writeEvent(res, chunk({}, FINISH[output.finishReason]))
    if (request.includeUsage) {
      writeEvent(res, { ...chunk({}, null), choices: [], usage: usageOf(output) })
    }
    writeEvent(res, '[DONE]')
    res.end()
  } catch (err) {
    if (signal.aborted) return
    sendError(res, fromFailure(err))
  }

  function onEvent(event: TaskStreamEvent): void {
    if (event.type === 'delta') send(event.text)
    else if (event.type === 'restart') {
      if (event.discarded > 0 || sent !== '') replayed = 0
    } else {
      throw new OpenAIError(
        502,
        'server_error',
        'the streamed text differs from the text the provider signed; the signed text is in the task record',
        { code: 'stream_mismatch' },
      )
    }
  }
}

function restartedDifferently(): OpenAIError {
  return new OpenAIError(
    502,
    'server_error',
    'the node generating this answer failed and the one that took over wrote different text (sampling without a seed); send the request again',
    { code: 'stream_restarted' },
  )
}
