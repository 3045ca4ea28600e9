import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeOnnxModel, type OnnxInitializer, type OnnxNode } from './proto.js'

/**
 * Shape of a synthetic BERT-style encoder. The defaults build a tiny model; `MINILM_SHAPE` matches
 * sentence-transformers/all-MiniLM-L6-v2 (~22.6M parameters, ~90 MB).
 */
export interface SyntheticBertOptions {
  /** Whole words added to the WordPiece vocabulary (lower-cased) after specials and characters. */
  readonly words?: readonly string[]
  /**
   * Total vocabulary size; the rest is filled with generated 2- and 3-letter pieces.
   * @default the specials, characters and `words` only
   */
  readonly vocabSize?: number
  /** @default 32 */
  readonly hidden?: number
  /** Transformer layers; 0 leaves the summed embeddings as the output. @default 1 */
  readonly layers?: number
  /** Attention heads; must divide `hidden`. @default 2 */
  readonly heads?: number
  /** Feed-forward width. @default 4 × hidden */
  readonly intermediate?: number
  /** Rows of the position table: the longest sequence the graph accepts. @default 512 */
  readonly maxPosition?: number
  /** Written to `sentence_bert_config.json` as `max_seq_length`. @default min(256, maxPosition) */
  readonly maxSeqLength?: number
  /** Seed of the weight generator; the same options always give the same bytes. @default 1 */
  readonly seed?: number
  /** Take a `token_type_ids` input, as BERT does (DistilBERT-style models do not). @default true */
  readonly tokenTypeIds?: boolean
  /** Element type of the token inputs; some exports use int32. @default 'int64' */
  readonly inputType?: 'int64' | 'int32'
  /**
   * Makes a token classifier (`BertForTokenClassification`): a head `logits = last_hidden_state ·
   * W + b + bias[input_ids]` of shape [batch, sequence, labels] is the output instead of
   * `last_hidden_state`, and `writeSyntheticBertModel` writes `config.json` with `id2label`.
   */
  readonly labels?: readonly string[]
  /**
   * With `labels`: the label each vocabulary entry leans to (`{ alice: 'B-PER', '##ich': 'I-LOC' }`),
   * by +8 on its logit, enough to win over the random head; every other entry leans to
   * `labels[0]` (conventionally `O`) alike. So tests know what the model tags, and the scores still
   * come from the whole graph.
   */
  readonly tokenLabels?: Readonly<Record<string, string>>
}

/** How far a planted label leads on its logit (see `tokenLabels`). */
const PLANTED_LOGIT = 8

/** The all-MiniLM-L6-v2 shape, for realistic benchmark figures. */
export const MINILM_SHAPE = {
  vocabSize: 30522,
  hidden: 384,
  layers: 6,
  heads: 12,
  intermediate: 1536,
  maxPosition: 512,
  maxSeqLength: 256,
} as const satisfies SyntheticBertOptions

/**
 * The BERT-base shape of dslim/bert-base-NER (~108M parameters, ~430 MB), the usual English NER
 * model: vocab 28,996 (cased), hidden 768, 12 layers, 12 heads, FFN 3,072. Add its `labels` for
 * a token classifier.
 */
export const BERT_BASE_SHAPE = {
  vocabSize: 28996,
  hidden: 768,
  layers: 12,
  heads: 12,
  intermediate: 3072,
  maxPosition: 512,
  maxSeqLength: 512,
} as const satisfies SyntheticBertOptions

/** A generated model, its tokenizer and the embedding tables (for independent reference maths). */
export interface SyntheticBertModel {
  /** The `model.onnx` bytes. */
  readonly model: Uint8Array
  /** The `tokenizer.json` document (Hugging Face tokenizers format, BERT WordPiece). */
  readonly tokenizer: Record<string, unknown>
  /** Token strings by id. */
  readonly vocab: readonly string[]
  readonly hidden: number
  readonly maxSeqLength: number
  readonly parameters: number
  /** `[vocab, hidden]`, `[maxPosition, hidden]` and `[2, hidden]` row-major tables. */
  readonly wordEmbeddings: Float32Array
  readonly positionEmbeddings: Float32Array
  readonly tokenTypeEmbeddings: Float32Array
  /** With `labels`: the head's `[hidden, labels]` weight, `[labels]` bias and `[vocab, labels]` planted bias. */
  readonly classifier?: {
    readonly labels: readonly string[]
    readonly weight: Float32Array
    readonly bias: Float32Array
    readonly tokenBias: Float32Array
  }
}

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const
const CHARS = [...'abcdefghijklmnopqrstuvwxyz0123456789', ...'!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~']
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'

