import { type BackendRunOptions, ModelNotFoundError, type TaskType } from '@p2p-ai/engine'
import { z } from 'zod'
import { type OnnxContext, runSession } from '../backend/context.js'
import { L2_EPSILON, MAX_EMBED_TEXTS, MAX_TEXT_LENGTH } from '../constants.js'
import { TokenizerNotFoundError, UnsupportedModelError } from '../errors.js'
import type { OnnxModel, PoolingMode } from '../models/format.js'
import { type InferenceSession, loadOrt } from '../runtime/ort.js'
import { checkTextInputs, textFeeds } from '../text/feeds.js'
import type { ModelTokenizer } from '../text/tokenizer.js'
import { float32ToShortestNumbers } from './float32-decimal.js'

/** Input of the `embed` task: one text or many, and the model to embed them with. */
export interface EmbedInput {
  /** Registry name of a model with `tokenizer.json`. @default the backend's `defaultEmbedModel` */
  readonly model?: string | undefined
  readonly text?: string | undefined
  readonly texts?: readonly string[] | undefined
  /** L2-normalise each vector (cosine similarity becomes a dot product). @default true */
  readonly normalize?: boolean | undefined
  /**
   * `float`: arrays of numbers, each the model's float32 value written with the fewest significant
   * digits (at most 9) that read back as that float32, so `Float32Array.from(vector)` recovers the
   * exact values; `base64`: each vector as little-endian float32 bytes. @default 'float'
   */
  readonly encoding?: 'float' | 'base64' | undefined
}

export interface EmbedOutput {
  readonly model: string
  readonly dimensions: number
  /**
   * One vector per text, in input order (`text` gives one). With `float` encoding, numbers at
   * float32 precision with at most 9 significant digits (`Float32Array.from(vector)` gives the
   * model's exact float32 values); with `base64`, little-endian float32 bytes.
   */
  readonly embeddings: readonly (readonly number[])[] | readonly string[]
  /** Tokens fed to the model, special tokens included, padding excluded. */
  readonly tokens: number
  /** Texts cut to the model's maximum length. */
  readonly truncated: number
}

export const embedInputSchema = z
  .strictObject({
    model: z.string().min(1).max(128).optional(),
    text: z.string().max(MAX_TEXT_LENGTH).optional(),
    texts: z.array(z.string().max(MAX_TEXT_LENGTH)).min(1).max(MAX_EMBED_TEXTS).optional(),
    normalize: z.boolean().optional(),
    encoding: z.enum(['float', 'base64']).optional(),
  })
  .refine((v) => (v.text === undefined) !== (v.texts === undefined), {
    message: 'give exactly one of `text` or `texts`',
  })

export const embedTaskType: TaskType<EmbedInput> = {
  name: 'embed',
  description:
    'Text to normalised embedding vectors with a sentence-transformers ONNX model (float32 precision, at most 9 significant digits per value)',
  input: embedInputSchema,
}

/** Output names of sentence-transformers exports, pooled first, token-level second. */
const POOLED_OUTPUTS = ['sentence_embedding', 'pooler_output_normalized']
const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings']

interface OutputChoice {
  readonly name: string
  readonly pooled: boolean
}

function chooseOutput(modelName: string, session: InferenceSession): OutputChoice {
  checkTextInputs(modelName, session, 'embed')
  const rank = (name: string): number | undefined => {
    const m = session.outputMetadata.find((o) => o.name === name)
    return m?.isTensor ? m.shape.length : undefined
  }
  const pooled = POOLED_OUTPUTS.find((n) => rank(n) === 2)
  if (pooled !== undefined) return { name: pooled, pooled: true }
  const token = TOKEN_OUTPUTS.find((n) => rank(n) === 3) ?? session.outputNames.find((n) => rank(n) === 3)
  if (token !== undefined) return { name: token, pooled: false }
  throw new UnsupportedModelError(
    `model ${modelName}: no output of shape [batch, sequence, hidden] or [batch, hidden] to embed from`,
  )
}

