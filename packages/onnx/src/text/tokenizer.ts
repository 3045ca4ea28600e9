import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Tokenizer } from '@huggingface/tokenizers'
import { ModelCorruptError } from '@p2p-ai/engine'
import { DEFAULT_MAX_TOKENS, MAX_PLAUSIBLE_MODEL_LENGTH } from '../constants.js'
import type { OnnxModel, PoolingMode } from '../models/format.js'
import { alignTokens, offsetRules, type Span } from './offsets.js'

/** A text as a model sees it: ids with special tokens, ready to feed. */
export interface EncodedText {
  readonly ids: readonly number[]
  readonly typeIds: readonly number[]
  /** Whether tokens were cut to fit `maxLength`. */
  readonly truncated: boolean
}

/** A text's tokens without special tokens, each with its span in the text. */
export interface TextPieces {
  readonly ids: readonly number[]
  /** `[start, end)` of each token in the text, in UTF-16 code units. */
  readonly spans: readonly Span[]
}

/** A Hugging Face `tokenizer.json` loaded for a model, with the model's text settings. */
export interface ModelTokenizer {
  /** Tokens per text the model takes, special tokens included. */
  readonly maxLength: number
  readonly pooling: PoolingMode
  /** Id used to pad a batch (masked out, so its value only has to be valid). */
  readonly padId: number
  /** Encodes with special tokens, cutting the text's tokens (not the specials) to `maxLength`. */
  encode(text: string): EncodedText
  /** Token ids of the whole text, with or without special tokens. */
  ids(text: string, addSpecialTokens: boolean): number[]
  /** Special token ids the model wants around a single text: `[CLS]` before, `[SEP]` after (BERT). */
  readonly specials: { readonly prefix: readonly number[]; readonly suffix: readonly number[] }
  /** The whole text's tokens, without special tokens, with where each one is in the text. */
  pieces(text: string): TextPieces
}

/** Texts longer than this many characters per allowed token are cut before tokenising (see encode). */
const CHARS_PER_TOKEN_CUT = 16

let tokenizers: Promise<typeof import('@huggingface/tokenizers')> | undefined

/** The tokenizers library, imported on first use: a node that never embeds does not load it. */
function loadTokenizers(): Promise<typeof import('@huggingface/tokenizers')> {
  tokenizers ??= import('@huggingface/tokenizers')
  return tokenizers
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' &&
    Number.isSafeInteger(value) &&
    value >= 2 &&
    value <= MAX_PLAUSIBLE_MODEL_LENGTH
    ? value
    : undefined
}

/**
 * Loads `tokenizer.json` (and `tokenizer_config.json`, `sentence_bert_config.json`,
 * `1_Pooling/config.json` when present) from a model directory. Throws `ERR_MODEL_CORRUPT` when a
 * file does not parse or does not match the sha256 recorded for it.
 */
