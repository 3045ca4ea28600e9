import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { StopSequences } from '../src/stop.js'

/** Feeds `chunks` and returns what was streamed, in order, and the detector. */
function feed(stops: readonly string[], chunks: readonly string[]) {
  const detector = new StopSequences(stops)
  const streamed: string[] = []
  for (const chunk of chunks) {
    streamed.push(detector.push(chunk))
    if (detector.stopped) break
  }
  if (!detector.stopped) streamed.push(detector.flush())
  return { detector, streamed }
}

describe('StopSequences', () => {
  it('ends the text just before the first stop sequence, across chunk boundaries', () => {
    const { detector, streamed } = feed([' fox'], ['the', ' quick', ' brown', ' f', 'ox', ' jumps'])
    expect(detector.stopped).toBe(true)
    expect(detector.text).toBe('the quick brown')
    expect(streamed.join('')).toBe('the quick brown')
  })

  it('holds back text that may begin a stop sequence, and releases it when it does not', () => {
    const detector = new StopSequences(['STOP'])
    expect(detector.push('go ST')).toBe('go ')
    expect(detector.push('O')).toBe('')
    expect(detector.push('P!')).toBe('')
    expect(detector.stopped).toBe(true)
    expect(detector.text).toBe('go ')

    const other = new StopSequences(['STOP'])
    expect(other.push('go ST')).toBe('go ')
    expect(other.push('ART')).toBe('START')
    expect(other.push(' ST')).toBe(' ')
    expect(other.flush()).toBe('ST')
    expect(other.stopped).toBe(false)
  })

  it('cuts at the earliest of several stop sequences, wherever they start', () => {
    const { detector } = feed(['dog', 'brown f', 'x'], ['the quick brown fox'])
    expect(detector.text).toBe('the quick ')
  })

  it('matches inside a chunk and takes nothing after the stop', () => {
    const detector = new StopSequences(['row'])
    expect(detector.push('the quick brown fox')).toBe('the quick b')
    expect(detector.push(' more')).toBe('')
    expect(detector.flush()).toBe('')
    expect(detector.text).toBe('the quick b')
  })

  it('cuts at the stop that completes first, whatever the chunking', () => {
    for (const chunks of [['\né\na'], ['\né', '\na'], ['\n', 'é', '\n', 'a']]) {
      const { detector, streamed } = feed(['é', '\né\n'], chunks)
      expect(detector.text).toBe('\n')
      expect(streamed.join('')).toBe('\n')
    }
  })

  it('for any text, chunking and stop sequences: the stream is the text up to the first stop to complete', () => {
    const alphabet = fc.constantFrom('a', 'b', 'c', ' ', '\n', 'é')
    const word = fc.array(alphabet, { minLength: 1, maxLength: 4 }).map((cs) => cs.join(''))
    fc.assert(
      fc.property(fc.array(word, { maxLength: 30 }), fc.array(word, { maxLength: 3 }), (chunks, stops) => {
        const text = chunks.join('')
        const found = stops
          .map((s) => ({ at: text.indexOf(s), end: text.indexOf(s) + s.length }))
          .filter(({ at }) => at >= 0)
          .sort((a, b) => a.end - b.end || a.at - b.at)
        const cuts = found.map(({ at }) => at)
        const expected = found[0] === undefined ? text : text.slice(0, found[0].at)
        const { detector, streamed } = feed(stops, chunks)
        expect(detector.stopped).toBe(cuts.length > 0)
        expect(detector.text).toBe(expected)
        expect(streamed.join('')).toBe(expected)
      }),
      { numRuns: 500 },
    )
  })
})
