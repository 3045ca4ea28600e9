import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OnnxBackend, onnxBackend } from '../src/backend/backend.js'
import type { SyntheticBertModel } from '../src/graph/synthetic.js'
import { countWordsAndSentences, type TokenizeOutput } from '../src/text/tokenize.js'
import { removeDir, runTask, tempDir, writeArithmetic, writeBert } from './fixtures/models.js'

describe('tokenize', () => {
  let root: string
  let bert: SyntheticBertModel
  let backend: OnnxBackend

  beforeAll(async () => {
    root = await tempDir()
    bert = (await writeBert(root, 'bert', { layers: 0 })).model
    const broken = await writeBert(root, 'broken', { layers: 0 })
    await writeFile(join(broken.dir, 'tokenizer.json'), '{ not json')
    backend = onnxBackend({
      worker: false,
      builtinModels: false,
      models: [
        { name: 'bert', path: join(root, 'bert') },
        { name: 'broken', path: broken.dir },
        { name: 'arith', path: await writeArithmetic(root) },
        { name: 'gone', path: join(root, 'gone') },
      ],
    })
  })
  afterAll(async () => {
    await backend?.unload()
    await removeDir(root)
  })

  const run = (input: object) => runTask(backend, 'tokenize', input) as Promise<TokenizeOutput>

  it('counts words and sentences by default', async () => {
    const text = 'Hello, world! The quick brown fox — it jumps.  Does it? Yes.'
    expect(await run({ text })).toEqual({
      characters: text.length,
      words: 11,
      sentences: 4,
      tokens: { tokenizer: 'words', count: 11 },
    })
  })

  it('segments scripts written without spaces', () => {
    expect(countWordsAndSentences('我喜欢机器学习。你呢？')).toEqual({
      words: expect.any(Number),
      sentences: 2,
    })
    expect(countWordsAndSentences('我喜欢机器学习。').words).toBeGreaterThan(1)
    expect(countWordsAndSentences('')).toEqual({ words: 0, sentences: 0 })
    expect(countWordsAndSentences('   \n ')).toEqual({ words: 0, sentences: 0 })
  })

  it("counts a model's WordPiece tokens, with ids and special tokens on request", async () => {
    const id = (t: string) => bert.vocab.indexOf(t)
    const out = await run({ text: 'Hello, quickly!', tokenizer: 'bert', ids: true })
    // hello , quick ##l ##y !
    expect(out.tokens).toEqual({
      tokenizer: 'bert',
      count: 6,
      ids: ['hello', ',', 'quick', '##l', '##y', '!'].map(id),
    })
    expect(out.words).toBe(2)
    const withSpecials = await run({ text: 'Hello, quickly!', tokenizer: 'bert', addSpecialTokens: true })
    expect(withSpecials.tokens).toEqual({ tokenizer: 'bert', count: 8 })
  })

  it('does not truncate when counting', async () => {
    const out = await run({ text: 'dog '.repeat(2000), tokenizer: 'bert' })
    expect(out.tokens.count).toBe(2000)
  })

  it('reports a missing tokenizer with ERR_TOKENIZER_NOT_FOUND', async () => {
    for (const tokenizer of ['no-such-model', 'arith', 'gone']) {
      await expect(run({ text: 'x', tokenizer }), tokenizer).rejects.toMatchObject({
        code: 'ERR_TOKENIZER_NOT_FOUND',
        name: 'TokenizerNotFoundError',
      })
    }
  })

  it('reports a tokenizer.json that does not parse as a corrupt model, then keeps serving', async () => {
    await expect(run({ text: 'x', tokenizer: 'broken' })).rejects.toMatchObject({
      code: 'ERR_MODEL_CORRUPT',
      message: expect.stringContaining('tokenizer.json is not valid JSON'),
    })
    expect((await run({ text: 'dog', tokenizer: 'bert' })).tokens.count).toBe(1)
  })

  it('rejects unknown fields', async () => {
    await expect(run({ text: 'x', tokeniser: 'bert' })).rejects.toMatchObject({ code: 'ERR_INVALID_INPUT' })
  })
})
