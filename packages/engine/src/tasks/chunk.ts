import { z } from 'zod'
import type { TaskType } from '../backend.js'
import {
  CHUNK_MIN_FILL,
  DEFAULT_CHUNK_OVERLAP,
  DEFAULT_CHUNK_SIZE,
  MAX_CHUNK_SIZE,
  MAX_CHUNK_TEXT_LENGTH,
  MAX_CHUNKS,
} from '../constants.js'
import { InvalidConfigError } from '../errors.js'

/**
 * Where a chunk may end, best first: `paragraph` tries blank lines, then sentence ends, then
 * spaces; `sentence` starts at sentence ends; `word` at spaces; `none` cuts at exactly `size`.
 */
export type ChunkBoundary = 'paragraph' | 'sentence' | 'word' | 'none'

/** Input of the `chunk` task. Sizes count UTF-16 code units (JavaScript string length). */
export interface ChunkInput {
  readonly text: string
  /** Longest chunk. @default 1000 */
  readonly size?: number | undefined
  /**
   * Characters the next chunk repeats from the end of the previous one, so context spanning a
   * cut is not lost. Snapped forward to a sentence or word start; at most half the chunk.
   * @default min(100, size / 10)
   */
  readonly overlap?: number | undefined
  /** @default 'paragraph' */
  readonly boundary?: ChunkBoundary | undefined
}

/** One chunk: `text === input.text.slice(start, end)`, trimmed of surrounding whitespace. */
export interface Chunk {
  readonly index: number
  readonly start: number
  readonly end: number
  readonly text: string
}

export interface ChunkOutput {
  readonly chunks: readonly Chunk[]
}

/** Schema of the `chunk` input; unknown fields are rejected so a typo (`sise`) is not ignored. */
export const chunkInputSchema = z
  .strictObject({
    text: z.string().max(MAX_CHUNK_TEXT_LENGTH),
    size: z.number().int().min(1).max(MAX_CHUNK_SIZE).optional(),
    overlap: z.number().int().min(0).optional(),
    boundary: z.enum(['paragraph', 'sentence', 'word', 'none']).optional(),
  })
  .superRefine((value, ctx) => {
    const size = value.size ?? DEFAULT_CHUNK_SIZE
    // Refinements run even after a field check failed; `size` itself is reported already.
    if (!Number.isSafeInteger(size) || size < 1) return
    if (value.overlap !== undefined && value.overlap >= size) {
      ctx.addIssue({ code: 'custom', path: ['overlap'], message: `must be smaller than size (${size})` })
    }
    // Every chunk but the last advances by at least a quarter of `size` (CHUNK_MIN_FILL, then at
    // most half of that as overlap), which bounds the number of chunks and so the output's memory.
    if (value.text.length / (size * CHUNK_MIN_FILL * 0.5) > MAX_CHUNKS) {
      ctx.addIssue({
        code: 'custom',
        path: ['size'],
        message: `too small for a text of ${value.text.length} characters (more than ${MAX_CHUNKS} chunks)`,
      })
    }
  })

/** The `chunk` task type. */
export const chunkTaskType: TaskType<ChunkInput> = {
  name: 'chunk',
  description: 'Split text into overlapping chunks of at most `size` characters on natural boundaries',
  input: chunkInputSchema,
}

export interface ChunkTextOptions {
  /** Checked every few hundred chunks; an aborted signal stops the split with its reason. */
  readonly signal?: AbortSignal
  readonly onProgress?: (fraction: number) => void
}

const CHECK_EVERY = 512

/**
 * Splits `input.text` into chunks. Linear in the text length: each chunk scans back from its limit
 * at most to its minimum fill, using native `lastIndexOf` for the most common searches.
 */
export function chunkText(input: ChunkInput, options: ChunkTextOptions = {}): ChunkOutput {
  const { text } = input
  const n = text.length
  const chunks: Chunk[] = []
  const cursor: Cursor = { start: skipSpaceForward(text, 0, n), previousEnd: 0, index: 0 }
  const settings = chunkSettings(input)
  let rounds = 0
  while (cursor.start < n) {
    if (++rounds % CHECK_EVERY === 0) {
      options.signal?.throwIfAborted()
      options.onProgress?.(cursor.start / n)
    }
    const chunk = step(text, cursor, settings, true)
    if (chunk === 'more') break
    if (chunk !== undefined) chunks.push(chunk)
  }
  options.onProgress?.(1)
  return { chunks }
}