function buildVocab(words: readonly string[], size: number | undefined): string[] {
  const vocab: string[] = []
  const seen = new Set<string>()
  const add = (t: string): void => {
    if (size !== undefined && vocab.length >= size) return
    if (!seen.has(t)) {
      seen.add(t)
      vocab.push(t)
    }
  }
  for (const t of SPECIALS) add(t)
  for (const c of CHARS) add(c)
  for (const c of CHARS) add(`##${c}`)
  for (const w of words) add(w.toLowerCase())
  if (size !== undefined) {
    const pairs = [...LETTERS].flatMap((a) => [...LETTERS].map((b) => a + b))
    const triples = pairs.flatMap((p) => [...LETTERS].map((c) => p + c))
    for (const group of [pairs, pairs.map((p) => `##${p}`), triples, triples.map((t) => `##${t}`)]) {
      for (const t of group) add(t)
    }
    if (vocab.length < size) throw new RangeError(`vocabSize ${size} exceeds what the generator can fill`)
  }
  return vocab
}

/** Mulberry32: a tiny seeded PRNG so generated weights are reproducible. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function tokenizerJson(vocab: readonly string[]): Record<string, unknown> {
  const id = (t: string): number => vocab.indexOf(t)
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content) => ({
      id: id(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: Object.fromEntries(
        ['[CLS]', '[SEP]'].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }]),
      ),
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  }
}

/** Builds a BERT-shaped encoder with random weights: the real graph structure, no real knowledge. */
export function syntheticBertModel(options: SyntheticBertOptions = {}): SyntheticBertModel {
  const hidden = options.hidden ?? 32
  const layers = options.layers ?? 1
  const heads = options.heads ?? 2
  const intermediate = options.intermediate ?? 4 * hidden
  const maxPosition = options.maxPosition ?? 512
  const maxSeqLength = options.maxSeqLength ?? Math.min(256, maxPosition)
  if (hidden % heads !== 0) throw new RangeError(`hidden (${hidden}) must be a multiple of heads (${heads})`)
  const vocab = buildVocab(options.words ?? [], options.vocabSize)
  const rand = random(options.seed ?? 1)
  const initializers: OnnxInitializer[] = []
  let parameters = 0
  const weight = (name: string, dims: number[], scale: number): Float32Array => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1))
    for (let i = 0; i < data.length; i++) data[i] = (rand() * 2 - 1) * scale
    initializers.push({ name, type: 'float32', dims, data })
    parameters += data.length
    return data
  }
  const filled = (name: string, dims: number[], value: number): void => {
    weight(name, dims, 0).fill(value)
  }
  const constant = (name: string, values: number[], dims: number[] = [values.length]): void => {
    initializers.push({ name, type: 'int64', dims, data: BigInt64Array.from(values.map(BigInt)) })
  }

  const wordEmbeddings = weight('word_embeddings', [vocab.length, hidden], 1)
  const positionEmbeddings = weight('position_embeddings', [maxPosition, hidden], 0.5)
  // Without a token_type_ids input the table is unused; it is still generated so the other
  // weights (and so reference outputs) do not depend on the option.
  const tokenTypeEmbeddings = weight('token_type_embeddings', [2, hidden], 0.1)
  if (options.tokenTypeIds === false) {
    initializers.pop()
    parameters -= tokenTypeEmbeddings.length
  }
  constant('one_i64', [1], [])
  constant('zero_i64', [0], [])
  constant('bias_shape', [0, 1, 1, -1])
  constant('heads_shape', [0, 0, heads, hidden / heads])
  constant('merge_shape', [0, 0, hidden])
  initializers.push({ name: 'one_f', type: 'float32', dims: [], data: Float32Array.of(1) })
  initializers.push({ name: 'mask_fill', type: 'float32', dims: [], data: Float32Array.of(-10000) })
  initializers.push({
    name: 'attn_scale',
    type: 'float32',
    dims: [],
    data: Float32Array.of(1 / Math.sqrt(hidden / heads)),
  })

  const nodes: OnnxNode[] = [
    { op: 'Gather', inputs: ['word_embeddings', 'input_ids'], outputs: ['we'] },
    { op: 'Shape', inputs: ['input_ids'], outputs: ['ids_shape'] },
    { op: 'Gather', inputs: ['ids_shape', 'one_i64'], outputs: ['seq_len'], attributes: { axis: { i: 0 } } },
    { op: 'Range', inputs: ['zero_i64', 'seq_len', 'one_i64'], outputs: ['positions'] },
    { op: 'Gather', inputs: ['position_embeddings', 'positions'], outputs: ['pe'] },
    { op: 'Add', inputs: ['we', 'pe'], outputs: ['e1'] },
    ...(options.tokenTypeIds === false
      ? [{ op: 'Identity', inputs: ['e1'], outputs: ['e2'] }]
      : [
          { op: 'Gather', inputs: ['token_type_embeddings', 'token_type_ids'], outputs: ['te'] },
          { op: 'Add', inputs: ['e1', 'te'], outputs: ['e2'] },
        ]),
    // Padding gets -10000 before the softmax: BERT's additive attention mask.
    { op: 'Cast', inputs: ['attention_mask'], outputs: ['mask_f'], attributes: { to: { i: 1 } } },
    { op: 'Sub', inputs: ['one_f', 'mask_f'], outputs: ['mask_inv'] },
    { op: 'Mul', inputs: ['mask_inv', 'mask_fill'], outputs: ['mask_bias2'] },
    { op: 'Reshape', inputs: ['mask_bias2', 'bias_shape'], outputs: ['mask_bias'] },
  ]
  const layerNorm = (input: string, prefix: string, output: string): void => {
    filled(`${prefix}.gamma`, [hidden], 1)
    filled(`${prefix}.beta`, [hidden], 0)
    nodes.push({
      op: 'LayerNormalization',
      inputs: [input, `${prefix}.gamma`, `${prefix}.beta`],
      outputs: [output],
      attributes: { axis: { i: -1 }, epsilon: { f: 1e-12 } },
    })
  }
  const linear = (input: string, prefix: string, from: number, to: number, output: string): void => {
    weight(`${prefix}.weight`, [from, to], 1 / Math.sqrt(from))
    weight(`${prefix}.bias`, [to], 0.02)
    nodes.push({ op: 'MatMul', inputs: [input, `${prefix}.weight`], outputs: [`${prefix}.mm`] })
    nodes.push({ op: 'Add', inputs: [`${prefix}.mm`, `${prefix}.bias`], outputs: [output] })
  }

  let x = 'e2'
  if (layers > 0) {
    layerNorm('e2', 'emb_ln', 'x0')
    x = 'x0'
  }
  for (let l = 0; l < layers; l++) {
    const p = `layer${l}`
    for (const n of ['q', 'k', 'v'] as const) {
      linear(x, `${p}.${n}`, hidden, hidden, `${p}.${n}_out`)
      nodes.push({ op: 'Reshape', inputs: [`${p}.${n}_out`, 'heads_shape'], outputs: [`${p}.${n}_h`] })
      // K is transposed straight to [b, heads, d, s] so scores are one MatMul.
      const perm = n === 'k' ? [0, 2, 3, 1] : [0, 2, 1, 3]
      nodes.push({
        op: 'Transpose',
        inputs: [`${p}.${n}_h`],
        outputs: [`${p}.${n}_t`],
        attributes: { perm: { ints: perm } },
      })
    }
    nodes.push(
      { op: 'MatMul', inputs: [`${p}.q_t`, `${p}.k_t`], outputs: [`${p}.scores_raw`] },
      { op: 'Mul', inputs: [`${p}.scores_raw`, 'attn_scale'], outputs: [`${p}.scores_scaled`] },
      { op: 'Add', inputs: [`${p}.scores_scaled`, 'mask_bias'], outputs: [`${p}.scores`] },
      { op: 'Softmax', inputs: [`${p}.scores`], outputs: [`${p}.probs`], attributes: { axis: { i: -1 } } },
      { op: 'MatMul', inputs: [`${p}.probs`, `${p}.v_t`], outputs: [`${p}.ctx_h`] },
      {
        op: 'Transpose',
        inputs: [`${p}.ctx_h`],
        outputs: [`${p}.ctx_t`],
        attributes: { perm: { ints: [0, 2, 1, 3] } },
      },
      { op: 'Reshape', inputs: [`${p}.ctx_t`, 'merge_shape'], outputs: [`${p}.ctx`] },
    )
    linear(`${p}.ctx`, `${p}.o`, hidden, hidden, `${p}.attn`)
    nodes.push({ op: 'Add', inputs: [x, `${p}.attn`], outputs: [`${p}.res1`] })
    layerNorm(`${p}.res1`, `${p}.ln1`, `${p}.h1`)
    linear(`${p}.h1`, `${p}.ff1`, hidden, intermediate, `${p}.ff1_out`)
    nodes.push({ op: 'Relu', inputs: [`${p}.ff1_out`], outputs: [`${p}.ff1_act`] })
    linear(`${p}.ff1_act`, `${p}.ff2`, intermediate, hidden, `${p}.ff2_out`)
    nodes.push({ op: 'Add', inputs: [`${p}.h1`, `${p}.ff2_out`], outputs: [`${p}.res2`] })
    layerNorm(`${p}.res2`, `${p}.ln2`, `${p}.out`)
    x = `${p}.out`
  }
  let classifier: SyntheticBertModel['classifier']
  const labels = options.labels
  if (labels === undefined) {
    nodes.push({ op: 'Identity', inputs: [x], outputs: ['last_hidden_state'] })
  } else {
    if (labels.length < 2) throw new RangeError('labels needs at least two labels')
    const index = new Map(labels.map((l, i) => [l, i]))
    const tokenBias = new Float32Array(vocab.length * labels.length)
    const planted = new Map(
      Object.entries(options.tokenLabels ?? {}).map(([t, l]) => [
        t.startsWith('##') || t.startsWith('[') ? t : t.toLowerCase(),
        l,
      ]),
    )
    for (const [id, token] of vocab.entries()) {
      const label = planted.get(token) ?? labels[0]!
      const k = index.get(label)
      if (k === undefined) throw new RangeError(`tokenLabels: ${label} is not among the labels`)
      tokenBias[id * labels.length + k] = PLANTED_LOGIT
    }
    for (const token of planted.keys()) {
      if (!vocab.includes(token)) throw new RangeError(`tokenLabels: ${token} is not in the vocabulary`)
    }
    linear(x, 'classifier', hidden, labels.length, 'classifier_out')
    const [weight, bias] = initializers.slice(-2).map((i) => i.data as Float32Array) as [
      Float32Array,
      Float32Array,
    ]
    initializers.push({
      name: 'token_label_bias',
      type: 'float32',
      dims: [vocab.length, labels.length],
      data: tokenBias,
    })
    nodes.push(
      { op: 'Gather', inputs: ['token_label_bias', 'input_ids'], outputs: ['planted'] },
      { op: 'Add', inputs: ['classifier_out', 'planted'], outputs: ['logits'] },
    )
    classifier = { labels: [...labels], weight, bias, tokenBias }
  }

  const tokenInput = (name: string) =>
    ({ name, type: options.inputType ?? 'int64', shape: ['batch_size', 'sequence_length'] }) as const
  const model = encodeOnnxModel({
    name: 'synthetic-bert',
    inputs: [
      tokenInput('input_ids'),
      tokenInput('attention_mask'),
      ...(options.tokenTypeIds === false ? [] : [tokenInput('token_type_ids')]),
    ],
    outputs: [
      labels === undefined
        ? { name: 'last_hidden_state', type: 'float32', shape: ['batch_size', 'sequence_length', hidden] }
        : { name: 'logits', type: 'float32', shape: ['batch_size', 'sequence_length', labels.length] },
    ],
    nodes,
    initializers,
  })
  return {
    model,
    tokenizer: tokenizerJson(vocab),
    vocab,
    hidden,
    maxSeqLength,
    parameters,
    wordEmbeddings,
    positionEmbeddings,
    tokenTypeEmbeddings,
    ...(classifier === undefined ? {} : { classifier }),
  }
}

