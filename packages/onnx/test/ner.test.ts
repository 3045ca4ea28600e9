import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type OnnxBackend, onnxBackend } from '../src/backend/backend.js'
import type { SyntheticBertModel } from '../src/graph/synthetic.js'
import { aggregate, type Entity } from '../src/ner/aggregate.js'
import type { NerOutput } from '../src/ner/ner.js'
import { removeDir, runTask, tempDir, writeBert } from './fixtures/models.js'

const LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC']
const WORDS = ['alice', 'bob', 'met', 'at', 'acme', 'corp', 'in', 'zur', '##ich', 'paris']
/** What the synthetic model is built to tag each token as (the rest leans to O). */
const TOKEN_LABELS = {
  alice: 'B-PER',
  bob: 'B-PER',
  acme: 'B-ORG',
  corp: 'I-ORG',
  zur: 'B-LOC',
  '##ich': 'I-LOC',
  paris: 'B-LOC',
  '[UNK]': 'B-MISC',
}

/** A text, the tokens BERT's WordPiece makes of it, and where each token is in the text. */
interface Case {
  readonly text: string
  readonly tokens: ReadonlyArray<readonly [token: string, start: number, end: number]>
}

/** Spelled out by hand: lower-casing, accent stripping, punctuation, sub-words, [UNK], spaces. */
const CASES: readonly Case[] = [
  {
    text: 'Alice met  Bob at ACME Corp in Zürich 👋!',
    tokens: [
      ['alice', 0, 5],
      ['met', 6, 9],
      ['bob', 11, 14],
      ['at', 15, 17],
      ['acme', 18, 22],
      ['corp', 22 + 1, 27],
      ['in', 28, 30],
      ['zur', 31, 34],
      ['##ich', 34, 37],
      ['[UNK]', 38, 40],
      ['!', 40, 41],
    ],
  },
  {
    text: 'Paris, Bob.',
    tokens: [
      ['paris', 0, 5],
      [',', 5, 6],
      ['bob', 7, 10],
      ['.', 10, 11],
    ],
  },
  {
    text: 'met at in',
    tokens: [
      ['met', 0, 3],
      ['at', 4, 6],
      ['in', 7, 9],
    ],
  },
]

/** Independent reference: the graph's maths (no layers: embeddings, then the head), then softmax. */
function referenceScores(m: SyntheticBertModel, tokens: readonly string[]): number[][] {
  const c = m.classifier!
  const h = m.hidden
  const L = c.labels.length
  const ids = ['[CLS]', ...tokens, '[SEP]'].map((t) => m.vocab.indexOf(t))
  return ids.slice(1, -1).map((id, i) => {
    const t = i + 1
    const x = Array.from(
      { length: h },
      (_, k) => m.wordEmbeddings[id * h + k]! + m.positionEmbeddings[t * h + k]! + m.tokenTypeEmbeddings[k]!,
    )
    const logits = Array.from({ length: L }, (_, j) => {
      let v = c.bias[j]! + c.tokenBias[id * L + j]!
      for (let k = 0; k < h; k++) v += x[k]! * c.weight[k * L + j]!
      return v
    })
    const max = Math.max(...logits)
    const exps = logits.map((v) => Math.exp(v - max))
    const sum = exps.reduce((a, b) => a + b, 0)
    return exps.map((e) => e / sum)
  })
}

/**
 * Reference grouping: Hugging Face's `TokenClassificationPipeline.group_entities` with
 * `aggregation_strategy="simple"`, transcribed from its Python source.
 */
