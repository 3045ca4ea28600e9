import { mkdir, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { encodeGguf, type GgufTensor, type GgufTensorType, gguf } from './encode.js'

/**
 * Shape of a synthetic llama-architecture model. The defaults build a ~0.3 MB model that llama.cpp
 * loads and runs in milliseconds.
 */
export interface SyntheticLlamaOptions {
  /** Seed of the weight generator; the same options always give the same bytes. @default 1 */
  readonly seed?: number
  /** Width of the residual stream (`llama.embedding_length`). @default 64 */
  readonly embeddingLength?: number
  /** Transformer blocks (`llama.block_count`). @default 2 */
  readonly blockCount?: number
  /** Attention heads; must divide `embeddingLength`. @default 4 */
  readonly headCount?: number
  /** Key/value heads (grouped-query attention); must divide `headCount`. @default 2 */
  readonly headCountKv?: number
  /** Feed-forward width. @default 128 */
  readonly feedForwardLength?: number
  /** Trained context length (`llama.context_length`). @default 512 */
  readonly contextLength?: number
  /** Element type of the weight matrices; norms stay F32, as llama.cpp's converters keep them. @default 'F32' */
  readonly tensorType?: GgufTensorType
  /** `general.name`. @default 'p2p-ai synthetic llama' */
  readonly name?: string
  /** `tokenizer.chat_template` (Jinja). @default {@link CHATML_TEMPLATE} */
  readonly chatTemplate?: string
  /**
   * Loop the completion back to its first word instead of ending it with end-of-sequence, so greedy
   * decoding of a prompt runs until `maxTokens` (for long generations in tests). @default false
   */
  readonly endless?: boolean
}

/** A generated GGUF model and what greedy decoding of it writes. */
export interface SyntheticLlamaModel {
  /** The `.gguf` file's bytes. */
  readonly bytes: Uint8Array
  /** Token strings by id (SentencePiece style: `▁` stands for a space). */
  readonly vocab: readonly string[]
  /** Number of weights. */
  readonly parameters: number
  /**
   * What greedy decoding writes after a prompt that does not end in a line break, up to its
   * end-of-sequence token: {@link SYNTHETIC_COMPLETION}. (With `endless`, the same words over and
   * over, a space between repeats, until `maxTokens`.)
   */
  readonly completion: string
  /**
   * What it writes after a line break, which is where the chat template leaves the assistant's
   * turn, before it ends the turn with `<|im_end|>`: {@link SYNTHETIC_REPLY}.
   */
  readonly reply: string
  readonly chatTemplate: string
}

/** The ChatML template, as ChatML models carry it in `tokenizer.chat_template`. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

/**
 * Greedy decoding of a synthetic model after a prompt that does not end in a line break. (Each word
 * is one token with a leading space, `▁the`; node-llama-cpp drops the first one's.)
 */
export const SYNTHETIC_COMPLETION = 'the quick brown fox jumps over a lazy dog.'
/** Greedy decoding of a synthetic model after a line break (the chat template's assistant turn). */
export const SYNTHETIC_REPLY = 'Hello! How can I help you?'

const UNK = '<unk>'
const BOS = '<s>'
const EOS = '</s>'
const IM_START = '<|im_start|>'
const IM_END = '<|im_end|>'
const SPECIALS = [UNK, BOS, EOS, IM_START, IM_END] as const
const NEWLINE_BYTE = '<0x0A>'

/** llama.cpp's `llama_token_type`. */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const

/** `llama_ftype` of the file: what `general.file_type` says about its weights. */
const FILE_TYPE: Readonly<Record<GgufTensorType, number>> = { F32: 0, F16: 1, Q8_0: 7 }

/** Words as SentencePiece pieces: a leading space becomes `▁`. */
function pieces(text: string): string[] {
  return text.split(' ').map((w) => `▁${w}`)
}

const COMPLETION_CHAIN = pieces(SYNTHETIC_COMPLETION)
const REPLY_CHAIN = pieces(SYNTHETIC_REPLY)
/**
 * Words that make prompts and the chat template tokenize into whole pieces. (llama.cpp puts a space
 * before the text that follows a special token, so the role names come as `▁user`.)
 */
const EXTRA_WORDS = ['▁user', '▁assistant', '▁system', '▁Once', '▁upon', '▁time', '▁hello', '▁world']

function buildVocab(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens: string[] = []
  const scores: number[] = []
  const types: number[] = []
  const seen = new Set<string>()
  const add = (token: string, type: number, score: number): void => {
    if (seen.has(token)) return
    seen.add(token)
    tokens.push(token)
    types.push(type)
    scores.push(score)
  }
  add(UNK, TOKEN_TYPE.unknown, 0)
  for (const s of SPECIALS.slice(1)) add(s, TOKEN_TYPE.control, 0)
  // Byte fallback: SentencePiece spells any character outside the vocabulary as its UTF-8 bytes.
  for (let b = 0; b < 256; b++)
    add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TOKEN_TYPE.byte, 0)
  add('▁', TOKEN_TYPE.normal, -1)
  for (let c = 0x21; c <= 0x7e; c++) add(String.fromCharCode(c), TOKEN_TYPE.normal, -1)
  // llama.cpp's SentencePiece tokenizer merges adjacent pieces whose concatenation is a token, best
  // score first: every prefix of a word must be a token for the word to become one piece.
  for (const word of [...COMPLETION_CHAIN, ...REPLY_CHAIN, ...EXTRA_WORDS]) {
    for (let end = 2; end <= word.length; end++) add(word.slice(0, end), TOKEN_TYPE.normal, end)
  }
  return { tokens, scores, types }
}

