/**
 * `POST /embeddings`: OpenAI's embeddings request as an `embed` task, and its output as OpenAI's
 * list of `embedding` objects. `encoding_format: 'base64'` (what OpenAI's own clients ask for by
 * default) is the task's base64 encoding: little-endian float32 bytes, as OpenAI sends them.
 */
import type { ServerResponse } from 'node:http'
import type { NetworkTaskHandle } from '../exchange/types.js'
import { PEER_HEADER } from './constants.js'
import { invalidRequest } from './errors.js'
import { sendJson } from './http.js'

/** The `embed` output fields this module reads (the task's output type lives in `@p2p-ai/onnx`). */
export interface EmbeddingOutput {
  readonly embeddings: readonly (readonly number[])[] | readonly string[]
  /** Tokens fed to the model. */
  readonly tokens: number
}

export interface EmbeddingsRequest {
  readonly model: string
  readonly input: Record<string, unknown>
}

export function parseEmbeddingsRequest(body: Record<string, unknown>): EmbeddingsRequest {
  const model = body.model
  if (typeof model !== 'string' || model === '')
    throw invalidRequest('you must provide a model parameter', 'model')
  const raw = body.input
  const texts = typeof raw === 'string' ? [raw] : raw
  if (!Array.isArray(texts) || texts.length === 0) {
    throw invalidRequest('input must be a string or a non-empty array of strings', 'input')
  }
  if (!texts.every((t) => typeof t === 'string')) {
    throw invalidRequest('input must be text: token arrays are not supported', 'input', 'unsupported_value')
  }
  const format = body.encoding_format ?? 'float'
  if (format !== 'float' && format !== 'base64') {
    throw invalidRequest('encoding_format must be float or base64', 'encoding_format')
  }
  if (body.dimensions !== undefined && body.dimensions !== null) {
    throw invalidRequest(
      'dimensions is not supported: a model has the dimensions it was trained with',
      'dimensions',
      'unsupported_parameter',
    )
  }
  return { model, input: { model, texts, encoding: format } }
}

export async function answerEmbeddings(
  res: ServerResponse,
  request: EmbeddingsRequest,
  handle: NetworkTaskHandle<EmbeddingOutput>,
): Promise<void> {
  const output = await handle.output()
  const record = handle.record()
  sendJson(
    res,
    200,
    {
      object: 'list',
      data: output.embeddings.map((embedding, index) => ({ object: 'embedding', index, embedding })),
      model: request.model,
      usage: { prompt_tokens: output.tokens, total_tokens: output.tokens },
    },
    record.peer === undefined ? {} : { [PEER_HEADER]: record.provider ?? record.peer },
  )
}
