import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type ChunkBoundary,
  type ChunkInput,
  ChunkSplitter,
  chunkInputSchema,
  chunkText,
} from '../src/tasks/chunk.js'

const isSpace = (c: string): boolean => /\s/.test(c)

/** Invariants every split must satisfy, whatever the text and options. */
function checkInvariants(input: ChunkInput): void {
  const { text } = input
  const size = input.size ?? 1000
  const { chunks } = chunkText(input)
  let covered = 0
  let previous: { start: number; end: number } | undefined
  chunks.forEach((chunk, i) => {
    expect(chunk.index).toBe(i)
    expect(chunk.text).toBe(text.slice(chunk.start, chunk.end))
    expect(chunk.text.length).toBeGreaterThan(0)
    expect(chunk.text.length).toBeLessThanOrEqual(size)
    // Trimmed, and never a lone half of a surrogate pair at either edge.
    expect(isSpace(chunk.text[0]!)).toBe(false)
    expect(isSpace(chunk.text.at(-1)!)).toBe(false)
    if (previous !== undefined) {
      expect(chunk.start).toBeGreaterThan(previous.start)
      expect(chunk.end).toBeGreaterThan(previous.end)
    }
    // Everything between the previous chunk's end and this start is whitespace: nothing is lost.
    for (let k = covered; k < chunk.start; k++) expect(isSpace(text[k]!), `char ${k} dropped`).toBe(true)
    covered = Math.max(covered, chunk.end)
    previous = chunk
  })
  for (let k = covered; k < text.length; k++) expect(isSpace(text[k]!), `tail char ${k} dropped`).toBe(true)
}

