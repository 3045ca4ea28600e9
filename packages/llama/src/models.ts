import type { BigIntStats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import {
  type HashCache,
  hashCache,
  InvalidModelEntryError,
  ModelCorruptError,
  type ModelInfo,
  ModelNotFoundError,
} from '@p2p-ai/engine'
import type { GgufFileInfo } from 'node-llama-cpp'
import { GENERATE_TASK_TYPE, MODEL_NAME_RE } from './constants.js'
import { nodeLlamaCpp } from './runtime.js'

/** A GGUF model the backend serves. Plain data. */
export interface GgufModelEntry {
  /** Registry name, `[a-z0-9][a-z0-9._-]*`, e.g. `tinyllama-1.1b-chat-q4`. */
  readonly name: string
  /** The `.gguf` file; a relative path resolves against the working directory at registration. */
  readonly path: string
  /** Expected lower-case hex sha256 of the file, checked whenever the model is loaded. */
  readonly sha256?: string
  /** Tokens of context per running task. @default the backend's `contextSize`, at most the model's trained length */
  readonly contextSize?: number
  /** One line for listings. */
  readonly description?: string
}

/** What a GGUF file says about its model, for capability announcements and routing. */
export interface GgufModelDescription {
  /** Architecture (`general.architecture`), e.g. `llama`, `qwen2`, `phi3`. */
  readonly family: string
  /** How the weights are stored (`general.file_type`), e.g. `Q4_K_M`, `Q8_0`, `F16`. */
  readonly quantization: string
  /** Context length the model was trained with, in tokens. */
  readonly contextLength: number
  /** Number of weights, counted from the tensor shapes. */
  readonly parameters: number
}

/** A model as announced: the engine's `ModelInfo` and the GGUF description. */
export interface LlamaModelInfo extends Omit<ModelInfo, keyof GgufModelDescription>, GgufModelDescription {}

/** A registered model whose file was found, hashed and read. */
export interface ResolvedGgufModel {
  readonly entry: GgufModelEntry
  readonly name: string
  /** Absolute path of the file. */
  readonly file: string
  readonly sha256: string
  readonly sizeBytes: number
  readonly description: GgufModelDescription
  /** The GGUF header (metadata and tensor shapes), for llama.cpp's memory estimates. */
  readonly fileInfo: GgufFileInfo
  /** The file's identity (device, inode, size, mtime, ctime) when it was read. */
  readonly identity: string
}

const SHA256_RE = /^[0-9a-f]{64}$/

function statFile(file: string): Promise<BigIntStats> {
  return stat(file, { bigint: true })
}

/** What tells one version of a file from another without reading it (as the hash cache does). */
function identityOf(s: BigIntStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`
}

/** Model files are hashed once per file version (by file identity), not at every load. */
const memoryHashes = hashCache()

/** Checks an entry and returns a copy with an absolute path. */
export function validateModelEntry(entry: GgufModelEntry): GgufModelEntry {
  if (typeof entry !== 'object' || entry === null)
    throw new InvalidModelEntryError('a model entry must be an object')
  const bad = (why: string): never => {
    throw new InvalidModelEntryError(`model entry ${JSON.stringify(entry.name)}: ${why}`)
  }
  if (typeof entry.name !== 'string' || !MODEL_NAME_RE.test(entry.name))
    bad(`name must match ${MODEL_NAME_RE}`)
  if (typeof entry.path !== 'string' || entry.path === '') bad('path must be a non-empty string')
  if (entry.sha256 !== undefined && !(typeof entry.sha256 === 'string' && SHA256_RE.test(entry.sha256)))
    bad('sha256 must be 64 lower-case hex digits')
  if (
    entry.contextSize !== undefined &&
    !(Number.isSafeInteger(entry.contextSize) && entry.contextSize >= 16)
  )
    bad('contextSize must be an integer >= 16')
  return { ...entry, path: resolve(entry.path) }
}

/** `general.file_type` as llama.cpp names it, without its `MOSTLY_`/`ALL_` prefix. */
function quantizationOf(info: GgufFileInfo, lib: Awaited<ReturnType<typeof nodeLlamaCpp>>): string {
  const fileType = info.metadata.general?.file_type
  if (fileType !== undefined) {
    const name = lib.GgufFileType[fileType]
    if (name !== undefined) return name.replace(/^(MOSTLY|ALL)_/, '')
  }
  // No file type: name the tensor type that holds most of the weights.
  const bytesByType = new Map<number, number>()
  for (const t of info.tensorInfo ?? []) {
    const elements = t.dimensions.reduce<number>((n, d) => n * Number(d), 1)
    bytesByType.set(t.ggmlType, (bytesByType.get(t.ggmlType) ?? 0) + elements)
  }
  const dominant = [...bytesByType].sort((a, b) => b[1] - a[1])[0]
  return dominant === undefined ? 'unknown' : (lib.GgmlType[dominant[0]] ?? 'unknown')
}

/** What the header says, or `ERR_MODEL_CORRUPT` when it is not a GGUF model llama.cpp could run. */
async function readDescription(
  name: string,
  file: string,
): Promise<{ info: GgufFileInfo; description: GgufModelDescription }> {
  const lib = await nodeLlamaCpp()
  let info: GgufFileInfo
  try {
    info = await lib.readGgufFileInfo(file, {
      sourceType: 'filesystem',
      logWarnings: false,
      // The vocabulary is llama.cpp's business once it loads the model; no need to hold it twice.
      ignoreKeys: [
        'tokenizer.ggml.tokens',
        'tokenizer.ggml.scores',
        'tokenizer.ggml.token_type',
        'tokenizer.ggml.merges',
      ],
    })
  } catch (err) {
    throw new ModelCorruptError(
      `model ${name}: ${file} is not a readable GGUF file: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  const family: string | undefined = info.metadata.general?.architecture
  const contextLength = (info.architectureMetadata as { context_length?: number }).context_length
  if (typeof family !== 'string' || family === '') {
    throw new ModelCorruptError(`model ${name}: ${file} has no general.architecture; is it a language model?`)
  }
  const parameters = (info.tensorInfo ?? []).reduce(
    (n, t) => n + t.dimensions.reduce<number>((m, d) => m * Number(d), 1),
    0,
  )
  return {
    info,
    description: {
      family,
      quantization: quantizationOf(info, lib),
      contextLength: typeof contextLength === 'number' ? contextLength : 0,
      parameters,
    },
  }
}

/**
 * Finds a registered model's file and checks it: `ERR_MODEL_NOT_FOUND` when the file is missing,
 * `ERR_MODEL_CORRUPT` when its sha256 differs from the pinned one or it is not a GGUF model. The
 * hash is computed once per file version (size, mtime, inode), so loading again is cheap.
 */
export async function resolveModel(
  entry: GgufModelEntry,
  signal?: AbortSignal,
  hashes: HashCache = memoryHashes,
): Promise<ResolvedGgufModel> {
  const { name, path: file } = entry
  const s = await statFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined
    throw err
  })
  if (s === undefined) {
    throw new ModelNotFoundError(
      `model ${name}: ${file} does not exist; pull the model again or fix its path`,
    )
  }
  if (!s.isFile())
    throw new ModelNotFoundError(`model ${name}: ${file} is not a file (a .gguf file is expected)`)
  const { sha256, sizeBytes } = await hashes.hash(file, signal === undefined ? {} : { signal })
  if (entry.sha256 !== undefined && sha256 !== entry.sha256) {
    throw new ModelCorruptError(
      `model ${name}: sha256 of ${file} is ${sha256}, expected ${entry.sha256} (file changed or truncated; pull it again)`,
    )
  }
  const { info, description } = await readDescription(name, file)
  return { entry, name, file, sha256, sizeBytes, description, fileInfo: info, identity: identityOf(s) }
}

/**
 * Whether `model`'s file is still the one it was resolved from (one `stat`): then its hash and
 * header stand, and a task need not read them again (milliseconds of its time to first token).
 */
export async function unchanged(model: ResolvedGgufModel): Promise<boolean> {
  try {
    return identityOf(await statFile(model.file)) === model.identity
  } catch {
    return false
  }
}

/** The announcement of a resolved model. */
export function modelInfo(model: ResolvedGgufModel, memoryBytes: number | undefined): LlamaModelInfo {
  return {
    name: model.name,
    sha256: model.sha256,
    sizeBytes: model.sizeBytes,
    taskTypes: [GENERATE_TASK_TYPE],
    loaded: memoryBytes !== undefined,
    ...(memoryBytes === undefined ? {} : { memoryBytes }),
    ...model.description,
    files: { dir: dirname(model.file), paths: [basename(model.file)] },
  }
}

/** A registry name for a GGUF file: its name without `.gguf`, lower-cased (`tinyllama-1.1b-chat-v1.0.q4_k_m`). */
export function ggufModelName(file: string): string {
  const base = file
    .split('/')
    .at(-1)!
    .replace(/\.gguf$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
  return base.slice(0, 128) || 'model'
}
