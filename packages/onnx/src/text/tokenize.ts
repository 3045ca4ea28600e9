import { type BackendRunOptions, ModelNotFoundError, type TaskType } from '@p2p-ai/engine'
import { z } from 'zod'
import type { OnnxContext } from '../backend/context.js'
import { MAX_TEXT_LENGTH } from '../constants.js'
import { TokenizerNotFoundError } from '../errors.js'

/** Input of the `tokenize` task. */
export interface TokenizeInput {
  readonly text: string
  /**
   * `words` counts words (Unicode word segmentation, any language); a model name counts that
   * model's tokens with its `tokenizer.json`. @default 'words'
   */
  readonly tokenizer?: string | undefined
  /** Return the token ids (model tokenizers only). @default false */
  readonly ids?: boolean | undefined
  /** Count the model's special tokens (`[CLS]`, `[SEP]`...) too. @default false */
  readonly addSpecialTokens?: boolean | undefined
}

export interface TokenizeOutput {
  /** UTF-16 code units, as JavaScript counts string length. */
  readonly characters: number
  /** Word-like segments (letters, digits, ideographs), punctuation and spaces excluded. */
  readonly words: number
  /** Sentences with at least one non-space character. */
  readonly sentences: number
  readonly tokens: {
    readonly tokenizer: string
    readonly count: number
    readonly ids?: readonly number[]
  }
}

export const tokenizeInputSchema = z.strictObject({
  text: z.string().max(MAX_TEXT_LENGTH),
  tokenizer: z.string().min(1).max(128).optional(),
  ids: z.boolean().optional(),
  addSpecialTokens: z.boolean().optional(),
})

export const tokenizeTaskType: TaskType<TokenizeInput> = {
  name: 'tokenize',
  description: 'Count words, sentences and model tokens of a text',
  input: tokenizeInputSchema,
}

/** Words and sentences by Unicode segmentation (ICU), which handles scripts without spaces. */
export function countWordsAndSentences(text: string): { words: number; sentences: number } {
  let words = 0
  for (const s of new Intl.Segmenter(undefined, { granularity: 'word' }).segment(text)) {
    if (s.isWordLike === true) words++
  }
  let sentences = 0
  for (const s of new Intl.Segmenter(undefined, { granularity: 'sentence' }).segment(text)) {
    if (/\S/u.test(s.segment)) sentences++
  }
  return { words, sentences }
}

/** Runs the `tokenize` task. */
export async function runTokenize(
  ctx: OnnxContext,
  input: TokenizeInput,
  options: BackendRunOptions,
): Promise<TokenizeOutput> {
  const name = input.tokenizer ?? 'words'
  const { words, sentences } = countWordsAndSentences(input.text)
  const base = { characters: input.text.length, words, sentences }
  if (name === 'words') return { ...base, tokens: { tokenizer: 'words', count: words } }
  if (ctx.registry.get(name) === undefined) {
    throw new TokenizerNotFoundError(
      `no tokenizer named ${JSON.stringify(name)}: use 'words' or a registered model with tokenizer.json`,
    )
  }
  let model: Awaited<ReturnType<OnnxContext['resolve']>>
  try {
    model = await ctx.resolve(name, options.signal)
  } catch (err) {
    if (err instanceof ModelNotFoundError) {
      throw new TokenizerNotFoundError(`tokenizer ${name}: ${err.message}`, { cause: err })
    }
    throw err
  }
  const tokenizer = await ctx.tokenizer(model)
  options.signal.throwIfAborted()
  const ids = tokenizer.ids(input.text, input.addSpecialTokens === true)
  return { ...base, tokens: { tokenizer: name, count: ids.length, ...(input.ids === true ? { ids } : {}) } }
}
