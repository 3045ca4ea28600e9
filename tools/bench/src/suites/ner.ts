/**
 * `ner` of @p2p-ai/onnx: documents per minute on this machine, the product documents' "process
 * 1000 documents/minute for basic NLP (entity extraction)". A document is a news-style paragraph
 * of about 100 words (people, organisations and places among them). Two synthetic token
 * classifiers written by `writeSyntheticBertModel` (seeded random weights, the real graph; no
 * weights are downloaded), with the nine BIO labels of CoNLL-2003:
 *
 * - `bert-base`: `BERT_BASE_SHAPE`, the shape of dslim/bert-base-NER, the usual English NER model
 *   (108M parameters);
 * - `minilm`: `MINILM_SHAPE` (22.6M parameters), the size of the small distilled NER models.
 *
 * The documents' words are in the generated vocabulary, so a document costs about the tokens a
 * real BERT vocabulary gives it (common words whole); the entity words are planted with their
 * labels, so every task also merges real entities.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Backend } from '@p2p-ai/engine'
import {
  BERT_BASE_SHAPE,
  MINILM_SHAPE,
  type NerOutput,
  onnxBackend,
  type SyntheticBertOptions,
  writeSyntheticBertModel,
} from '@p2p-ai/onnx'
import { type BenchCase, defineSuite, measure } from '../runner.js'

const LABELS = ['O', 'B-MISC', 'I-MISC', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC']
const PEOPLE = ['Alice', 'Martin', 'Chen', 'Okafor', 'Ingrid', 'Dubois', 'Priya', 'Nakamura']
const ORGS = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Vandelay']
const PLACES = ['Paris', 'Lagos', 'Osaka', 'Zurich', 'Lima', 'Toronto', 'Nairobi', 'Oslo']
const FILLER =
  'the board said on monday that its new plan would cut costs and open an office near the river after talks with partners who asked for more time to study the figures while analysts expected growth to slow this year as demand for services fell in several markets and prices rose faster than wages'.split(
    ' ',
  )

/** Documents of about 100 words: filler prose with a person, an organisation and a place per sentence. */
function documents(count: number, seed: number): string[] {
  return Array.from({ length: count }, (_, d) => {
    const sentences: string[] = []
    for (let s = 0; s < 5; s++) {
      const k = seed + d * 5 + s
      const words = FILLER.slice((k * 7) % 20, ((k * 7) % 20) + 14)
      sentences.push(
        `${PEOPLE[k % PEOPLE.length]} ${PEOPLE[(k + 3) % PEOPLE.length]} of ${ORGS[k % ORGS.length]} Group in ${PLACES[k % PLACES.length]} said ${words.join(' ')}.`,
      )
    }
    return sentences.join(' ')
  })
}

function tagger(shape: SyntheticBertOptions): SyntheticBertOptions {
  const tokenLabels: Record<string, string> = { group: 'I-ORG' }
  for (const p of PEOPLE) tokenLabels[p.toLowerCase()] = 'B-PER'
  for (const o of ORGS) tokenLabels[o.toLowerCase()] = 'B-ORG'
  for (const l of PLACES) tokenLabels[l.toLowerCase()] = 'B-LOC'
  return {
    ...shape,
    words: [...PEOPLE, ...ORGS, ...PLACES, ...FILLER, 'of', 'in', 'said', 'group'],
    labels: LABELS,
    tokenLabels,
  }
}

interface State {
  root: string
  backend: Backend
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

function nerCase(state: State, model: 'bert-base' | 'minilm', perTask: number, tasks: number): BenchCase {
  return measure(
    `ner ${model} ${perTask} doc${perTask === 1 ? '' : 's'} per task`,
    async ({ round, quick }) => {
      const n = quick ? 1 : tasks
      const latencies: number[] = []
      let tokens = 0
      let entities = 0
      const cpu = process.cpuUsage()
      const start = performance.now()
      for (let i = 0; i < n; i++) {
        const texts = documents(perTask, (round + 2) * 1000 + i * perTask)
        const t0 = performance.now()
        const out = (await state.backend.run(
          { id: `ner-${round}-${i}`, type: 'ner', input: { model, texts } },
          { signal: new AbortController().signal },
        )) as NerOutput
        latencies.push(performance.now() - t0)
        tokens += out.tokens
        entities += out.entities.reduce((sum, e) => sum + e.length, 0)
      }
      const seconds = (performance.now() - start) / 1000
      const used = process.cpuUsage(cpu)
      const docs = n * perTask
      latencies.sort((a, b) => a - b)
      return {
        docsPerMinute: (docs / seconds) * 60,
        tokensPerSec: tokens / seconds,
        // Every thread of the process (ONNX Runtime's included): what a document costs, whatever
        // share of the machine other processes take.
        cpuMsPerDoc: (used.user + used.system) / 1000 / docs,
        taskP50Ms: percentile(latencies, 50),
        tokensPerDoc: tokens / docs,
        entitiesPerDoc: entities / docs,
      }
    },
    {
      description: `${tasks} task(s) of ${perTask} document(s) of ~100 words, in-process backend`,
      units: { docsPerMinute: 'docs/min', tokensPerDoc: 'tokens', entitiesPerDoc: 'entities' },
      targets: [{ metric: 'docsPerMinute', atLeast: 1000, source: 'product documents' }],
    },
  )
}

export default defineSuite<State>({
  name: 'ner',
  description: 'onnx backend: ner documents per minute on BERT-base- and MiniLM-shaped token classifiers',
  setup: async ({ quick }) => {
    const root = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-ner-'))
    // --quick is a smoke test: the same shapes with one layer.
    const shape = (s: SyntheticBertOptions): SyntheticBertOptions => (quick ? { ...s, layers: 1 } : s)
    await writeSyntheticBertModel(join(root, 'bert-base'), tagger(shape(BERT_BASE_SHAPE)))
    await writeSyntheticBertModel(join(root, 'minilm'), tagger(shape(MINILM_SHAPE)))
    const backend = onnxBackend({
      worker: false,
      builtinModels: false,
      models: ['bert-base', 'minilm'].map((name) => ({ name, path: join(root, name) })),
    })
    await backend.load()
    return { root, backend }
  },
  teardown: async (state) => {
    await state.backend.unload()
    await rm(state.root, { recursive: true, force: true })
  },
  cases: (state) => [
    nerCase(state, 'bert-base', 32, 1),
    nerCase(state, 'bert-base', 1, 8),
    nerCase(state, 'minilm', 32, 3),
    nerCase(state, 'minilm', 1, 16),
  ],
})
