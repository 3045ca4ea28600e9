import { rm } from 'node:fs/promises'
import type { LookupFunction } from 'node:net'
import { join, resolve } from 'node:path'
import {
  DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS,
  DEFAULT_HF_ENDPOINT,
  DEFAULT_REVISION,
  MANIFEST_FILE,
  MODEL_NAME_RE,
} from '../constants.js'
import { InvalidModelEntryError, ModelDownloadFailedError } from '../errors.js'
import { downloadFile } from './download.js'
import { fileUrl } from './hub.js'
import { type ManifestFile, type ModelManifest, writeManifest } from './manifest.js'
import type { ModelEntry, ModelRegistry } from './registry.js'

/** Progress of a pull, reported as bytes arrive. */
export interface PullProgress {
  /** Path in the repository of the file being downloaded. */
  readonly file: string
  readonly receivedBytes: number
  /** The file's size, when the server says. */
  readonly totalBytes?: number
  /**
   * Bytes of `receivedBytes` an earlier, interrupted pull had already downloaded (the download
   * continues from its partial file); a rate or an ETA counts only the rest.
   */
  readonly resumedBytes: number
}

export interface PullModelOptions {
  /** Repository on the endpoint, e.g. `sentence-transformers/all-MiniLM-L6-v2`. */
  readonly repo: string
  /** Branch, tag or commit. @default 'main' */
  readonly revision?: string
  /**
   * The model file's path in the repository, or candidates tried in order: the first that exists
   * is the model (Hugging Face exports put ONNX graphs at `onnx/model.onnx` or `model.onnx`).
   */
  readonly model: string | readonly string[]
  /** Further files to download, all required (a tokenizer, say). @default [] */
  readonly files?: readonly string[]
  /** Further files downloaded when the repository has them (configuration files). @default [] */
  readonly optionalFiles?: readonly string[]
  /**
   * The plug-in format of the model, recorded in the manifest so that only that plug-in registers
   * the directory. @default the registry's format, if a registry is given
   */
  readonly format?: string
  /** A Hugging Face-compatible server. @default 'https://huggingface.co' */
  readonly endpoint?: string
  /** Directory of this model's files (created if needed). */
  readonly dir: string
  /** Registry name. @default the repository name, lower-cased (`all-minilm-l6-v2`) */
  readonly name?: string
  /** Registers the pulled model here when done (any registry: only `register` and `format` are used). */
  readonly registry?: Pick<ModelRegistry, 'register'> & {
    readonly format?: { readonly id: string } | undefined
  }
  /** Access token for gated or private repositories, sent as `Authorization: Bearer`. */
  readonly token?: string
  /** Fail a download when no byte arrives for this long. @default 30000 */
  readonly stallTimeoutMs?: number
  /** Custom DNS resolution (`net.LookupFunction`), e.g. to pin the endpoint's address. */
  readonly lookup?: LookupFunction
  readonly onProgress?: (progress: PullProgress) => void
  readonly signal?: AbortSignal
}

export interface PulledModel {
  readonly name: string
  readonly dir: string
  readonly manifest: ModelManifest
  /** The registry entry (registered in `registry` when one was given). */
  readonly entry: ModelEntry
}

const REPO_RE = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/
function checkRelative(file: string): void {
  const parts = file.split('/')
  if (
    file === '' ||
    file.startsWith('/') ||
    file.includes('\\') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new InvalidModelEntryError(
      `file ${JSON.stringify(file)} must be a relative path inside the repository`,
    )
  }
}

/**
 * Downloads a model from a Hugging Face-compatible endpoint into `dir`, file by file and atomically,
 * each checked against the sha256 the server announces, and resumably: a pull cut short (network,
 * Ctrl-C) leaves the file it was on as `<file>.partial`, and the next pull of the model continues
 * it with an HTTP Range request (files already complete are fetched again: only the model file is
 * large, and it comes first). Records every file's sha256 in
 * `p2p-ai-model.json` (written last: a directory with a manifest is complete) and registers it.
 * Format-independent: a plug-in says which files make a model (`@p2p-ai/onnx`'s `pullOnnxModel`
 * knows sentence-transformers exports). Fails with `ERR_MODEL_DOWNLOAD_FAILED` and a `reason`
 * (`dns`, `connection-refused`, `http-status`...) when the endpoint cannot be reached.
 */
