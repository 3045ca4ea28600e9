/**
 * Character offsets of tokens. `@huggingface/tokenizers` (pure JavaScript) gives token strings but
 * no offsets, so they are recovered by aligning each token's text with the input: both sides are
 * compared in a loose form (lower case, compatibility decomposition, no combining marks), which
 * absorbs what the tokenizer's normalizer did (BERT's lower-casing and accent stripping, NFKC),
 * and the token strings are first turned back into text (WordPiece's `##`, SentencePiece's `▁`,
 * byte-level BPE's byte alphabet). A token that has no text of its own (`[UNK]`, a byte split
 * mid-character) takes the stretch of input between its aligned neighbours.
 */

/** How a tokenizer writes its tokens, read from its `tokenizer.json`. */
export interface OffsetRules {
  /** Marker of a word-continuing piece (WordPiece's `##`). */
  readonly continuingPrefix: string | undefined
  /** Marker ending a word-final piece (some BPE models' `</w>`). */
  readonly endOfWordSuffix: string | undefined
  /** Tokens are written in GPT-2's byte alphabet (byte-level BPE: RoBERTa, GPT-2, ...). */
  readonly byteLevel: boolean
  /** Tokens standing for text the vocabulary lacks (`[UNK]`, `<unk>`): they have no text to match. */
  readonly unknown: ReadonlySet<string>
}

/** A token's span in the text: `[start, end)` in UTF-16 code units. */
export type Span = readonly [start: number, end: number]

/** Beyond this many characters past the cursor, a token is not searched for (it waits for a gap). */
const SEARCH_WINDOW = 512
/** Metaspace (SentencePiece) writes spaces as this character. */
const METASPACE = '\u2581'
/** Byte-fallback tokens of SentencePiece models (`<0xE2>`): single bytes, not text. */
const BYTE_FALLBACK = /^<0x[0-9A-Fa-f]{2}>$/
/** BERT's punctuation: Unicode P* and the ASCII symbols, each a word of its own. */
const WORD = /[^\s\p{P}$+<=>^`|~]+|[\p{P}$+<=>^`|~]/gu
/** What normalizers delete without a trace: controls, format characters, U+FFFD. */
const DROPPABLE = /^[\s\p{Cc}\p{Cf}\uFFFD]*$/u

function objects(value: unknown, out: Array<Record<string, unknown>> = []): Array<Record<string, unknown>> {
  if (Array.isArray(value)) for (const v of value) objects(v, out)
  else if (typeof value === 'object' && value !== null) {
    out.push(value as Record<string, unknown>)
    for (const v of Object.values(value)) objects(v, out)
  }
  return out
}

/** The alignment rules of a `tokenizer.json`. */
export function offsetRules(tokenizer: Record<string, unknown>): OffsetRules {
  const model = (tokenizer.model ?? {}) as Record<string, unknown>
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
  const unknown = new Set<string>()
  const unk = str(model.unk_token)
  if (unk !== undefined) unknown.add(unk)
  // Unigram names its unknown token by id: vocab is [[piece, score], ...].
  if (typeof model.unk_id === 'number' && Array.isArray(model.vocab)) {
    const entry = (model.vocab as unknown[])[model.unk_id]
    if (Array.isArray(entry) && typeof entry[0] === 'string') unknown.add(entry[0])
  }
  const parts = objects([tokenizer.pre_tokenizer, tokenizer.decoder, tokenizer.post_processor])
  return {
    continuingPrefix: str(model.continuing_subword_prefix) ?? (model.type === 'WordPiece' ? '##' : undefined),
    endOfWordSuffix: str(model.end_of_word_suffix),
    byteLevel: parts.some((p) => p.type === 'ByteLevel'),
    unknown,
  }
}

/** GPT-2's byte alphabet, reversed: the character a byte-level token uses → the byte. */
const BYTE_OF: ReadonlyMap<string, number> = (() => {
  const map = new Map<string, number>()
  let extra = 0
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)
    map.set(String.fromCodePoint(printable ? b : 256 + extra++), b)
  }
  return map
})()

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** A token's own text, or undefined when it has none to find in the input. */
function surfaceOf(token: string, rules: OffsetRules): string | undefined {
  if (rules.unknown.has(token) || BYTE_FALLBACK.test(token)) return undefined
  let text = token
  if (
    rules.continuingPrefix !== undefined &&
    text.startsWith(rules.continuingPrefix) &&
    text.length > rules.continuingPrefix.length
  ) {
    text = text.slice(rules.continuingPrefix.length)
  }
  if (rules.endOfWordSuffix !== undefined && text.endsWith(rules.endOfWordSuffix)) {
    text = text.slice(0, -rules.endOfWordSuffix.length)
  }
  if (rules.byteLevel) {
    const bytes: number[] = []
    for (const ch of text) {
      const b = BYTE_OF.get(ch)
      if (b === undefined) return undefined
      bytes.push(b)
    }
    try {
      text = utf8.decode(Uint8Array.from(bytes))
    } catch {
      // Part of a character split over several tokens.
      return undefined
    }
  }
  return loose(text).trim()
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}

/** The form both sides are compared in. */
function loose(text: string): string {
  if (isAscii(text)) return text.toLowerCase()
  return text.toLowerCase().normalize('NFKD').replace(/\p{M}/gu, '').replaceAll(METASPACE, ' ')
}

