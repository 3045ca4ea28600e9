/**
 * When two providers' outputs for the same task count as the same answer, per task type, and the
 * vote over k answers that verification by redundancy takes.
 *
 * - exact (canonical JSON equality): deterministic tasks such as `chunk`, `tokenize`, `mock`, and
 *   any task type without a rule of its own;
 * - `embed`: same model output shape and every pair of vectors at cosine similarity ≥ 0.999
 *   (floating point differs across CPUs, thread counts and ONNX Runtime builds);
 * - `ocr`: texts within a normalized edit distance of 0.1 (decoding ties can flip a character);
 * - `generate`: the same text and finish reason, exactly; timings differ from peer to peer. Only a
 *   repeatable run can agree exactly: greedy decoding (temperature 0, the default) or a seed. A
 *   redundant `generate` that samples without a seed is refused up front (`redundancyRefusal`),
 *   unless the caller brings an agreement rule of its own.
 */
import { Buffer } from 'node:buffer'
import { canonicalize, type JsonValue } from '@p2p-ai/protocol'
import { DEFAULT_EMBED_MIN_COSINE, DEFAULT_OCR_MAX_EDIT_DISTANCE } from '../constants.js'

/**
 * Whether two outputs of the same task agree. Should be symmetric; need not be transitive (the
 * vote counts, for each answer, the answers that agree with it).
 */
export type AgreementRule = (a: unknown, b: unknown) => boolean

/** Canonical JSON equality: member order and number spelling do not matter, anything else does. */
export const exactAgreement: AgreementRule = (a, b) => {
  try {
    return canonicalize(a as JsonValue) === canonicalize(b as JsonValue)
  } catch {
    return false
  }
}

/**
 * For `embed` outputs (`{ dimensions, embeddings }`, vectors as number arrays or base64 float32):
 * the same number of vectors of the same dimension, each pair with cosine similarity of at least
 * `minCosine`. Outputs of another shape are compared exactly.
 */
export function cosineAgreement(minCosine = DEFAULT_EMBED_MIN_COSINE): AgreementRule {
  return (a, b) => {
    const va = vectorsOf(a)
    const vb = vectorsOf(b)
    if (va === undefined || vb === undefined) return exactAgreement(a, b)
    if (va.length !== vb.length) return false
    for (let i = 0; i < va.length; i++) {
      const x = va[i] as ArrayLike<number>
      const y = vb[i] as ArrayLike<number>
      if (x.length !== y.length || cosine(x, y) < minCosine) return false
    }
    return true
  }
}

/**
 * For outputs with a text field (`ocr`: `{ text }`): texts whose Levenshtein distance is at most
 * `maxNormalized` × the longer text's length. Outputs without the field are compared exactly.
 */
export function editDistanceAgreement(
  maxNormalized = DEFAULT_OCR_MAX_EDIT_DISTANCE,
  field = 'text',
): AgreementRule {
  return (a, b) => {
    const ta = textOf(a, field)
    const tb = textOf(b, field)
    if (ta === undefined || tb === undefined) return exactAgreement(a, b)
    const longest = Math.max(ta.length, tb.length)
    if (longest === 0) return true
    return editDistanceWithin(ta, tb, Math.floor(maxNormalized * longest))
  }
}

/**
 * For generated text (`{ text, finishReason, ... }`): the same `text` and `finishReason`, exactly.
 * The rest (timings, the provider's name for the model) differs between peers that agree.
 */
export const generationAgreement: AgreementRule = (a, b) => {
  const ta = textOf(a, 'text')
  const tb = textOf(b, 'text')
  if (ta === undefined || tb === undefined) return exactAgreement(a, b)
  return ta === tb && textOf(a, 'finishReason') === textOf(b, 'finishReason')
}

/** The built-in rules by task type; every other type uses `exactAgreement`. */
export const DEFAULT_AGREEMENT_RULES: Readonly<Record<string, AgreementRule>> = Object.freeze({
  embed: cosineAgreement(),
  ocr: editDistanceAgreement(),
  generate: generationAgreement,
})

/**
 * Why a task cannot be verified by redundancy with its type's built-in rule, or undefined if it
 * can: a `generate` that samples (temperature above 0) without a `seed` writes different text on
 * every run, so its providers could never agree exactly.
 */