/** Mulberry32, then Box–Muller: a seeded normal generator, so weights reproduce exactly. */
function gaussian(seed: number): () => number {
  let a = seed >>> 0
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296
  }
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform())
}

/** `count` orthonormal vectors of length `dim` (Gram–Schmidt on random ones). */
function orthonormal(count: number, dim: number, normal: () => number): Float32Array[] {
  const out: Float64Array[] = []
  while (out.length < count) {
    const v = Float64Array.from({ length: dim }, normal)
    for (const u of out) {
      let dot = 0
      for (let i = 0; i < dim; i++) dot += v[i]! * u[i]!
      for (let i = 0; i < dim; i++) v[i]! -= dot * u[i]!
    }
    const norm = Math.hypot(...v)
    if (norm < 1e-6) continue
    for (let i = 0; i < dim; i++) v[i]! /= norm
    out.push(v)
  }
  return out.map((v) => Float32Array.from(v))
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`)
  return value
}

/**
 * Builds a tiny GGUF model of the real llama architecture (token embeddings, RMSNorm, rotary
 * grouped-query attention, SwiGLU feed-forward, output head) with a SentencePiece vocabulary of
 * byte-fallback tokens, characters and a few words, BOS/EOS ids and a ChatML chat template.
 *
 * The transformer blocks have random weights of the usual initial scale. The embeddings and the
 * output head are random too, but built so that the model is a bigram chain: each token's
 * embedding points along the direction of its class and the output head maps that direction to
 * the next token. Greedy decoding therefore writes readable, known text ({@link SYNTHETIC_COMPLETION}
 * after a prompt, {@link SYNTHETIC_REPLY} in a chat) and ends it with an end-of-sequence token, while
 * llama.cpp runs every layer of the real model on the way.
 */
export function syntheticLlamaModel(options: SyntheticLlamaOptions = {}): SyntheticLlamaModel {
  const dim = positiveInt('embeddingLength', options.embeddingLength ?? 64)
  const blocks = positiveInt('blockCount', options.blockCount ?? 2)
  const heads = positiveInt('headCount', options.headCount ?? 4)
  const kvHeads = positiveInt('headCountKv', options.headCountKv ?? 2)
  const ff = positiveInt('feedForwardLength', options.feedForwardLength ?? 128)
  const contextLength = positiveInt('contextLength', options.contextLength ?? 512)
  const type = options.tensorType ?? 'F32'
  if (dim % heads !== 0) throw new RangeError('headCount must divide embeddingLength')
  if (heads % kvHeads !== 0) throw new RangeError('headCountKv must divide headCount')
  const headDim = dim / heads
  const chatTemplate = options.chatTemplate ?? CHATML_TEMPLATE
  const normal = gaussian(options.seed ?? 1)

  const { tokens, scores, types } = buildVocab()
  const vocabSize = tokens.length
  const id = (token: string): number => {
    const i = tokens.indexOf(token)
    if (i < 0) throw new Error(`synthetic vocabulary lacks ${token}`)
    return i
  }

  // Each chain token is a class of its own; a line break starts the reply; everything else
  // starts the completion.
  const successor = new Map<number, number>()
  const link = (chain: readonly string[], end: string): void => {
    for (const [i, token] of chain.entries()) successor.set(id(token), id(chain[i + 1] ?? end))
  }
  link(COMPLETION_CHAIN, options.endless === true ? COMPLETION_CHAIN[0]! : EOS)
  link(REPLY_CHAIN, IM_END)
  successor.set(id(NEWLINE_BYTE), id(REPLY_CHAIN[0]!))
  const classOf = new Int32Array(vocabSize).fill(-1)
  const classes: number[] = [] // class → its successor token
  for (const [token, next] of successor) {
    classOf[token] = classes.length
    classes.push(next)
  }
  const otherClass = classes.length
  classes.push(id(COMPLETION_CHAIN[0]!))
  if (classes.length > dim) throw new RangeError(`embeddingLength must be at least ${classes.length}`)
  const directions = orthonormal(classes.length, dim, normal)

  const random = (length: number, std: number): Float32Array =>
    Float32Array.from({ length }, () => normal() * std)
  const ones = (length: number): Float32Array => new Float32Array(length).fill(1)

  // Embedding: strongly along the token's class, plus noise. After RMSNorm the class direction has
  // a dot product of about sqrt(dim) with itself, so the head's logit for the successor stands
  // about HEAD_SCALE × sqrt(dim) (5 by default) above the rest: greedy always follows the chain;
  // sampling at temperature 1 takes another token now and then.
  // Scaled with sqrt(dim), so the class direction outweighs what wider random layers add to it.
  const EMBED_SCALE = 0.5 * Math.sqrt(dim)
  const HEAD_SCALE = 0.625
  const embedding = random(vocabSize * dim, 0.05)
  for (let t = 0; t < vocabSize; t++) {
    const dir = directions[classOf[t]! >= 0 ? classOf[t]! : otherClass]!
    for (let i = 0; i < dim; i++) embedding[t * dim + i]! += EMBED_SCALE * dir[i]!
  }
  const output = random(vocabSize * dim, 0.01)
  classes.forEach((next, k) => {
    const dir = directions[k]!
    for (let i = 0; i < dim; i++) output[next * dim + i]! += HEAD_SCALE * dir[i]!
  })

  const INIT_STD = 0.02
  const matrix = (name: string, cols: number, rows: number): GgufTensor => ({
    name,
    shape: [cols, rows],
    type,
    data: random(cols * rows, INIT_STD),
  })
  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', shape: [dim, vocabSize], type, data: embedding },
    { name: 'output_norm.weight', shape: [dim], type: 'F32', data: ones(dim) },
    { name: 'output.weight', shape: [dim, vocabSize], type, data: output },
  ]
  for (let b = 0; b < blocks; b++) {
    const p = `blk.${b}`
    tensors.push(
      { name: `${p}.attn_norm.weight`, shape: [dim], type: 'F32', data: ones(dim) },
      matrix(`${p}.attn_q.weight`, dim, dim),
      matrix(`${p}.attn_k.weight`, dim, kvHeads * headDim),
      matrix(`${p}.attn_v.weight`, dim, kvHeads * headDim),
      matrix(`${p}.attn_output.weight`, dim, dim),
      { name: `${p}.ffn_norm.weight`, shape: [dim], type: 'F32', data: ones(dim) },
      matrix(`${p}.ffn_gate.weight`, dim, ff),
      matrix(`${p}.ffn_up.weight`, dim, ff),
      matrix(`${p}.ffn_down.weight`, ff, dim),
    )
  }
  const parameters = tensors.reduce((n, t) => n + t.data.length, 0)

  const bytes = encodeGguf({
    metadata: {
      'general.architecture': gguf.string('llama'),
      'general.name': gguf.string(options.name ?? 'p2p-ai synthetic llama'),
      'general.file_type': gguf.u32(FILE_TYPE[type]),
      'general.quantization_version': gguf.u32(2),
      'llama.vocab_size': gguf.u32(vocabSize),
      'llama.context_length': gguf.u32(contextLength),
      'llama.embedding_length': gguf.u32(dim),
      'llama.block_count': gguf.u32(blocks),
      'llama.feed_forward_length': gguf.u32(ff),
      'llama.attention.head_count': gguf.u32(heads),
      'llama.attention.head_count_kv': gguf.u32(kvHeads),
      'llama.rope.dimension_count': gguf.u32(headDim),
      'llama.rope.freq_base': gguf.f32(10_000),
      'llama.attention.layer_norm_rms_epsilon': gguf.f32(1e-5),
      'tokenizer.ggml.model': gguf.string('llama'),
      'tokenizer.ggml.tokens': gguf.array('string', tokens),
      'tokenizer.ggml.scores': gguf.array('float32', scores),
      'tokenizer.ggml.token_type': gguf.array('int32', types),
      'tokenizer.ggml.unknown_token_id': gguf.u32(id(UNK)),
      'tokenizer.ggml.bos_token_id': gguf.u32(id(BOS)),
      'tokenizer.ggml.eos_token_id': gguf.u32(id(EOS)),
      'tokenizer.ggml.add_bos_token': gguf.bool(true),
      'tokenizer.ggml.add_eos_token': gguf.bool(false),
      'tokenizer.chat_template': gguf.string(chatTemplate),
    },
    tensors,
  })
  return {
    bytes,
    vocab: tokens,
    parameters,
    completion: SYNTHETIC_COMPLETION,
    reply: SYNTHETIC_REPLY,
    chatTemplate,
  }
}

/**
 * Writes a synthetic model to `path` (a `.gguf` file; its directory is created), through a
 * temporary name and a rename, so a reader never sees half a file.
 */
export async function writeSyntheticLlamaModel(
  path: string,
  options: SyntheticLlamaOptions = {},
): Promise<SyntheticLlamaModel> {
  const built = syntheticLlamaModel(options)
  await mkdir(dirname(path), { recursive: true })
  const tmp = `${path}.tmp-${process.pid}`
  await writeFile(tmp, built.bytes)
  await rename(tmp, path)
  return built
}
