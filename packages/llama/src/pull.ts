import { join } from 'node:path'
import {
  DEFAULT_HF_ENDPOINT,
  DEFAULT_REVISION,
  InvalidModelEntryError,
  listRepoFiles,
  type PulledModel,
  type PullModelOptions,
  pullModel,
  type RepoFile,
} from '@p2p-ai/engine'
import { DEFAULT_QUANTIZATION, GGUF_FORMAT } from './constants.js'
import { GgufFileNotFoundError } from './errors.js'
import { ggufModelName } from './models.js'

/**
 * A GGUF file on a Hugging Face-compatible hub, as people name one: the repository and either the
 * file or its quantization (`Q4_K_M`), as llama.cpp's `-hf owner/repo:Q4_K_M` and Ollama's
 * `hf.co/owner/repo:Q4_K_M` do.
 */
export interface GgufReference {
  /** `owner/name`. */
  readonly repo: string
  /** Path of the `.gguf` file in the repository. */
  readonly file?: string
  /** Quantization tag, matched case-insensitively against the file names. */
  readonly quantization?: string
  /** Branch, tag or commit, from a pasted `/resolve/<rev>/` or `/blob/<rev>/` URL. */
  readonly revision?: string
}

const REPO = '[A-Za-z0-9][\\w.-]*/[A-Za-z0-9][\\w.-]*'
const SHARD = /-\d{5}-of-\d{5}\.gguf$/i

/**
 * Reads a GGUF reference, or returns undefined when the text is none (a plain `owner/repo`, which
 * may name an ONNX export as well, is one only with `hf:` or `hf.co/` in front):
 *
 * - `owner/repo:file.gguf`, `owner/repo/path/file.gguf`: that file;
 * - `owner/repo:Q4_K_M`: the file of that quantization;
 * - the same behind `hf:` (node-llama-cpp's URIs), `hf.co/` or `huggingface.co/` (Ollama's), and
 *   `https://huggingface.co/owner/repo/resolve/<rev>/file.gguf` or `.../blob/<rev>/...` as pasted
 *   from a browser; `hf:owner/repo` alone means its default quantization.
 */
export function parseGgufReference(text: string): GgufReference | undefined {
  const url = /^https?:\/\/(?:www\.)?(?:huggingface\.co|hf\.co)\/(.+)$/.exec(text)
  let rest = url?.[1] ?? text
  const marked = url !== null || /^(?:hf:|hf\.co\/|huggingface\.co\/)/.test(rest)
  rest = rest.replace(/^(?:hf:|hf\.co\/|huggingface\.co\/)/, '')
  const pasted = new RegExp(`^(${REPO})/(?:resolve|blob)/([^/]+)/(.+\\.gguf)(?:\\?.*)?$`, 'i').exec(rest)
  if (pasted !== null) {
    return {
      repo: pasted[1]!,
      revision: decodeURIComponent(pasted[2]!),
      file: decodeURIComponent(pasted[3]!),
    }
  }
  const tagged = new RegExp(`^(${REPO}):([^:/\\s][^:\\s]*)$`).exec(rest)
  if (tagged !== null) {
    const tag = tagged[2]!
    return /\.gguf$/i.test(tag) ? { repo: tagged[1]!, file: tag } : { repo: tagged[1]!, quantization: tag }
  }
  const path = new RegExp(`^(${REPO})/(.+\\.gguf)$`, 'i').exec(rest)
  if (path !== null) return { repo: path[1]!, file: path[2]! }
  if (marked && new RegExp(`^${REPO}$`).test(rest)) return { repo: rest }
  return undefined
}

/** The quantization tags a file name carries (`Q4_K_M`, `IQ3_XXS`, `F16`, `BF16`...). */
function quantizationOf(path: string): string | undefined {
  const name = path
    .split('/')
    .at(-1)!
    .replace(/\.gguf$/i, '')
  return /(?:^|[-._])((?:I?Q\d[A-Z0-9_]*?)|BF16|FP?16|FP?32)(?:$|[-.])/i.exec(name)?.[1]?.toUpperCase()
}