export function redundancyRefusal(
  type: string,
  input: Readonly<Record<string, unknown>>,
): string | undefined {
  if (type !== 'generate') return undefined
  const { temperature, seed } = input
  if (temperature === undefined || temperature === 0 || seed !== undefined) return undefined
  return (
    `a generate task with temperature ${String(temperature)} and no seed writes different text on every ` +
    'run, so redundant providers cannot agree: use temperature 0 (greedy) or give a seed, or pass an ' +
    'agreement rule of your own'
  )
}

/** The outcome of a vote over k answers. */
export interface Tally {
  /** Index of the accepted answer (the earliest of the largest agreeing group), if a majority agrees. */
  readonly winner: number | undefined
  /** For each answer, whether it agrees with the winner (all false without a winner). */
  readonly agreed: readonly boolean[]
}

/**
 * Majority vote: for each answer, the answers that agree with it (itself included); the answer
 * with the most, earliest first, wins if more than `k / 2` agree with it. `k` is the number of
 * providers asked, so a failed provider counts against a majority, never for one.
 */
export function tally(outputs: readonly unknown[], rule: AgreementRule, k: number): Tally {
  const agrees: boolean[][] = outputs.map((_, i) => outputs.map((__, j) => i === j))
  for (let i = 0; i < outputs.length; i++) {
    for (let j = i + 1; j < outputs.length; j++) {
      let same = false
      try {
        same = rule(outputs[i], outputs[j]) === true
      } catch {
        // A rule that throws on an odd output says they do not agree.
      }
      ;(agrees[i] as boolean[])[j] = same
      ;(agrees[j] as boolean[])[i] = same
    }
  }
  let best = -1
  let bestCount = 0
  agrees.forEach((row, i) => {
    const count = row.filter(Boolean).length
    if (count > bestCount) {
      best = i
      bestCount = count
    }
  })
  if (best === -1 || bestCount <= k / 2) return { winner: undefined, agreed: outputs.map(() => false) }
  return { winner: best, agreed: agrees[best] as boolean[] }
}

function vectorsOf(output: unknown): ArrayLike<number>[] | undefined {
  const embeddings = (output as { embeddings?: unknown } | null)?.embeddings
  if (!Array.isArray(embeddings)) return undefined
  const vectors: ArrayLike<number>[] = []
  for (const v of embeddings) {
    if (typeof v === 'string') vectors.push(float32FromBase64(v))
    else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) vectors.push(v as number[])
    else return undefined
  }
  return vectors
}

function float32FromBase64(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64')
  const out = new Float32Array(Math.floor(bytes.length / 4))
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4)
  return out
}

function cosine(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let dot = 0
  let nx = 0
  let ny = 0
  for (let i = 0; i < x.length; i++) {
    const a = x[i] as number
    const b = y[i] as number
    dot += a * b
    nx += a * a
    ny += b * b
  }
  if (nx === 0 || ny === 0) return nx === ny ? 1 : 0
  return dot / Math.sqrt(nx * ny)
}

function textOf(output: unknown, field: string): string | undefined {
  const text = (output as Record<string, unknown> | null)?.[field]
  return typeof text === 'string' ? text : undefined
}

/**
 * Whether the Levenshtein distance of `a` and `b` is at most `max`, in O(length × max): only the
 * diagonal band that can stay within `max` is computed.
 */
export function editDistanceWithin(a: string, b: string, max: number): boolean {
  if (Math.abs(a.length - b.length) > max) return false
  const big = max + 1
  let previous = new Array<number>(b.length + 1)
  let current = new Array<number>(b.length + 1)
  for (let j = 0; j <= b.length; j++) previous[j] = j <= max ? j : big
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - max)
    const to = Math.min(b.length, i + max)
    // Cells just outside the band, which the next row reads, must not keep values of older rows.
    current[0] = i <= max ? i : big
    if (from > 1) current[from - 1] = big
    if (to < b.length) current[to + 1] = big
    let rowMin = current[0] as number
    for (let j = from; j <= to; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1
      const value = Math.min(
        (previous[j - 1] as number) + cost,
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        big,
      )
      current[j] = value
      if (value < rowMin) rowMin = value
    }
    if (rowMin > max) return false
    ;[previous, current] = [current, previous]
  }
  return (previous[b.length] as number) <= max
}