export async function loadModelTokenizer(model: OnnxModel): Promise<ModelTokenizer> {
  const file = model.tokenizerFile
  if (file === undefined)
    throw new ModelCorruptError(`model ${model.name}: no tokenizer.json in ${model.dir}`)
  const corrupt = (what: string, err: unknown): never => {
    throw new ModelCorruptError(`model ${model.name}: ${what}: ${(err as Error).message ?? String(err)}`, {
      cause: err,
    })
  }
  const bytes = await readFile(file)
  const expected = model.entry.files?.['tokenizer.json']
  if (expected !== undefined) {
    const actual = createHash('sha256').update(bytes).digest('hex')
    if (actual !== expected) {
      throw new ModelCorruptError(
        `model ${model.name}: sha256 of tokenizer.json is ${actual}, expected ${expected}`,
      )
    }
  }
  let json: Record<string, unknown> = {}
  let config: Record<string, unknown> = {}
  let sbert: Record<string, unknown> = {}
  let poolingConfig: Record<string, unknown> = {}
  try {
    json = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
  } catch (err) {
    corrupt('tokenizer.json is not valid JSON', err)
  }
  try {
    config = (await readJson(join(model.dir, 'tokenizer_config.json'))) ?? {}
    sbert = (await readJson(join(model.dir, 'sentence_bert_config.json'))) ?? {}
    poolingConfig = (await readJson(join(model.dir, '1_Pooling', 'config.json'))) ?? {}
  } catch (err) {
    corrupt('a configuration file is not valid JSON', err)
  }
  const { Tokenizer: TokenizerClass } = await loadTokenizers()
  let tokenizer: Tokenizer
  try {
    tokenizer = new TokenizerClass(json, config)
    tokenizer.encode('probe')
  } catch (err) {
    return corrupt('tokenizer.json cannot be used', err)
  }

  const maxLength =
    model.entry.maxLength ??
    positiveInt(sbert.max_seq_length) ??
    positiveInt((json.truncation as { max_length?: unknown } | null)?.max_length) ??
    positiveInt(config.model_max_length) ??
    DEFAULT_MAX_TOKENS
  const pooling: PoolingMode =
    model.entry.pooling ??
    (poolingConfig.pooling_mode_cls_token === true
      ? 'cls'
      : poolingConfig.pooling_mode_max_tokens === true
        ? 'max'
        : 'mean')
  const padding = json.padding as { pad_id?: unknown } | null
  const padId =
    typeof padding?.pad_id === 'number'
      ? padding.pad_id
      : (tokenizer.token_to_id('[PAD]') ?? tokenizer.token_to_id('<pad>') ?? 0)

  // The special tokens the post-processor wraps around a single text, found once by comparing a
  // probe encoded with and without them: truncation then cuts the text, never the specials.
  const probeFull = tokenizer.encode('probe', { return_token_type_ids: true })
  const probeBare = tokenizer.encode('probe', { add_special_tokens: false }).ids
  let prefix = 0
  while (prefix + probeBare.length <= probeFull.ids.length) {
    if (probeBare.every((id: number, i: number) => probeFull.ids[prefix + i] === id)) break
    prefix++
  }
  if (prefix + probeBare.length > probeFull.ids.length) prefix = 0
  const suffix = Math.max(0, probeFull.ids.length - prefix - probeBare.length)
  if (prefix + suffix >= maxLength) {
    throw new ModelCorruptError(`model ${model.name}: maxLength ${maxLength} leaves no room for text tokens`)
  }

  const encodeFull = (text: string) => {
    const e = tokenizer.encode(text, { return_token_type_ids: true })
    return { ids: e.ids, typeIds: e.token_type_ids ?? new Array<number>(e.ids.length).fill(0) }
  }
  const cut = (ids: number[], typeIds: number[]): EncodedText => {
    const keep = maxLength - prefix - suffix
    const pick = (a: number[]) => [...a.slice(0, prefix + keep), ...a.slice(a.length - suffix)]
    return { ids: pick(ids), typeIds: pick(typeIds), truncated: true }
  }

  const rules = offsetRules(json)
  const specials = {
    prefix: probeFull.ids.slice(0, prefix),
    suffix: probeFull.ids.slice(probeFull.ids.length - suffix),
  }

  return {
    maxLength,
    pooling,
    padId,
    specials,
    pieces(text) {
      const e = tokenizer.encode(text, { add_special_tokens: false })
      return { ids: e.ids, spans: alignTokens(text, e.tokens, rules) }
    },
    encode(text) {
      // A very long text is tokenised only up to a whitespace well past the limit: tokens before a
      // whitespace boundary do not depend on what follows it, so the result is the same.
      const limit = maxLength * CHARS_PER_TOKEN_CUT
      if (text.length > limit) {
        const space = text.slice(0, limit).search(/\s\S*$/)
        if (space > 0) {
          const head = encodeFull(text.slice(0, space))
          if (head.ids.length > maxLength) return cut(head.ids, head.typeIds)
        }
      }
      const full = encodeFull(text)
      if (full.ids.length <= maxLength) return { ...full, truncated: false }
      return cut(full.ids, full.typeIds)
    },
    ids: (text, addSpecialTokens) => tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids,
  }
}
