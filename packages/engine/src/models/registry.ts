import { readdir, stat } from 'node:fs/promises'
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import type { ModelFiles } from '../backend.js'
import { MODEL_NAME_RE } from '../constants.js'
import { InvalidModelEntryError, ModelCorruptError, ModelNotFoundError } from '../errors.js'
import type { ModelFormat } from './format.js'
import { type HashCache, memoryHashCache } from './hash.js'
import { type ModelManifest, readManifest } from './manifest.js'

/**
 * A model the registry knows: a name and where its files are, with the sha256 to hold them to.
 * Plain data (it crosses into worker threads). A plug-in extends it with the fields of its format
 * (an ONNX model's pooling, a GGUF model's context size) and checks them in its
 * {@link ModelFormat}.
 */
export interface ModelEntry {
  /** Registry name, `[a-z0-9][a-z0-9._-]*`, e.g. `all-minilm-l6-v2`. */
  readonly name: string
  /**
   * The model file, or a directory holding it (and its companion files). Relative paths resolve
   * against the working directory at registration.
   */
  readonly path: string
  /** For a directory: the model file inside it, relative. @default the format's `modelFiles`, in order */
  readonly model?: string
  /** Expected lower-case hex sha256 of the model file, checked whenever the model is resolved. */
  readonly sha256?: string
  /** Expected sha256 of companion files by path relative to the directory (set by `pullModel`). */
  readonly files?: Readonly<Record<string, string>>
  /** Task types the model serves. @default what the format infers from the files */
  readonly taskTypes?: readonly string[]
  /** One line for listings. */
  readonly description?: string
}

/** A registered model whose file was found and checked. */
export interface ResolvedModel<E extends ModelEntry = ModelEntry> {
  readonly entry: E
  readonly name: string
  /** Absolute path of the model file. */
  readonly modelFile: string
  /** Directory of companion files (the entry's directory, or the file's). */
  readonly dir: string
  /** Whether the entry's path is a directory (so `dir` holds this model's companion files only). */
  readonly isDirectory: boolean
  readonly sha256: string
  readonly sizeBytes: number
  readonly taskTypes: readonly string[]
}

/**
 * The files of a resolved model, for `ModelInfo.files`: a directory model's recorded files
 * (a pulled one's manifest), or all of its directory's; a single-file model's file alone.
 */
export function modelFilesOf(model: ResolvedModel): ModelFiles {
  if (!model.isDirectory) return { dir: dirname(model.modelFile), paths: [basename(model.modelFile)] }
  const recorded = Object.keys(model.entry.files ?? {})
  if (recorded.length > 0) {
    const modelPath = relative(model.dir, model.modelFile).split(sep).join('/')
    return { dir: model.dir, paths: [...new Set([modelPath, ...recorded])].sort() }
  }
  return { dir: model.dir }
}

/** Outcome of scanning a models directory. */
export interface ScanResult {
  /** Names registered, one per sub-directory with a valid manifest of this registry's format. */
  readonly registered: readonly string[]
  /** Sub-directories with a manifest that could not be used, and why. */
  readonly skipped: ReadonlyArray<{ readonly dir: string; readonly reason: string }>
}

/** Names → model files, with sha256 checks. Create with {@link modelRegistry}. */
export interface ModelRegistry<
  E extends ModelEntry = ModelEntry,
  R extends ResolvedModel<E> = ResolvedModel<E>,
> {
  /** The format of the models it holds, if one was given. */
  readonly format: ModelFormat<E, R> | undefined
  /** Adds or replaces a model. Throws `InvalidModelEntryError` on a malformed entry. */
  register(entry: E): void
  /** Removes a model; false if it was not registered. */
  unregister(name: string): boolean
  get(name: string): E | undefined
  list(): readonly E[]
  /**
   * Finds a model's file and checks it: `ERR_MODEL_NOT_FOUND` if unregistered or missing on disk,
   * `ERR_MODEL_CORRUPT` if its sha256 differs from the pinned one. The hash comes from the hash
   * cache while the file is unchanged, so this costs a `stat` after the first time.
   */
  resolve(name: string, options?: { signal?: AbortSignal }): Promise<R>
  /**
   * Registers every sub-directory of `dir` holding a `p2p-ai-model.json` (as `pullModel` writes)
   * of this registry's format; manifests of other formats are left to their plug-ins.
   */
  scan(dir: string): Promise<ScanResult>
}