function referenceEntities(c: Case, scores: number[][]): Entity[] {
  const getTag = (name: string): [string, string] =>
    name.startsWith('B-') ? ['B', name.slice(2)] : name.startsWith('I-') ? ['I', name.slice(2)] : ['I', name]
  const entities = c.tokens.map(([, start, end], i) => {
    const s = scores[i]!
    const idx = s.indexOf(Math.max(...s))
    return { entity: LABELS[idx]!, score: s[idx]!, start, end }
  })
  const groupSub = (group: typeof entities): Entity => {
    const start = group[0]!.start
    const end = group.at(-1)!.end
    return {
      type: group[0]!.entity.split('-').slice(1).join('-') || group[0]!.entity,
      text: c.text.slice(start, end),
      start,
      end,
      score: group.reduce((a, e) => a + e.score, 0) / group.length,
    }
  }
  const groups: Entity[] = []
  let disagg: typeof entities = []
  for (const e of entities) {
    if (disagg.length === 0) {
      disagg.push(e)
      continue
    }
    const [bi, tag] = getTag(e.entity)
    const [, lastTag] = getTag(disagg.at(-1)!.entity)
    if (tag === lastTag && bi !== 'B') disagg.push(e)
    else {
      groups.push(groupSub(disagg))
      disagg = [e]
    }
  }
  if (disagg.length > 0) groups.push(groupSub(disagg))
  return groups.filter((g) => g.type !== 'O')
}

function expectEntities(actual: readonly Entity[], expected: readonly Entity[]): void {
  expect(actual.map(({ score, ...e }) => e)).toEqual(expected.map(({ score, ...e }) => e))
  for (const [i, e] of expected.entries()) expect(actual[i]!.score).toBeCloseTo(e.score, 6)
}

describe('ner', () => {
  let root: string
  let flat: SyntheticBertModel
  let backend: OnnxBackend

  beforeAll(async () => {
    root = await tempDir()
    const ner = { words: WORDS, labels: LABELS, tokenLabels: TOKEN_LABELS }
    flat = (await writeBert(root, 'flat', { ...ner, layers: 0 })).model
    // Two layers: every token's scores depend on its neighbours and on the attention mask.
    await writeBert(root, 'deep', { ...ner, layers: 2, seed: 5 })
    // A window of 8 tokens: [CLS], 6 of the text, [SEP].
    await writeBert(root, 'short', { ...ner, layers: 1, maxSeqLength: 8 })
    await writeBert(root, 'embedder', { layers: 0 })
    backend = onnxBackend({
      worker: false,
      builtinModels: false,
      nerBatchSize: 2,
      defaultNerModel: 'flat',
      models: ['flat', 'deep', 'short', 'embedder'].map((name) => ({ name, path: join(root, name) })),
    })
    await backend.load()
  })
  afterAll(async () => {
    await backend?.unload()
    await removeDir(root)
  })

  it('infers ner from config.json (a token classifier) and embed otherwise', () => {
    const types = Object.fromEntries(backend.models().map((m) => [m.name, m.taskTypes]))
    expect(types.flat).toEqual(['ner', 'tokenize', 'onnx'])
    expect(types.embedder).toEqual(['embed', 'tokenize', 'onnx'])
  })

  it('merges tags into entities with character offsets, types and scores, matching an independent reference', async () => {
    const out = (await runTask(backend, 'ner', { texts: CASES.map((c) => c.text) })) as NerOutput
    expect(out.model).toBe('flat')
    expect(out.tokens).toBe(CASES.reduce((n, c) => n + c.tokens.length, 0))
    expect(out.windows).toBe(CASES.length)
    for (const [i, c] of CASES.entries()) {
      const reference = referenceEntities(
        c,
        referenceScores(
          flat,
          c.tokens.map(([t]) => t),
        ),
      )
      expectEntities(out.entities[i]!, reference)
    }
    // The same, as a person reads the first text.
    expect(out.entities[0]!.map((e) => [e.type, e.text])).toEqual([
      ['PER', 'Alice'],
      ['PER', 'Bob'],
      ['ORG', 'ACME Corp'],
      ['LOC', 'Zürich'],
      ['MISC', '👋'],
    ])
    for (const e of out.entities.flat()) expect(e.score).toBeGreaterThan(0.9)
  })

  it('lists every tagged token with aggregation none', async () => {
    const out = (await runTask(backend, 'ner', {
      text: 'ACME Corp in Zürich',
      aggregation: 'none',
    })) as NerOutput
    expect(out.entities[0]!.map((e) => [e.type, e.text, e.start, e.end])).toEqual([
      ['B-ORG', 'ACME', 0, 4],
      ['I-ORG', 'Corp', 5, 9],
      ['B-LOC', 'Zür', 13, 16],
      ['I-LOC', 'ich', 16, 19],
    ])
  })

  it('gives each text the same entities alone as in a padded batch (attention mask honoured)', async () => {
    const texts = ['Bob', 'Alice met Bob at ACME Corp in Paris', 'in Zürich', 'met at']
    const batched = (await runTask(backend, 'ner', { model: 'deep', texts })) as NerOutput
    for (const [i, text] of texts.entries()) {
      const alone = (await runTask(backend, 'ner', { model: 'deep', text })) as NerOutput
      expectEntities(batched.entities[i]!, alone.entities[0]!)
    }
    expect(batched.entities.flat().map((e) => e.text)).toEqual([
      'Bob',
      'Alice',
      'Bob',
      'ACME Corp',
      'Paris',
      'Zürich',
    ])
  })

  it('reads a text longer than the model takes in overlapping windows, every token labelled once', async () => {
    const unit = 'Alice met Bob in Paris. '
    const text = unit.repeat(20)
    const out = (await runTask(backend, 'ner', { model: 'short', text })) as NerOutput
    expect(out.tokens).toBe(6 * 20)
    expect(out.windows).toBeGreaterThan(20)
    const expected = Array.from({ length: 20 }, (_, k) =>
      [
        ['PER', 0, 5],
        ['PER', 10, 13],
        ['LOC', 17, 22],
      ].map(([type, s, e]) => [type, k * unit.length + (s as number), k * unit.length + (e as number)]),
    ).flat()
    expect(out.entities[0]!.map((e) => [e.type, e.start, e.end])).toEqual(expected)
  })

  it('refuses a model that is no token classifier, an unknown model and bad input with coded errors', async () => {
    await expect(runTask(backend, 'ner', { text: 'x', model: 'embedder' })).rejects.toMatchObject({
      code: 'ERR_UNSUPPORTED_MODEL',
      message: expect.stringContaining('id2label'),
    })
    await expect(runTask(backend, 'ner', { text: 'x', model: 'nope' })).rejects.toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
    })
    await expect(runTask(backend, 'ner', { text: 'x', texts: ['y'] })).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
    })
    await expect(runTask(backend, 'ner', { text: 'x', aggregation: 'max' })).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
    })
  })
})

