import { readFile, stat } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import {
  type HashCache,
  InvalidModelEntryError,
  type ModelEntry,
  type ModelFormat,
  type ModelRegistry,
  modelRegistry,
  type ResolvedModel,
} from '@p2p-ai/engine'
import { MODEL_FILE_CANDIDATES } from '../constants.js'
import { isTokenClassifier } from '../ner/labels.js'

/** Pooling of token vectors into one text vector. */
export type PoolingMode = 'mean' | 'cls' | 'max'

/**
 * An ONNX model in the registry: the engine's entry (name, path, sha256 pin, task types) plus what
 * only ONNX tasks use.
 *
 * `path` is an `.onnx` file, or a directory holding one of the usual export layouts
 * (`model.onnx`, `onnx/model.onnx`, `onnx/model_quantized.onnx`...: `MODEL_FILE_CANDIDATES`, the
 * first found wins) and its companion files (`tokenizer.json`, `config.json`,
 * `sentence_bert_config.json`, `1_Pooling/config.json`). Task types default to what the files
 * allow: `ner`, `tokenize` and `onnx` for a directory with `tokenizer.json` whose `config.json`
 * describes a token classifier (`*ForTokenClassification`, or `B-`/`I-` labels in `id2label`);
 * `embed`, `tokenize` and `onnx` for one with `tokenizer.json` otherwise; `ocr` and `onnx` with a
 * `dictionary`; otherwise `onnx`.
 */
export interface OnnxModelEntry extends ModelEntry {
  /** `embed`: tokens per text, special tokens included. @default from the model's files, else 512 */
  readonly maxLength?: number
  /** `embed`: how token vectors become one vector. @default from `1_Pooling/config.json`, else `mean` */
  readonly pooling?: PoolingMode
  /** `ocr`: character dictionary of a CTC recognizer, one character per line (PaddleOCR format). */
  readonly dictionary?: string
}

/** An ONNX model whose graph was found and checked against its sha256. */
export interface OnnxModel extends ResolvedModel<OnnxModelEntry> {
  /** `tokenizer.json` when the model has one. */
  readonly tokenizerFile?: string
}

/** A registry of ONNX models. */
export type OnnxModelRegistry = ModelRegistry<OnnxModelEntry, OnnxModel>

const POOLING_MODES: readonly PoolingMode[] = ['mean', 'cls', 'max']

const isFile = (path: string): Promise<boolean> =>
  stat(path).then(
    (s) => s.isFile(),
    () => false,
  )

/** `config.json` of a model directory, or undefined when it has none or it does not parse. */
async function readConfig(dir: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as unknown
  } catch {
    return undefined
  }
}

/** How the engine's model registry reads ONNX models. */
export const onnxModelFormat: ModelFormat<OnnxModelEntry, OnnxModel> = {
  id: 'onnx',
  extensions: ['.onnx'],
  modelFiles: MODEL_FILE_CANDIDATES,

  validateEntry(entry) {
    const bad = (why: string): never => {
      throw new InvalidModelEntryError(`model entry ${JSON.stringify(entry.name)}: ${why}`)
    }
    if (entry.maxLength !== undefined && !(Number.isSafeInteger(entry.maxLength) && entry.maxLength >= 2)) {
      bad('maxLength must be an integer >= 2')
    }
    if (entry.pooling !== undefined && !POOLING_MODES.includes(entry.pooling)) {
      bad(`pooling must be one of ${POOLING_MODES.join(', ')}`)
    }
    if (entry.dictionary === undefined) return entry
    if (typeof entry.dictionary !== 'string' || entry.dictionary === '') bad('dictionary must be a path')
    return {
      ...entry,
      dictionary: isAbsolute(entry.dictionary) ? entry.dictionary : resolve(entry.dictionary),
    }
  },

  async complete(model) {
    const tokenizer = model.isDirectory ? join(model.dir, 'tokenizer.json') : undefined
    const hasTokenizer = tokenizer !== undefined && (await isFile(tokenizer))
    const classifier =
      hasTokenizer && model.entry.taskTypes === undefined && isTokenClassifier(await readConfig(model.dir))
    const taskTypes =
      model.entry.taskTypes ??
      (hasTokenizer
        ? [classifier ? 'ner' : 'embed', 'tokenize', 'onnx']
        : model.entry.dictionary !== undefined
          ? ['ocr', 'onnx']
          : ['onnx'])
    return hasTokenizer ? { ...model, taskTypes, tokenizerFile: tokenizer } : { ...model, taskTypes }
  },
}

export interface OnnxModelRegistryInit {
  /** Models to register at construction. */
  readonly models?: readonly OnnxModelEntry[]
  /** Where sha256s are remembered (see `hashCache` of `@p2p-ai/engine`). @default in memory */
  readonly hashes?: HashCache
}

/** A model registry for ONNX models: `model.onnx` lookup, tokenizers, OCR dictionaries. */
export function onnxModelRegistry(init: OnnxModelRegistryInit = {}): OnnxModelRegistry {
  return modelRegistry({ ...init, format: onnxModelFormat })
}