export interface ModelRegistryInit<
  E extends ModelEntry = ModelEntry,
  R extends ResolvedModel<E> = ResolvedModel<E>,
> {
  /** Models to register at construction. */
  readonly models?: readonly E[]
  /** The plug-in's knowledge of its files. @default any file; a directory entry must name its `model` */
  readonly format?: ModelFormat<E, R>
  /** Where sha256s are remembered. @default one in-memory cache per thread */
  readonly hashes?: HashCache
}

const SHA256_RE = /^[0-9a-f]{64}$/

/** Checks the fields every entry has and returns a copy with an absolute path. */
export function validateModelEntry<E extends ModelEntry>(entry: E): E {
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
  if (
    entry.taskTypes !== undefined &&
    !(Array.isArray(entry.taskTypes) && entry.taskTypes.every((t) => typeof t === 'string' && t !== ''))
  ) {
    bad('taskTypes must be non-empty strings')
  }
  return { ...entry, path: resolve(entry.path) }
}

/** `stat`, or `undefined` when nothing is there. */
async function statOrUndefined(path: string) {
  try {
    return await stat(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    throw err
  }
}

/** Whether a manifest belongs to `format`: it says so, or its model file has the format's extension. */
function ofFormat(manifest: ModelManifest, format: ModelFormat<never, never> | undefined): boolean {
  if (format === undefined) return true
  if (manifest.format !== undefined) return manifest.format === format.id
  return format.extensions.includes(extname(manifest.model).toLowerCase())
}

/** Creates a model registry. */
export function modelRegistry<
  E extends ModelEntry = ModelEntry,
  R extends ResolvedModel<E> = ResolvedModel<E>,
>(init: ModelRegistryInit<E, R> = {}): ModelRegistry<E, R> {
  const { format } = init
  const hashes = init.hashes ?? memoryHashCache
  const entries = new Map<string, E>()

  const registry: ModelRegistry<E, R> = {
    format,
    register(entry) {
      const common = validateModelEntry(entry)
      const valid = format?.validateEntry?.(common) ?? common
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
        const candidates = entry.model === undefined ? (format?.modelFiles ?? []) : [entry.model]
        let found: string | undefined
        for (const candidate of candidates) {
          if ((await statOrUndefined(join(dir, candidate)))?.isFile()) {
            found = join(dir, candidate)
            break
          }
        }
        if (found === undefined) {
          const wanted =
            candidates.length === 0 ? 'model file (name it with `model`)' : candidates.join(' or ')
          throw new ModelNotFoundError(`model ${name}: ${dir} has no ${wanted}`)
        }
        modelFile = found
      }
      const { sha256, sizeBytes } = await hashes.hash(
        modelFile,
        options.signal === undefined ? {} : { signal: options.signal },
      )
      if (entry.sha256 !== undefined && sha256 !== entry.sha256) {
        throw new ModelCorruptError(
          `model ${name}: sha256 of ${modelFile} is ${sha256}, expected ${entry.sha256} (file changed or truncated)`,
        )
      }
      const resolved: ResolvedModel<E> = {
        entry,
        name,
        modelFile,
        dir,
        isDirectory: s.isDirectory(),
        sha256,
        sizeBytes,
        taskTypes: entry.taskTypes ?? [],
      }
      return format?.complete === undefined ? (resolved as R) : format.complete(resolved)
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
          if (manifest === undefined || !ofFormat(manifest, format as ModelFormat<never, never>)) continue
          const files: Record<string, string> = {}
          for (const [file, info] of Object.entries(manifest.files)) files[file] = info.sha256
          // The manifest holds the common fields only; the format's own default the rest.
          registry.register({
            name: manifest.name,
            path,
            model: manifest.model,
            sha256: manifest.files[manifest.model]!.sha256,
            files,
          } as E)
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
