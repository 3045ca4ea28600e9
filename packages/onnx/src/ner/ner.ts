import { type BackendRunOptions, ModelNotFoundError, type TaskType } from '@p2p-ai/engine'
import { z } from 'zod'
import { type OnnxContext, runSession } from '../backend/context.js'
import { MAX_NER_TEXTS, MAX_TEXT_LENGTH, NER_WINDOW_OVERLAP } from '../constants.js'
import { TokenizerNotFoundError, UnsupportedModelError } from '../errors.js'
import type { OnnxModel } from '../models/format.js'
import { type InferenceSession, loadOrt } from '../runtime/ort.js'
import { checkTextInputs, type TokenRow, textFeeds } from '../text/feeds.js'
import type { ModelTokenizer, TextPieces } from '../text/tokenizer.js'
import { type Aggregation, aggregate, type Entity, type TokenPrediction } from './aggregate.js'

/** Input of the `ner` task: one text or many, and the token-classification model to tag them with. */
export interface NerInput {
  /** Registry name of a token-classification model. @default the backend's `defaultNerModel` */
  readonly model?: string | undefined
  readonly text?: string | undefined
  readonly texts?: readonly string[] | undefined
  /**
   * `simple`: tokens merged into entities as Hugging Face's pipeline does with
   * `aggregation_strategy="simple"`; `none`: every token not labelled `O`. @default 'simple'
   */
  readonly aggregation?: Aggregation | undefined
}

export interface NerOutput {
  readonly model: string
  /** One list per text, in input order (`text` gives one), each in text order. */
  readonly entities: readonly (readonly Entity[])[]
  /** Tokens of the texts, special tokens excluded. */
  readonly tokens: number
  /** Sequences run through the model: one per text, more for a text longer than the model reads at once. */
  readonly windows: number
}

export const nerInputSchema = z
  .strictObject({
    model: z.string().min(1).max(128).optional(),
    text: z.string().max(MAX_TEXT_LENGTH).optional(),
    texts: z.array(z.string().max(MAX_TEXT_LENGTH)).min(1).max(MAX_NER_TEXTS).optional(),
    aggregation: z.enum(['simple', 'none']).optional(),
  })
  .refine((v) => (v.text === undefined) !== (v.texts === undefined), {
    message: 'give exactly one of `text` or `texts`',
  })

export const nerTaskType: TaskType<NerInput> = {
  name: 'ner',
  description:
    'Named entities (type, character offsets, score) with an ONNX token-classification model, BIO tags merged as Hugging Face does',
  input: nerInputSchema,
}

/** The graph's per-token class scores: `logits` [batch, sequence, labels], else its only rank-3 output. */
function logitsOutput(model: OnnxModel, session: InferenceSession, labels: number): string {
  checkTextInputs(model.name, session, 'ner')
  const rank3 = session.outputMetadata.filter((o) => o.isTensor && o.shape.length === 3)
  const chosen = rank3.find((o) => o.name === 'logits') ?? (rank3.length === 1 ? rank3[0] : undefined)
  if (chosen === undefined || !chosen.isTensor) {
    throw new UnsupportedModelError(
      `model ${model.name}: no output of shape [batch, sequence, labels] (named logits) to tag tokens from`,
    )
  }
  const width = chosen.shape[2]
  if (typeof width === 'number' && width !== labels) {
    throw new UnsupportedModelError(
      `model ${model.name}: output ${chosen.name} scores ${width} labels but config.json's id2label names ${labels}`,
    )
  }
  return chosen.name
}

/** One model input: a slice of a text's tokens, and the part of it whose labels are kept. */
interface Window extends TokenRow {
  readonly text: number
  /** First token of the text in this window. */
  readonly start: number
  /** Tokens `[keepFrom, keepTo)` of the text take their labels from this window. */
  readonly keepFrom: number
  readonly keepTo: number
}

/**
 * Splits a text's tokens into windows the model can read, overlapping so that every token is
 * labelled from the window where it has the most context on both sides (the overlap is split at
 * its middle).
 */
