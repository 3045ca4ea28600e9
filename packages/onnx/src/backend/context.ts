import { readFile } from 'node:fs/promises'
import { ModelCorruptError, nativeCall } from '@p2p-ai/engine'
import { InferenceFailedError, TokenizerNotFoundError } from '../errors.js'
import type { OnnxModel, OnnxModelRegistry } from '../models/format.js'
import { readLabels } from '../ner/labels.js'
import type { InferenceSession, OrtTensor } from '../runtime/ort.js'
import type { SessionCache } from '../runtime/session-cache.js'
import { loadModelTokenizer, type ModelTokenizer } from '../text/tokenizer.js'

/** Per-backend state the task implementations share. */
export interface OnnxContext {
  readonly registry: OnnxModelRegistry
  readonly sessions: SessionCache
  /** Model `embed` uses when the input names none. */
  readonly defaultEmbedModel: string | undefined
  readonly embedBatchSize: number
  /** Model `ner` uses when the input names none. */
  readonly defaultNerModel: string | undefined
  readonly nerBatchSize: number
  /** Resolves a model and remembers what it found, for `models()`. */
  resolve(name: string, signal?: AbortSignal): Promise<OnnxModel>
  /** The model's tokenizer, loaded once per model file. */
  tokenizer(model: OnnxModel): Promise<ModelTokenizer>
  /** A token-classification model's labels by class index (`config.json`'s `id2label`), loaded once. */
  labels(model: OnnxModel): Promise<readonly string[]>
  /** The model's OCR character dictionary, loaded once. */
  dictionary(model: OnnxModel): Promise<readonly string[]>
  /**
   * Borrows the model's session for the duration of `fn`; `signal` gives up a load still waiting
   * for room in the engine's memory budget.
   */
  withSession<T>(
    model: OnnxModel,
    fn: (session: InferenceSession) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T>
  /** Forgets cached tokenizers and dictionaries. */
  clear(): void
}

export interface OnnxContextInit {
  readonly registry: OnnxModelRegistry
  readonly sessions: SessionCache
  readonly defaultEmbedModel: string | undefined
  readonly embedBatchSize: number
  readonly defaultNerModel: string | undefined
  readonly nerBatchSize: number
  readonly onResolved: (model: OnnxModel) => void
}

/** Runs a session, turning ONNX Runtime's untyped errors into `ERR_INFERENCE_FAILED`. */
export async function runSession(
  model: OnnxModel,
  session: InferenceSession,
  feeds: Record<string, OrtTensor>,
  fetches: readonly string[],
): Promise<Record<string, OrtTensor>> {
  try {
    return (await nativeCall(() => session.run(feeds, fetches))) as Record<string, OrtTensor>
  } catch (err) {
    throw new InferenceFailedError(`model ${model.name}: ${(err as Error).message}`, { cause: err })
  }
}

export function onnxContext(init: OnnxContextInit): OnnxContext {
  // Keyed by file and hash, so a model replaced on disk gets its new tokenizer.
  const tokenizers = new Map<string, Promise<ModelTokenizer>>()
  const dictionaries = new Map<string, Promise<readonly string[]>>()
  const labels = new Map<string, Promise<readonly string[]>>()
  const once = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
    let p = cache.get(key)
    if (p === undefined) {
      p = load()
      cache.set(key, p)
      // A failed load is not cached: the file may be fixed and the task retried.
      p.catch(() => cache.delete(key))
    }
    return p
  }
  return {
    registry: init.registry,
    sessions: init.sessions,
    defaultEmbedModel: init.defaultEmbedModel,
    embedBatchSize: init.embedBatchSize,
    defaultNerModel: init.defaultNerModel,
    nerBatchSize: init.nerBatchSize,
    async resolve(name, signal) {
      const model = await init.registry.resolve(name, signal === undefined ? {} : { signal })
      init.onResolved(model)
      return model
    },
    tokenizer(model) {
      if (model.tokenizerFile === undefined) {
        return Promise.reject(
          new TokenizerNotFoundError(`model ${model.name} has no tokenizer.json in ${model.dir}`),
        )
      }
      return once(tokenizers, `${model.tokenizerFile}\0${model.sha256}`, () => loadModelTokenizer(model))
    },
    labels(model) {
      return once(labels, `${model.dir}\0${model.sha256}`, () => readLabels(model))
    },
    dictionary(model) {
      const file = model.entry.dictionary
      if (file === undefined) {
        return Promise.reject(new ModelCorruptError(`model ${model.name} has no OCR dictionary configured`))
      }
      return once(dictionaries, file, async () => {
        let text: string
        try {
          text = await readFile(file, 'utf8')
        } catch (err) {
          throw new ModelCorruptError(
            `model ${model.name}: cannot read dictionary ${file}: ${(err as Error).message}`,
          )
        }
        // PaddleOCR strips only line endings: a line holding a space is a real character.
        const lines = text.split(/\r?\n/)
        if (lines.at(-1) === '') lines.pop()
        if (lines.length === 0)
          throw new ModelCorruptError(`model ${model.name}: dictionary ${file} is empty`)
        return lines
      })
    },
    async withSession(model, fn, signal) {
      const lease = await init.sessions.acquire(model, signal)
      try {
        return await fn(lease.session)
      } finally {
        lease.release()
      }
    },
    clear() {
      tokenizers.clear()
      dictionaries.clear()
      labels.clear()
    },
  }
}