/**
 * Writes a synthetic model as a sentence-transformers export directory (`model.onnx`,
 * `tokenizer.json`, `tokenizer_config.json`, `sentence_bert_config.json`, `1_Pooling/config.json`),
 * or, with `labels`, as a Hugging Face token-classification export (`model.onnx`,
 * `tokenizer.json`, `tokenizer_config.json`, `config.json` with `id2label`), ready to register
 * with the model registry. Each file is written to a temporary name and renamed.
 */
export async function writeSyntheticBertModel(
  dir: string,
  options: SyntheticBertOptions = {},
): Promise<SyntheticBertModel> {
  const built = syntheticBertModel(options)
  const labels = built.classifier?.labels
  await mkdir(labels === undefined ? join(dir, '1_Pooling') : dir, { recursive: true })
  const common: Array<[string, Uint8Array | string]> = [
    ['model.onnx', built.model],
    ['tokenizer.json', JSON.stringify(built.tokenizer)],
  ]
  const files: Array<[string, Uint8Array | string]> =
    labels === undefined
      ? [
          ...common,
          [
            'tokenizer_config.json',
            JSON.stringify({ do_lower_case: true, model_max_length: options.maxPosition ?? 512 }),
          ],
          ['sentence_bert_config.json', JSON.stringify({ max_seq_length: built.maxSeqLength })],
          [join('1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_mean_tokens: true })],
        ]
      : [
          ...common,
          [
            'tokenizer_config.json',
            JSON.stringify({ do_lower_case: true, model_max_length: built.maxSeqLength }),
          ],
          [
            'config.json',
            JSON.stringify({
              architectures: ['BertForTokenClassification'],
              model_type: 'bert',
              hidden_size: built.hidden,
              id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
              label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
            }),
          ],
        ]
  for (const [name, data] of files) {
    const tmp = join(dir, `${name}.tmp-${process.pid}`)
    await writeFile(tmp, data)
    await rename(tmp, join(dir, name))
  }
  return built
}