function windowsOf(text: number, pieces: TextPieces, tokenizer: ModelTokenizer): Window[] {
  const { prefix, suffix } = tokenizer.specials
  const width = tokenizer.maxLength - prefix.length - suffix.length
  const n = pieces.ids.length
  const overlap = Math.min(NER_WINDOW_OVERLAP, Math.floor(width / 2))
  const spans: Array<[number, number]> = []
  for (let s = 0; ; s += width - overlap) {
    spans.push([s, Math.min(s + width, n)])
    if (s + width >= n) break
  }
  return spans.map(([s, e], k) => {
    const next = spans[k + 1]
    const previous = spans[k - 1]
    return {
      text,
      start: s,
      keepFrom: previous === undefined ? s : Math.floor((s + previous[1]) / 2),
      keepTo: next === undefined ? e : Math.floor((next[0] + e) / 2),
      ids: [...prefix, ...pieces.ids.slice(s, e), ...suffix],
    }
  })
}

/** Runs the `ner` task: tokenise with offsets, window, batch, run, softmax, merge. */
export async function runNer(
  ctx: OnnxContext,
  input: NerInput,
  options: BackendRunOptions,
): Promise<NerOutput> {
  const { signal } = options
  const name = input.model ?? ctx.defaultNerModel
  if (name === undefined) {
    throw new ModelNotFoundError('ner needs a model: name one in the input or configure defaultNerModel')
  }
  const model = await ctx.resolve(name, signal)
  if (model.tokenizerFile === undefined) {
    throw new TokenizerNotFoundError(`model ${model.name} has no tokenizer.json in ${model.dir}`)
  }
  const labels = await ctx.labels(model)
  signal.throwIfAborted()
  return ctx.withSession(model, async (session) => {
    const output = logitsOutput(model, session, labels.length)
    const tokenizer = await ctx.tokenizer(model)
    const ort = await loadOrt()
    const texts = input.texts ?? [input.text ?? '']
    const pieces = texts.map((t, i) => {
      if (i % 64 === 63) signal.throwIfAborted()
      return tokenizer.pieces(t)
    })
    const windows = pieces.flatMap((p, i) => windowsOf(i, p, tokenizer))
    const predictions = pieces.map((p) => new Array<TokenPrediction>(p.ids.length))
    // Windows of similar length share a batch, so little is spent on padding.
    const order = windows.map((_, i) => i).sort((a, b) => windows[b]!.ids.length - windows[a]!.ids.length)
    const prefix = tokenizer.specials.prefix.length
    for (let first = 0; first < order.length; first += ctx.nerBatchSize) {
      signal.throwIfAborted()
      const batch = order.slice(first, first + ctx.nerBatchSize).map((i) => windows[i]!)
      const seq = batch[0]!.ids.length
      const feeds = textFeeds(ort, session, batch, seq, tokenizer.padId)
      const result = await runSession(model, session, feeds, [output])
      const tensor = result[output]!
      try {
        if (tensor.type !== 'float32' || Number(tensor.dims[2]) !== labels.length) {
          throw new UnsupportedModelError(
            `model ${model.name}: output ${output} is ${tensor.type} [${tensor.dims.join(', ')}], expected float32 [batch, sequence, ${labels.length}]`,
          )
        }
        const logits = tensor.data as Float32Array
        for (const [r, w] of batch.entries()) {
          const spans = pieces[w.text]!.spans
          for (let t = w.keepFrom; t < w.keepTo; t++) {
            const at = (r * seq + prefix + t - w.start) * labels.length
            const span = spans[t]!
            predictions[w.text]![t] = { ...classify(logits, at, labels.length), start: span[0], end: span[1] }
          }
        }
      } finally {
        tensor.dispose()
      }
      options.onProgress?.({ fraction: Math.min(1, (first + batch.length) / order.length) })
    }
    const aggregation = input.aggregation ?? 'simple'
    return {
      model: model.name,
      entities: predictions.map((p, i) => aggregate(texts[i]!, p, labels, aggregation)),
      tokens: pieces.reduce((n, p) => n + p.ids.length, 0),
      windows: windows.length,
    }
  })
}

/** The winning label of one token and its softmax probability (the first of equal scores wins). */
function classify(logits: Float32Array, at: number, width: number): { label: number; score: number } {
  let label = 0
  for (let k = 1; k < width; k++) if (logits[at + k]! > logits[at + label]!) label = k
  const max = logits[at + label]!
  let sum = 0
  for (let k = 0; k < width; k++) sum += Math.exp(logits[at + k]! - max)
  return { label, score: 1 / sum }
}