/**
 * The file a quantization names among a repository's files: the `.gguf` files whose names carry
 * the tag (case-insensitive), split models and the vision projectors (`mmproj`) left out. Without
 * a tag: `Q4_K_M` if there is one (llama.cpp's and Ollama's default), else the only GGUF file.
 * Throws `ERR_GGUF_FILE_NOT_FOUND` naming what the repository has.
 */
export function chooseGgufFile(repo: string, files: readonly RepoFile[], quantization?: string): RepoFile {
  const ggufs = files.filter((f) => /\.gguf$/i.test(f.path) && !/mmproj/i.test(f.path))
  const whole = ggufs.filter((f) => !SHARD.test(f.path))
  const available = [...new Set(whole.map((f) => quantizationOf(f.path) ?? f.path))].sort()
  const listing = available.length === 0 ? 'none' : available.join(', ')
  if (ggufs.length === 0) throw new GgufFileNotFoundError(`${repo} has no GGUF file`)
  const wanted = (quantization ?? DEFAULT_QUANTIZATION).toUpperCase()
  const matches = whole.filter((f) => quantizationOf(f.path) === wanted)
  if (matches.length === 1) return matches[0]!
  if (matches.length > 1) {
    throw new GgufFileNotFoundError(
      `${repo} has several ${wanted} files (${matches.map((f) => f.path).join(', ')}): name one as ${repo}:<file.gguf>`,
    )
  }
  if (quantization === undefined && whole.length === 1) return whole[0]!
  if (ggufs.some((f) => SHARD.test(f.path) && quantizationOf(f.path.replace(SHARD, '.gguf')) === wanted)) {
    throw new GgufFileNotFoundError(
      `${repo}'s ${wanted} model is split into several files, which p2p-ai cannot load yet; choose another quantization (${listing})`,
    )
  }
  throw new GgufFileNotFoundError(
    quantization === undefined
      ? `${repo} has several GGUF files and none is ${DEFAULT_QUANTIZATION}: name a quantization (${listing})`
      : `${repo} has no ${wanted} GGUF file; it has ${listing}`,
  )
}

export interface PullGgufModelOptions
  extends Omit<PullModelOptions, 'model' | 'files' | 'optionalFiles' | 'format' | 'dir' | 'name'> {
  /** The file to download, its path in the repository. */
  readonly file?: string
  /** Or its quantization, found in the repository's file listing. @default 'Q4_K_M' */
  readonly quantization?: string
  /** Directory of pulled models: the model goes to `<modelsDir>/<name>/`. */
  readonly modelsDir: string
  /** Registry name. @default the file's name without `.gguf`, lower-cased */
  readonly name?: string
}

/**
 * Pulls one GGUF file from a Hugging Face-compatible hub into `<modelsDir>/<name>/` with the
 * engine's `pullModel`: resumable, checked against the sha256 the hub announces, the manifest
 * (format `gguf`) written last, so the `llama` backend's `modelsDir` scan registers it. Without a
 * `file`, the repository's listing is read and the quantization picks the file
 * (`chooseGgufFile`).
 *
 * ```ts
 * await pullGgufModel({ repo: 'TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF', quantization: 'Q4_K_M', modelsDir: './models' })
 * ```
 */
export async function pullGgufModel(options: PullGgufModelOptions): Promise<PulledModel> {
  const { file, quantization, modelsDir, ...rest } = options
  if (file !== undefined && quantization !== undefined) {
    throw new InvalidModelEntryError('give the file or the quantization, not both')
  }
  if (file !== undefined && !/\.gguf$/i.test(file)) {
    throw new InvalidModelEntryError(`file ${JSON.stringify(file)} is not a .gguf file`)
  }
  let chosen = file
  if (chosen === undefined) {
    const endpoint = (options.endpoint ?? DEFAULT_HF_ENDPOINT).replace(/\/+$/, '')
    const files = await listRepoFiles(endpoint, options.repo, options.revision ?? DEFAULT_REVISION, {
      stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
      ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    chosen = chooseGgufFile(options.repo, files, quantization).path
  }
  const name = options.name ?? ggufModelName(chosen)
  return pullModel({ ...rest, name, model: chosen, format: GGUF_FORMAT, dir: join(modelsDir, name) })
}