/**
 * The `chunk` task's split of a text that arrives in pieces (a file read as a stream), with
 * memory bounded by the chunk size and the largest piece: `push` each piece as it comes, `end`
 * once the text is complete. Together they return exactly the chunks `chunkText` returns for the
 * whole text, with `start` and `end` counted from the start of the whole text.
 *
 * ```ts
 * const splitter = new ChunkSplitter({ size: 2000 })
 * for await (const piece of createReadStream(path, 'utf8')) for (const c of splitter.push(piece)) use(c)
 * for (const c of splitter.end()) use(c)
 * ```
 */
export class ChunkSplitter {
  readonly #settings: ChunkSettings
  /** The text from the next chunk's start (or from the end of what was pushed) on. */
  #text = ''
  /** Where `#text` starts in the whole text. */
  #base = 0
  /** Relative to `#text`; the first chunk's start is found once the leading space is skipped. */
  readonly #cursor: Cursor = { start: 0, previousEnd: 0, index: 0 }
  #started = false
  #ended = false

  constructor(options: Omit<ChunkInput, 'text'> = {}) {
    this.#settings = chunkSettings(options)
  }

  /** Characters held: the start of the next chunk, which the next piece may complete. */
  get buffered(): number {
    return this.#text.length
  }

  /** The chunks `text` completes; the end of what was pushed waits for the next piece or `end()`. */
  push(text: string): Chunk[] {
    if (this.#ended) throw new InvalidConfigError('push after end: a ChunkSplitter splits one text')
    this.#text += text
    return this.#drain(false)
  }

  /** The last chunks: the text is complete. */
  end(): Chunk[] {
    if (this.#ended) return []
    this.#ended = true
    return this.#drain(true)
  }

  #drain(final: boolean): Chunk[] {
    const text = this.#text
    const n = text.length
    const cursor = this.#cursor
    const out: Chunk[] = []
    if (!this.#started) {
      cursor.start = skipSpaceForward(text, 0, n)
      // Leading white space only, so far: the first chunk starts later.
      if (cursor.start >= n && !final) return out
      this.#started = true
    }
    while (cursor.start < n) {
      const chunk = step(text, cursor, this.#settings, final)
      if (chunk === 'more') break
      if (chunk !== undefined) {
        out.push({ ...chunk, start: chunk.start + this.#base, end: chunk.end + this.#base })
      }
    }
    // Only the text from the next chunk's start on is needed again (an overlap never reaches back
    // before it): the rest is dropped, so memory stays bounded however long the text.
    const keep = Math.min(cursor.start, n)
    if (keep > 0) {
      this.#text = text.slice(keep)
      this.#base += keep
      cursor.start -= keep
      cursor.previousEnd -= keep
    }
    return out
  }
}

interface ChunkSettings {
  readonly size: number
  readonly overlap: number
  readonly boundary: ChunkBoundary
}

function chunkSettings(input: Omit<ChunkInput, 'text'>): ChunkSettings {
  const size = input.size ?? DEFAULT_CHUNK_SIZE
  return {
    size,
    overlap: input.overlap ?? Math.min(DEFAULT_CHUNK_OVERLAP, Math.floor(size / 10)),
    boundary: input.boundary ?? 'paragraph',
  }
}

/** Where the split is: the next chunk's start, the previous chunk's end, the next chunk's index. */
interface Cursor {
  start: number
  previousEnd: number
  index: number
}

/**
 * One step of the split from `cursor.start` (which must be before the end of `text`): the chunk
 * found there (undefined when it adds nothing to the previous one), with `cursor` moved to the
 * next start (at or past the end of `text` once the text is used up). Unless `final`, a step that
 * needs text beyond the end of `text` returns `'more'` and leaves `cursor` as it was: the cut it
 * would choose, or where the next chunk starts, could still change.
 */
function step(
  text: string,
  cursor: Cursor,
  settings: ChunkSettings,
  final: boolean,
): Chunk | undefined | 'more' {
  const { size, overlap, boundary } = settings
  const n = text.length
  const { start, previousEnd } = cursor
  // findCut reads up to `start + size` (the character after a cut, for a sentence or a space).
  if (!final && start + size >= n) return 'more'
  // An overlapping chunk must reach past the previous one, or it would add nothing.
  const cut = findCut(text, start, size, boundary, previousEnd + 1)
  const end = skipSpaceBackward(text, start, cut)
  const rest = skipSpaceForward(text, cut, n)
  // White space to the end of what we have: the next start is not known yet.
  if (!final && rest >= n) return 'more'
  let chunk: Chunk | undefined
  if (end > previousEnd) {
    chunk = { index: cursor.index++, start, end, text: text.slice(start, end) }
    cursor.previousEnd = end
  }
  if (rest >= n) {
    cursor.start = n
    return chunk
  }
  let next = rest
  const want = Math.min(overlap, Math.floor((end - start) / 2))
  if (want > 0) next = snapForward(text, end - want, end, boundary)
  cursor.start = next > start ? skipSpaceForward(text, next, n) : rest
  return chunk
}

/** End (exclusive) of the chunk starting at `start`: the best boundary in its allowed window. */
function findCut(text: string, start: number, size: number, boundary: ChunkBoundary, floor: number): number {
  const n = text.length
  const limit = start + size
  if (limit >= n) return n
  const minEnd = Math.min(limit, Math.max(floor, start + Math.max(1, Math.ceil(size * CHUNK_MIN_FILL))))
  let cut = -1
  if (boundary === 'paragraph') cut = lastParagraphBreak(text, start, minEnd, limit)
  if (cut < 0 && (boundary === 'paragraph' || boundary === 'sentence')) {
    cut = lastSentenceBreak(text, minEnd, limit)
  }
  if (cut < 0 && boundary !== 'none') cut = lastSpace(text, minEnd, limit)
  if (cut < 0) cut = limit
  // Never split a surrogate pair.
  if (isHighSurrogate(text.charCodeAt(cut - 1)) && cut - 1 > start) cut--
  return cut
}

/** Largest `p` in [minEnd, limit] just after a blank line (`\n`, optional spaces, `\n`). */
function lastParagraphBreak(text: string, start: number, minEnd: number, limit: number): number {
  // Search a slice (O(1) in V8): an unbounded lastIndexOf would rescan from each chunk back to
  // the start of a text without newlines, which is quadratic.
  const from = minEnd - 1
  const window = text.slice(from, limit)
  let i = window.lastIndexOf('\n')
  while (i >= 0) {
    let j = from + i - 1
    while (j > start && isInlineSpace(text.charCodeAt(j))) j--
    if (j > start && text.charCodeAt(j) === 10) return from + i + 1
    if (j - from < 0) return -1
    i = window.lastIndexOf('\n', j - from)
  }
  return -1
}

/** Largest `p` in [minEnd, limit] at a sentence end (`. `, `?\n`, `。`, ...) or a line break. */
function lastSentenceBreak(text: string, minEnd: number, limit: number): number {
  for (let p = limit; p >= minEnd; p--) {
    if (isSentenceBreak(text, p)) return p
  }
  return -1
}

/** Whether a sentence ends right before `p`. */
function isSentenceBreak(text: string, p: number): boolean {
  const before = text.charCodeAt(p - 1)
  if (before === 10 || isCjkTerminator(before)) return true
  if (p >= text.length || !isSpace(text.charCodeAt(p))) return false
  let k = p - 1
  while (k > 0 && isCloser(text.charCodeAt(k))) k--
  const c = text.charCodeAt(k)
  return c === 46 || c === 33 || c === 63 // . ! ?
}

/** Largest `p` in [minEnd, limit] where `text[p]` is whitespace (the space goes to the next chunk). */
function lastSpace(text: string, minEnd: number, limit: number): number {
  for (let p = limit; p >= minEnd; p--) {
    if (isSpace(text.charCodeAt(p))) return p
  }
  return -1
}

/**
 * Where the next chunk starts when it should repeat `[from, end)`: the first sentence start (or
 * word start) in that range, so overlaps do not begin mid-word; `end` (no overlap) if there is
 * none. With `none` boundaries, exactly `from`.
 */
function snapForward(text: string, from: number, end: number, boundary: ChunkBoundary): number {
  if (boundary === 'none') return isLowSurrogate(text.charCodeAt(from)) ? from + 1 : from
  if (boundary !== 'word') {
    for (let p = from; p < end; p++) if (isSentenceBreak(text, p)) return p
  }
  if (isSpace(text.charCodeAt(from - 1))) return from
  for (let p = from; p < end; p++) if (isSpace(text.charCodeAt(p))) return p
  return end
}

function skipSpaceForward(text: string, from: number, to: number): number {
  let i = from
  while (i < to && isSpace(text.charCodeAt(i))) i++
  return i
}

function skipSpaceBackward(text: string, from: number, to: number): number {
  let i = to
  while (i > from && isSpace(text.charCodeAt(i - 1))) i--
  return i
}

function isSpace(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  )
}

function isInlineSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 13
}

/** Closing quotes and brackets that may follow a sentence's final punctuation. */
function isCloser(c: number): boolean {
  return c === 34 || c === 39 || c === 41 || c === 93 || c === 0xbb || c === 0x2019 || c === 0x201d
}

/** 。！？ and their fullwidth forms end a sentence without a following space. */
function isCjkTerminator(c: number): boolean {
  return c === 0x3002 || c === 0xff01 || c === 0xff1f || c === 0xff0e
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff
}
