/**
 * The llama plug-in the CLI uses, in one module: the `generate` backend `node start` serves when
 * the data directory holds GGUF models. It is the one place that names the package (node-llama-cpp
 * loads only when a node has a GGUF model to serve).
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { GgufModelEntry } from '@p2p-ai/llama'

export { type LlamaBackend, llamaBackend } from '@p2p-ai/llama'

/**
 * The GGUF files directly in `dir` (the data directory's `models/`), each named after its file:
 * `TinyLlama-1.1B-Chat.Q4_K_M.gguf` serves as `tinyllama-1.1b-chat.q4_k_m`.
 */
export async function ggufModels(dir: string): Promise<GgufModelEntry[]> {
  let names: string[]
  try {
    names = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => d.isFile() && d.name.toLowerCase().endsWith('.gguf'))
      .map((d) => d.name)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const seen = new Set<string>()
  const models: GgufModelEntry[] = []
  for (const file of names.sort()) {
    const name = modelName(file)
    if (name === undefined || seen.has(name)) continue
    seen.add(name)
    models.push({ name, path: join(dir, file) })
  }
  return models
}

/** A registry name (`[a-z0-9][a-z0-9._-]*`, at most 128 characters) from a file name. */
function modelName(file: string): string | undefined {
  const name = file
    .slice(0, -'.gguf'.length)
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 128)
  return name === '' ? undefined : name
}
