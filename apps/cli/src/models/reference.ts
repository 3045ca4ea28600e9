import { FileError, UsageError } from '../errors.js'
import { parseGgufReference } from '../llama.js'
import { MODEL_FILE_CANDIDATES } from '../onnx.js'

/**
 * Short names `models pull` knows, and the references they stand for. Each is its own registry
 * name.
 */
export const KNOWN_MODELS: Readonly<Record<string, string>> = {
  'all-minilm-l6-v2': 'sentence-transformers/all-MiniLM-L6-v2',
  'bge-small-en-v1.5': 'BAAI/bge-small-en-v1.5',
  // dslim/bert-base-NER exported to ONNX by transformers.js: PER, ORG, LOC, MISC in BIO tags.
  'bert-base-ner': 'Xenova/bert-base-NER',
  'tinyllama-1.1b-chat': 'TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF:Q4_K_M',
}

/** What `models pull <reference>` downloads. */
export type PullPlan =
  | { readonly format: 'onnx'; readonly repo: string; readonly name: string }
  | {
      readonly format: 'gguf'
      readonly repo: string
      readonly file?: string
      readonly quantization?: string
      readonly revision?: string
      /** Unset: the file's name, lower-cased. */
      readonly name?: string
    }

/** The files of a repository, or undefined when the hub cannot list them (no listing API, offline...). */
export type ListFiles = (repo: string) => Promise<ReadonlyArray<{ readonly path: string }> | undefined>

/**
 * Reads a `models pull` reference:
 * - a short name of {@link KNOWN_MODELS};
 * - a GGUF file: `owner/repo:Q4_K_M`, `owner/repo:file.gguf`, `owner/repo/file.gguf`, and the same
 *   behind `hf:` or `hf.co/`, or a pasted `https://huggingface.co/.../resolve/main/file.gguf`;
 * - `owner/repo`: its ONNX export (the sentence-transformers and transformers.js layouts); a
 *   repository with no ONNX model but GGUF files is pulled as GGUF, at its default quantization.
 * `as` is the registry name the user chose.
 */
export async function planPull(wanted: string, as: string | undefined, list: ListFiles): Promise<PullPlan> {
  const known = KNOWN_MODELS[wanted]
  const reference = known ?? wanted
  const name = as ?? (known === undefined ? undefined : wanted)
  const gguf = parseGgufReference(reference)
  if (gguf !== undefined) return { format: 'gguf', ...gguf, ...(name === undefined ? {} : { name }) }
  if (!/^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/.test(reference)) {
    throw new UsageError(
      `"${wanted}" is neither a repository (owner/name), a GGUF reference (owner/name:Q4_K_M) nor a known short name`,
      `known short names: ${Object.keys(KNOWN_MODELS).join(', ')}; see docs/models.md`,
    )
  }
  const onnx = {
    format: 'onnx',
    repo: reference,
    name: name ?? reference.split('/').at(-1)!.toLowerCase(),
  } as const
  const files = await list(reference)
  if (files === undefined) return onnx
  const paths = files.map((f) => f.path)
  if (MODEL_FILE_CANDIDATES.some((c) => paths.includes(c))) return onnx
  if (paths.some((p) => /\.gguf$/i.test(p))) {
    return { format: 'gguf', repo: reference, ...(as === undefined ? {} : { name: as }) }
  }
  throw new FileError(
    `${reference} has neither an ONNX model (${MODEL_FILE_CANDIDATES.slice(0, 3).join(', ')}...) nor a GGUF file`,
    'check the repository name; see docs/models.md for the layouts models pull takes',
  )
}