describe('chunkText', () => {
  it('prefers paragraph breaks, then sentence ends, then spaces', () => {
    const text = 'Alpha beta gamma.\n\nDelta epsilon zeta. Eta theta. Iota kappa'
    expect(chunkText({ text, size: 30, overlap: 0 }).chunks.map((c) => c.text)).toEqual([
      'Alpha beta gamma.',
      'Delta epsilon zeta. Eta theta.',
      'Iota kappa',
    ])
    expect(chunkText({ text, size: 40, overlap: 0, boundary: 'sentence' }).chunks.map((c) => c.text)).toEqual(
      ['Alpha beta gamma.\n\nDelta epsilon zeta.', 'Eta theta. Iota kappa'],
    )
    expect(chunkText({ text, size: 30, overlap: 0, boundary: 'word' }).chunks.map((c) => c.text)).toEqual([
      'Alpha beta gamma.\n\nDelta',
      'epsilon zeta. Eta theta. Iota',
      'kappa',
    ])
    expect(chunkText({ text, size: 30, overlap: 0, boundary: 'none' }).chunks.map((c) => c.text)).toEqual([
      'Alpha beta gamma.\n\nDelta epsil',
      'on zeta. Eta theta. Iota kappa',
    ])
  })

  it('treats quotes after a full stop, CJK full stops and line breaks as sentence ends', () => {
    expect(
      chunkText({ text: 'He said "stop." Then left the room', size: 20, overlap: 0 }).chunks[0]?.text,
    ).toBe('He said "stop."')
    expect(
      chunkText({ text: '今日は晴れです。明日は雨でしょう。', size: 10, overlap: 0 }).chunks.map(
        (c) => c.text,
      ),
    ).toEqual(['今日は晴れです。', '明日は雨でしょう。'])
    expect(chunkText({ text: '- one item\n- two items here', size: 16, overlap: 0 }).chunks[0]?.text).toBe(
      '- one item',
    )
  })

  it('does not cut at a boundary that would leave a chunk under half full', () => {
    const text = 'Hi. Then a long run of words without any full stop at all'
    const first = chunkText({ text, size: 30, overlap: 0 }).chunks[0]!
    expect(first.text.length).toBeGreaterThanOrEqual(15)
    expect(first.text).not.toBe('Hi.')
  })

  it('repeats the end of a chunk at the start of the next, from a sentence or word start', () => {
    const text = 'One two three four. Five six seven eight. Nine ten eleven twelve.'
    expect(chunkText({ text, size: 42, overlap: 25 }).chunks.map((c) => c.text)).toEqual([
      'One two three four. Five six seven eight.',
      // At most half the previous chunk (20), snapped forward to the next word start.
      'six seven eight. Nine ten eleven twelve.',
    ])
    const sentences =
      'One two three four five six seven. Eight nine ten. Eleven twelve thirteen fourteen fifteen sixteen.'
    expect(chunkText({ text: sentences, size: 60, overlap: 25 }).chunks.map((c) => c.text)).toEqual([
      'One two three four five six seven. Eight nine ten.',
      // The overlap starts at the first sentence start within its last 25 characters.
      'Eight nine ten. Eleven twelve thirteen fourteen fifteen',
      'thirteen fourteen fifteen sixteen.',
    ])
  })

  it('drops the overlap rather than start mid-word when the overlap holds no word start', () => {
    const { chunks } = chunkText({ text: 'abcdefghij klmnopqrst', size: 10, overlap: 4 })
    expect(chunks.map((c) => c.text)).toEqual(['abcdefghij', 'klmnopqrst'])
  })

  it('keeps the overlap at most half of the previous chunk so the split always advances', () => {
    const text = 'word '.repeat(400)
    const { chunks } = chunkText({ text, size: 100, overlap: 99, boundary: 'word' })
    for (let i = 1; i < chunks.length; i++) {
      expect(chunks[i]!.start - chunks[i - 1]!.start).toBeGreaterThanOrEqual(45)
    }
  })

  it('never splits a surrogate pair', () => {
    const text = '😀'.repeat(100)
    const { chunks } = chunkText({ text, size: 7, overlap: 0, boundary: 'none' })
    expect(chunks.map((c) => c.text).join('')).toBe(text)
    for (const c of chunks) expect(c.text.length % 2).toBe(0)
    const overlapped = chunkText({ text, size: 9, overlap: 3, boundary: 'none' }).chunks
    for (const c of overlapped) expect(c.text.codePointAt(0)).toBe(0x1f600)
  })

  it('handles empty, blank and tiny inputs', () => {
    expect(chunkText({ text: '' }).chunks).toEqual([])
    expect(chunkText({ text: ' \n\t ' }).chunks).toEqual([])
    expect(chunkText({ text: '  x  ' }).chunks).toEqual([{ index: 0, start: 2, end: 3, text: 'x' }])
    expect(chunkText({ text: 'abc', size: 1 }).chunks.map((c) => c.text)).toEqual(['a', 'b', 'c'])
  })

  it('uses 1000 characters and an overlap of 100 by default', () => {
    const text = 'Sentence number one is here. '.repeat(200)
    const { chunks } = chunkText({ text })
    expect(Math.max(...chunks.map((c) => c.text.length))).toBeLessThanOrEqual(1000)
    expect(chunks[0]!.text.length).toBeGreaterThan(900)
    const overlap = chunks[0]!.end - chunks[1]!.start
    expect(overlap).toBeGreaterThan(50)
    expect(overlap).toBeLessThanOrEqual(100)
  })

  it('reports progress and stops when its signal aborts', () => {
    const text = 'a b c d e f g h. '.repeat(20_000)
    const fractions: number[] = []
    chunkText({ text, size: 50, overlap: 0 }, { onProgress: (f) => fractions.push(f) })
    expect(fractions.length).toBeGreaterThan(2)
    expect(fractions.at(-1)).toBe(1)
    const controller = new AbortController()
    controller.abort(new Error('stop now'))
    expect(() => chunkText({ text, size: 50 }, { signal: controller.signal })).toThrow('stop now')
  })

  it('satisfies its invariants on arbitrary text', () => {
    const alphabet = fc.constantFrom('a', 'b', ' ', '.', '!', '\n', '\t', '"', '。', '😀', 'é', '\u00a0')
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 400 }).map((a) => a.join('')),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 59 }),
        fc.constantFrom('paragraph', 'sentence', 'word', 'none' as const),
        (text, size, overlapSeed, boundary) => {
          checkInvariants({ text, size, overlap: overlapSeed % size, boundary })
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('chunk input schema', () => {
  const validate = (input: unknown) => chunkInputSchema['~standard'].validate(input) as { issues?: unknown[] }

  it('accepts a text alone and rejects unknown fields, bad sizes and overlaps', () => {
    expect(validate({ text: 'x' }).issues).toBeUndefined()
    const paths = (input: unknown) =>
      (validate(input).issues as Array<{ path: PropertyKey[] }>).map((i) => i.path.join('.'))
    expect(paths({ text: 'x', sise: 3 })).toEqual([''])
    expect(paths({ text: 'x', size: 0 })).toEqual(['size'])
    expect(paths({ text: 'x', size: 2.5 })).toEqual(['size'])
    expect(paths({ text: 'x', size: 10, overlap: 10 })).toEqual(['overlap'])
    expect(paths({ text: 'x', boundary: 'page' })).toEqual(['boundary'])
    expect(paths({ text: 'x'.repeat(300_000), size: 1 })).toEqual(['size'])
    expect(paths({})).toEqual(['text'])
  })
})

describe('ChunkSplitter: the chunk split of a text that arrives in pieces', () => {
  /** Splits `text` fed in pieces cut at `cuts` (offsets), collecting every chunk. */
  function streamed(text: string, cuts: number[], options: Omit<ChunkInput, 'text'>) {
    const splitter = new ChunkSplitter(options)
    const chunks = []
    let at = 0
    for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
      chunks.push(...splitter.push(text.slice(at, cut)))
      at = cut
    }
    chunks.push(...splitter.push(text.slice(at)), ...splitter.end())
    return chunks
  }

  it('returns exactly the chunks chunkText returns for the whole text, however it is cut', () => {
    const word = fc.constantFrom(
      'alpha',
      'be',
      'gamma.',
      'delta!',
      'x',
      '\n\n',
      ' ',
      '   ',
      'Ωmega?',
      '😀',
      '\n',
    )
    fc.assert(
      fc.property(
        fc.array(word, { maxLength: 300 }).map((words) => words.join(' ')),
        fc.array(fc.nat(2000), { maxLength: 12 }),
        fc.integer({ min: 1, max: 60 }),
        fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
        fc.constantFrom('paragraph', 'sentence', 'word', 'none') as fc.Arbitrary<ChunkBoundary>,
        (text, rawCuts, size, rawOverlap, boundary) => {
          const overlap = rawOverlap === undefined ? undefined : Math.min(rawOverlap, size - 1)
          const options = { size, boundary, ...(overlap === undefined ? {} : { overlap }) }
          // Cuts inside a surrogate pair cannot happen with a UTF-8 decoder; keep them out.
          const cuts = rawCuts
            .map((c) => Math.min(c, text.length))
            .filter((c) => !(c > 0 && text.charCodeAt(c - 1) >= 0xd800 && text.charCodeAt(c - 1) <= 0xdbff))
          expect(streamed(text, cuts, options)).toEqual(chunkText({ text, ...options }).chunks)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('keeps only about a chunk of text, however much has been pushed', () => {
    const splitter = new ChunkSplitter({ size: 100, overlap: 0 })
    let count = 0
    for (let i = 0; i < 2_000; i++) count += splitter.push('Some words here. More words follow. ').length
    const held = splitter.buffered
    count += splitter.end().length
    expect(count).toBeGreaterThan(600)
    // 72,000 characters went in; what is held is the start of the next chunk only.
    expect(held).toBeLessThanOrEqual(100 + 36)
  })
})