export async function pullModel(options: PullModelOptions): Promise<PulledModel> {
  const { repo, signal } = options
  if (typeof repo !== 'string' || !REPO_RE.test(repo) || repo.includes('..')) {
    throw new InvalidModelEntryError(`repo ${JSON.stringify(repo)} must look like owner/name`)
  }
  const revision = options.revision ?? DEFAULT_REVISION
  if (revision === '' || revision.includes('..'))
    throw new InvalidModelEntryError('revision must be a branch, tag or commit')
  const name = options.name ?? repo.split('/').at(-1)!.toLowerCase()
  if (!MODEL_NAME_RE.test(name))
    throw new InvalidModelEntryError(`name ${JSON.stringify(name)} must match ${MODEL_NAME_RE}`)
  let endpoint: URL
  try {
    endpoint = new URL(options.endpoint ?? DEFAULT_HF_ENDPOINT)
  } catch {
    throw new InvalidModelEntryError(`endpoint ${JSON.stringify(options.endpoint)} is not a URL`)
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') {
    throw new InvalidModelEntryError('endpoint must be an http or https URL')
  }
  const candidates = typeof options.model === 'string' ? [options.model] : [...(options.model ?? [])]
  if (candidates.length === 0) throw new InvalidModelEntryError('model must name the model file')
  const required = options.files ?? []
  const optional = options.optionalFiles ?? []
  for (const f of [...candidates, ...required, ...optional]) checkRelative(f)
  const format = options.format ?? options.registry?.format?.id
  const dir = resolve(options.dir)
  const base = endpoint.href.replace(/\/+$/, '')
  const urlOf = (file: string) => fileUrl(base, repo, revision, file)
  const downloadOptions = {
    stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_DOWNLOAD_STALL_TIMEOUT_MS,
    headers: {
      'user-agent': 'p2p-ai-engine',
      ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
    },
    ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    ...(signal === undefined ? {} : { signal }),
  }
  const fetchFile = async (file: string): Promise<ManifestFile> => {
    const { sha256, sizeBytes } = await downloadFile(urlOf(file), join(dir, ...file.split('/')), {
      ...downloadOptions,
      onBytes: (receivedBytes, totalBytes, resumedBytes) =>
        options.onProgress?.({
          file,
          receivedBytes,
          resumedBytes,
          ...(totalBytes === undefined ? {} : { totalBytes }),
        }),
    })
    return { sha256, sizeBytes }
  }
  const isMissing = (err: unknown) => err instanceof ModelDownloadFailedError && err.status === 404

  // The old manifest goes first: until the new one is written the directory reads as incomplete.
  await rm(join(dir, MANIFEST_FILE), { force: true })
  const files: Record<string, ManifestFile> = {}
  let modelFile: string | undefined
  for (const [i, candidate] of candidates.entries()) {
    try {
      files[candidate] = await fetchFile(candidate)
      modelFile = candidate
      break
    } catch (err) {
      if (!isMissing(err) || i === candidates.length - 1) throw err
    }
  }
  for (const file of required) files[file] ??= await fetchFile(file)
  for (const file of optional) {
    if (files[file] !== undefined) continue
    try {
      files[file] = await fetchFile(file)
    } catch (err) {
      if (!isMissing(err)) throw err
    }
  }
  const manifest: ModelManifest = {
    version: 1,
    name,
    model: modelFile!,
    ...(format === undefined ? {} : { format }),
    files,
    source: { endpoint: base, repo, revision },
    createdAt: new Date().toISOString(),
  }
  await writeManifest(dir, manifest)
  const hashes: Record<string, string> = {}
  for (const [file, info] of Object.entries(files)) hashes[file] = info.sha256
  const entry: ModelEntry = {
    name,
    path: dir,
    model: modelFile!,
    sha256: files[modelFile!]!.sha256,
    files: hashes,
  }
  options.registry?.register(entry)
  return { name, dir, manifest, entry }
}