/** Pools one row of `[batch, seq, hidden]` into `out`, honouring the attention mask. */
function pool(
  data: Float32Array,
  row: number,
  seq: number,
  hidden: number,
  length: number,
  mode: PoolingMode,
  out: Float32Array,
): void {
  const base = row * seq * hidden
  if (mode === 'cls') {
    out.set(data.subarray(base, base + hidden))
    return
  }
  if (mode === 'max') {
    out.fill(Number.NEGATIVE_INFINITY)
    for (let t = 0; t < length; t++) {
      const o = base + t * hidden
      for (let h = 0; h < hidden; h++) if (data[o + h]! > out[h]!) out[h] = data[o + h]!
    }
    return
  }
  // Mean over real tokens; padding (positions >= length) carries mask 0 and is skipped.
  const sums = new Float64Array(hidden)
  for (let t = 0; t < length; t++) {
    const o = base + t * hidden
    for (let h = 0; h < hidden; h++) sums[h]! += data[o + h]!
  }
  for (let h = 0; h < hidden; h++) out[h] = sums[h]! / Math.max(length, 1e-9)
}

function l2normalize(v: Float32Array): void {
  let sq = 0
  for (const x of v) sq += x * x
  const inv = 1 / Math.sqrt(Math.max(sq, L2_EPSILON))
  for (let i = 0; i < v.length; i++) v[i]! *= inv
}

/** Runs the `embed` task: tokenise, batch by similar length, run, pool, normalise. */
export async function runEmbed(
  ctx: OnnxContext,
  input: EmbedInput,
  options: BackendRunOptions,
): Promise<EmbedOutput> {
  const { signal } = options
  const name = input.model ?? ctx.defaultEmbedModel
  if (name === undefined) {
    throw new ModelNotFoundError('embed needs a model: name one in the input or configure defaultEmbedModel')
  }
  const model = await ctx.resolve(name, signal)
  if (model.tokenizerFile === undefined) {
    throw new TokenizerNotFoundError(`model ${model.name} has no tokenizer.json in ${model.dir}`)
  }
  signal.throwIfAborted()
  // The session loads first: parsing tokenizer.json leaves garbage that would otherwise add to the
  // session load's memory peak (the highest of a task's life).
  return ctx.withSession(
    model,
    async (session) => {
      const tokenizer = await ctx.tokenizer(model)
      return embedWith(ctx, model, tokenizer, session, input, options)
    },
    signal,
  )
}

async function embedWith(
  ctx: OnnxContext,
  model: OnnxModel,
  tokenizer: ModelTokenizer,
  session: InferenceSession,
  input: EmbedInput,
  options: BackendRunOptions,
): Promise<EmbedOutput> {
  const { signal } = options
  const output = chooseOutput(model.name, session)
  const ort = await loadOrt()
  const texts = input.texts ?? [input.text ?? '']

  const encoded = texts.map((t, i) => {
    // Tokenising thousands of texts is the one long JavaScript loop here; let aborts through.
    if (i % 256 === 255) signal.throwIfAborted()
    return tokenizer.encode(t)
  })
  // Batching texts of similar length wastes less compute on padding (as sentence-transformers does).
  const order = encoded.map((_, i) => i).sort((a, b) => encoded[b]!.ids.length - encoded[a]!.ids.length)
  const vectors: Float32Array[] = new Array(texts.length)
  let dimensions = 0
  let tokens = 0
  let truncated = 0
  for (const e of encoded) {
    tokens += e.ids.length
    if (e.truncated) truncated++
  }

  const batchSize = ctx.embedBatchSize
  for (let start = 0; start < order.length; start += batchSize) {
    signal.throwIfAborted()
    const rows = order.slice(start, start + batchSize)
    const seq = encoded[rows[0]!]!.ids.length
    const b = rows.length
    const feeds = textFeeds(
      ort,
      session,
      rows.map((index) => encoded[index]!),
      seq,
      tokenizer.padId,
    )
    const result = await runSession(model, session, feeds, [output.name])
    const tensor = result[output.name]!
    if (tensor.type !== 'float32') {
      throw new UnsupportedModelError(
        `model ${model.name}: output ${output.name} is ${tensor.type}, not float32`,
      )
    }
    const data = tensor.data as Float32Array
    const hidden = Number(tensor.dims.at(-1))
    dimensions = hidden
    rows.forEach((index, r) => {
      const v = new Float32Array(hidden)
      if (output.pooled) v.set(data.subarray(r * hidden, (r + 1) * hidden))
      else pool(data, r, seq, hidden, encoded[index]!.ids.length, tokenizer.pooling, v)
      if (input.normalize !== false) l2normalize(v)
      vectors[index] = v
    })
    tensor.dispose()
    options.onProgress?.({ fraction: Math.min(1, (start + b) / order.length) })
  }

  const embeddings =
    input.encoding === 'base64'
      ? vectors.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'))
      : vectors.map(float32ToShortestNumbers)
  return { model: model.name, dimensions, embeddings, tokens, truncated }
}