describe('aggregate', () => {
  const labels = ['O', 'B-X', 'I-X', 'B-Y', 'I-Y', 'E-X', 'S-Y', 'PLAIN', 'DATE-TIME']
  /** One-character tokens "a b c ..." labelled in turn. */
  function run(tags: readonly string[], aggregation: 'simple' | 'none' = 'simple') {
    const text = tags.map((_, i) => String.fromCharCode(97 + i)).join(' ')
    const tokens = tags.map((t, i) => ({
      label: labels.indexOf(t),
      score: 0.5 + i / 100,
      start: 2 * i,
      end: 2 * i + 1,
    }))
    return aggregate(text, tokens, labels, aggregation).map((e) => `${e.type}:${e.text}`)
  }

  it('starts an entity at B-, and at I- after O or another type (IOB1), as Hugging Face does', () => {
    expect(run(['B-X', 'I-X', 'B-X', 'O', 'I-X', 'I-Y', 'I-Y'])).toEqual(['X:a b', 'X:c', 'X:e', 'Y:f g'])
  })

  it('merges plain tags of one type, keeps hyphenated plain tags whole, and drops O', () => {
    expect(run(['PLAIN', 'PLAIN', 'O', 'DATE-TIME', 'DATE-TIME'])).toEqual(['PLAIN:a b', 'DATE-TIME:d e'])
  })

  it('ends an entity at E- and keeps S- alone (BIOES)', () => {
    expect(run(['B-X', 'E-X', 'I-X', 'S-Y', 'I-Y'])).toEqual(['X:a b', 'X:c', 'Y:d', 'Y:e'])
  })

  it('averages the scores of an entity', () => {
    const tokens = [0.9, 0.6].map((score, i) => ({ label: i + 1, score, start: i, end: i + 1 }))
    expect(aggregate('ab', tokens, labels, 'simple')).toEqual([
      { type: 'X', text: 'ab', start: 0, end: 2, score: 0.75 },
    ])
  })

  it('lists each tagged token with none', () => {
    expect(run(['B-X', 'I-X', 'O', 'S-Y'], 'none')).toEqual(['B-X:a', 'I-X:b', 'S-Y:d'])
  })
})