/** The input in loose form, with where each of its code units came from. */
interface LooseText {
  readonly text: string
  /** Start and end (in the input) of the character each code unit of `text` came from. */
  readonly from: Int32Array
  readonly to: Int32Array
}

function looseText(input: string): LooseText {
  const parts: string[] = []
  // Compatibility decomposition may lengthen a character (ﬃ is three letters): room grows.
  let from = new Int32Array(input.length + 16)
  let to = new Int32Array(input.length + 16)
  let n = 0
  let i = 0
  for (const ch of input) {
    const code = ch.charCodeAt(0)
    // ASCII needs no normalisation: most text goes this way, several times faster.
    const l = code < 0x80 ? (code >= 0x41 && code <= 0x5a ? String.fromCharCode(code + 32) : ch) : loose(ch)
    parts.push(l)
    for (let k = 0; k < l.length; k++, n++) {
      if (n >= from.length) {
        const grown = [new Int32Array(from.length * 2), new Int32Array(to.length * 2)] as const
        grown[0].set(from)
        grown[1].set(to)
        ;[from, to] = grown
      }
      from[n] = i
      to[n] = i + ch.length
    }
    i += ch.length
  }
  return { text: parts.join(''), from: from.subarray(0, n), to: to.subarray(0, n) }
}

/** The character (code point) at `i`, or '' at the end. */
function codePointAt(text: string, i: number): string {
  const c = text.codePointAt(i)
  return c === undefined ? '' : String.fromCodePoint(c)
}

const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/u.test(c)

/** Whether a word starts at `p`: after a space or punctuation, or at punctuation. */
function wordStart(text: string, p: number): boolean {
  if (p === 0) return true
  const before = text[p - 1]!
  return isSpace(before) || /[\p{P}$+<=>^`|~]/u.test(before) || /[\p{P}$+<=>^`|~]/u.test(text[p]!)
}

/**
 * The span of every token in `input`, in order. `tokens` are the text's tokens without special
 * tokens, as the tokenizer wrote them. A token whose text is only spaces gets an empty span where
 * it stands.
 */
export function alignTokens(input: string, tokens: readonly string[], rules: OffsetRules): Span[] {
  const { text, from, to } = looseText(input)
  const spans: Span[] = new Array(tokens.length)
  /** Where a position of `text` is in the input (its end: the input's length). */
  const at = (p: number): number => (p < text.length ? from[p]! : input.length)
  let cursor = 0
  const skipSpaces = (p: number): number => {
    while (p < text.length && isSpace(text[p])) p++
    return p
  }
  let pending: number[] = []

  /** Gives the tokens without text of their own the words of `text[a, b)`. */
  const settle = (a: number, b: number): void => {
    if (pending.length === 0) return
    const gap = text.slice(a, b)
    const words = [...gap.matchAll(WORD)].map((m) => [a + m.index, a + m.index + m[0].length] as const)
    const whole: Span = words.length === 0 ? [at(a), at(a)] : [at(words[0]![0]), to[words.at(-1)![1] - 1]!]
    pending.forEach((index, k) => {
      // One word each, as BERT's [UNK] stands for one word; otherwise every one spans the gap.
      const w = words.length === pending.length ? words[k]! : undefined
      spans[index] = w === undefined ? whole : [at(w[0]), to[w[1] - 1]!]
    })
    pending = []
  }

  for (const [index, token] of tokens.entries()) {
    const surface = surfaceOf(token, rules)
    if (surface === undefined) {
      pending.push(index)
      continue
    }
    const p = skipSpaces(cursor)
    if (surface === '') {
      spans[index] = [at(p), at(p)]
      continue
    }
    const found = find(text, surface, p, pending.length > 0)
    if (found < 0) {
      pending.push(index)
      continue
    }
    settle(p, found)
    const end = found + surface.length
    // Characters the loose form dropped (combining marks) belong to the token before them.
    let last = to[end - 1]!
    // (Nothing below U+0300 vanishes in the loose form: most text skips the check.)
    for (
      let ch = codePointAt(input, last);
      ch !== '' && ch.charCodeAt(0) >= 0x300 && loose(ch) === '' && !isSpace(ch);
    ) {
      last += ch.length
      ch = codePointAt(input, last)
    }
    spans[index] = [from[found]!, last]
    cursor = end
  }
  settle(skipSpaces(cursor), text.length)
  return spans
}

/**
 * Where `surface` is next: right at `p`, or past characters normalizers drop. After tokens without
 * text of their own, the first match at a word start after `p` (those tokens take at least a word).
 */
function find(text: string, surface: string, p: number, afterGap: boolean): number {
  const limit = Math.min(text.length, p + SEARCH_WINDOW + surface.length)
  const window = text.slice(0, limit)
  if (!afterGap) {
    if (text.startsWith(surface, p)) return p
    const q = window.indexOf(surface, p)
    return q >= 0 && DROPPABLE.test(text.slice(p, q)) ? q : -1
  }
  for (let q = window.indexOf(surface, p + 1); q >= 0; q = window.indexOf(surface, q + 1)) {
    if (wordStart(text, q)) return q
  }
  return -1
}
