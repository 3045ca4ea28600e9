import { describe, expect, it } from 'vitest'
import { alignTokens, type OffsetRules, offsetRules } from '../src/text/offsets.js'

const wordPiece: OffsetRules = offsetRules({ model: { type: 'WordPiece', unk_token: '[UNK]' } })
const byteLevel: OffsetRules = offsetRules({
  model: { type: 'BPE', unk_token: null },
  pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false },
  decoder: { type: 'ByteLevel' },
})
const sentencePiece: OffsetRules = offsetRules({
  model: { type: 'Unigram', unk_id: 0, vocab: [['<unk>', 0]] },
  pre_tokenizer: { type: 'Metaspace', replacement: '▁' },
})

/** The spans as the text they cover. */
const covered = (text: string, tokens: string[], rules: OffsetRules) =>
  alignTokens(text, tokens, rules).map(([s, e]) => text.slice(s, e))

// Token strings as the Hugging Face tokenizers write them for each family of models.
describe('alignTokens', () => {
  it('undoes WordPiece: lower case, stripped accents, ## pieces, split punctuation', () => {
    const text = 'Héllo, Zürich-Süd!'
    expect(alignTokens(text, ['hello', ',', 'zur', '##ich', '-', 'sud', '!'], wordPiece)).toEqual([
      [0, 5],
      [5, 6],
      [7, 10],
      [10, 13],
      [13, 14],
      [14, 17],
      [17, 18],
    ])
  })

  it('keeps combining marks with their letter and NFKC compatibility forms with theirs', () => {
    // "e" + U+0301 (combining acute) and the "ﬁ" ligature, which NFKC reads as "fi".
    const text = 'Cafe\u0301 ﬁne'
    expect(covered(text, ['cafe', 'fine'], wordPiece)).toEqual(['Cafe\u0301', 'ﬁne'])
  })

  it('gives [UNK] the word it stands for, one word each', () => {
    const text = 'hi 😀x 🎉 there'
    expect(covered(text, ['hi', '[UNK]', '[UNK]', 'there'], wordPiece)).toEqual(['hi', '😀x', '🎉', 'there'])
    // At the end, and a [UNK] whose word contains the next token's text.
    expect(covered('go 😀ab ab', ['go', '[UNK]', 'ab'], wordPiece)).toEqual(['go', '😀ab', 'ab'])
  })

  it("decodes byte-level BPE (Ġ for spaces, UTF-8 bytes in GPT-2's alphabet)", () => {
    const text = 'Hello Café 👋 world'
    // "é" is bytes C3 A9, written Ã©; the emoji's four bytes come in pieces that are not text.
    const tokens = ['Hello', 'ĠCaf', 'Ã©', 'ĠðŁ', 'ĳ', 'ĭ', 'Ġworld']
    expect(covered(text, tokens, byteLevel)).toEqual(['Hello', 'Caf', 'é', '👋', '👋', '👋', 'world'])
  })

  it('reads SentencePiece pieces (▁ for spaces), <unk> and byte fallback', () => {
    const text = 'New York ✈ <0x41>'
    expect(
      covered(
        text,
        ['▁New', '▁York', '▁', '<0xE2>', '<0x9C>', '<0x88>', '▁<', '0', 'x', '41', '>'],
        sentencePiece,
      ),
    ).toEqual(['New', 'York', '', '✈', '✈', '✈', '<', '0', 'x', '41', '>'])
  })

  it('does not let one token it cannot place shift the rest', () => {
    expect(covered('alpha beta gamma', ['alpha', 'zzz', 'gamma'], wordPiece)).toEqual([
      'alpha',
      'beta',
      'gamma',
    ])
  })
})
