import { OUTSIDE, parseTag } from './labels.js'

/** One token as the model classified it. */
export interface TokenPrediction {
  /** Index of the winning label. */
  readonly label: number
  /** Its probability (softmax over the labels). */
  readonly score: number
  /** The token's span in the text, UTF-16 code units; empty for a token of spaces only. */
  readonly start: number
  readonly end: number
}

/** An entity found in a text. */
export interface Entity {
  /** Entity type: the label without its `B-`/`I-` prefix (`PER`, `LOC`...); with `none`, the token's label. */
  readonly type: string
  /** `text.slice(start, end)`. */
  readonly text: string
  /** Offset of its first character in the text, in UTF-16 code units (JavaScript string indices). */
  readonly start: number
  /** Offset just past its last character. */
  readonly end: number
  /** Mean of its tokens' label probabilities. */
  readonly score: number
}

/** How token labels become entities. */
export type Aggregation = 'simple' | 'none'

/**
 * Merges consecutive tokens into entities the way Hugging Face's token-classification pipeline
 * does with `aggregation_strategy="simple"`: a token joins the entity before it when it has the
 * same type and does not begin a new one (`I-X` after `B-X` or `I-X`; plain `X` after `X`);
 * anything else starts a new entity, so an `I-X` after an `O` or another type begins one (IOB1).
 * The score is the mean of the tokens' probabilities; `O` entities are dropped. Sub-word tokens
 * are not merged into words first (that is what `first`, `average` and `max` would do). Beyond
 * the pipeline: an `E-X`/`L-X` token ends its entity and an `S-X`/`U-X` token is one alone
 * (BIOES, BILOU), and `type` is a prefix-less label whole (the pipeline cuts `DATE-TIME` to `TIME`).
 *
 * `none` lists every token not labelled `O`, its label as the type.
 */
export function aggregate(
  text: string,
  tokens: readonly TokenPrediction[],
  labels: readonly string[],
  aggregation: Aggregation,
): Entity[] {
  if (aggregation === 'none') {
    return tokens
      .filter((t) => labels[t.label] !== OUTSIDE)
      .map((t) => entity(labels[t.label]!, text, [t]))
      .filter((e) => e !== undefined)
  }
  const entities: Entity[] = []
  let group: TokenPrediction[] = []
  let type = ''
  let closed = false
  const flush = (): void => {
    if (group.length === 0 || type === OUTSIDE) return
    const e = entity(type, text, group)
    if (e !== undefined) entities.push(e)
  }
  for (const token of tokens) {
    const tag = parseTag(labels[token.label]!)
    const continues =
      !closed && group.length > 0 && tag.type === type && (tag.position === 'I' || tag.position === 'E')
    if (continues) group.push(token)
    else {
      flush()
      group = [token]
      type = tag.type
    }
    closed = tag.position === 'E' || tag.position === 'S'
  }
  flush()
  return entities
}

/** The entity of a group of tokens; undefined when none of them has text (spaces only). */
function entity(type: string, text: string, group: readonly TokenPrediction[]): Entity | undefined {
  let start = Number.POSITIVE_INFINITY
  let end = -1
  let sum = 0
  for (const t of group) {
    sum += t.score
    if (t.end > t.start) {
      start = Math.min(start, t.start)
      end = Math.max(end, t.end)
    }
  }
  if (end < 0) return undefined
  return { type, text: text.slice(start, end), start, end, score: sum / group.length }
}
