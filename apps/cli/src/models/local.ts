import { readdir, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { FileError } from '../errors.js'

/** The model formats the CLI's node serves. */
export type ModelFormatId = 'onnx' | 'gguf'

/** A model on this machine as `models add` finds it: its format and the file to load. */
export interface LocalModel {
  readonly format: ModelFormatId
  /** What the registry entry points at: a `.gguf` file, an `.onnx` file, or an ONNX model directory. */
  readonly path: string
  /** For a directory: the model file in it, relative (the best of the export layouts, or the one given). */
  readonly file?: string
  /** Other model files of the directory, not used (to choose one with `--file`). */
  readonly others: readonly string[]
}

const FORMAT_OF: Readonly<Record<string, ModelFormatId>> = { '.onnx': 'onnx', '.gguf': 'gguf' }
const ADVICE =
  'give a .gguf file, an .onnx file, or a directory holding an ONNX export (model.onnx, onnx/model.onnx, onnx/model_quantized.onnx...) or one .gguf file'

async function kind(path: string): Promise<'file' | 'directory' | undefined> {
  const s = await stat(path).catch(() => undefined)
  return s === undefined ? undefined : s.isDirectory() ? 'directory' : 'file'
}

/** Model files of a format in `dir` and its `onnx/` folder, relative, sorted. */
async function filesOf(dir: string, format: ModelFormatId): Promise<string[]> {
  const found: string[] = []
  for (const sub of format === 'onnx' ? ['', 'onnx'] : ['']) {
    const entries = await readdir(join(dir, sub), { withFileTypes: true }).catch(() => [])
    for (const e of entries) {
      if (!e.isFile() || FORMAT_OF[extname(e.name).toLowerCase()] !== format) continue
      // A vision projector is not a language model.
      if (format === 'gguf' && /mmproj/i.test(e.name)) continue
      found.push(sub === '' ? e.name : `${sub}/${e.name}`)
    }
  }
  return found.sort()
}

/**
 * What a path given to `models add` holds. A directory's ONNX model is the first of
 * `candidates` (the export layouts, full precision first) unless `file` names one; a directory
 * without ONNX export but with one `.gguf` file is that GGUF model. Throws `ERR_FILE` with advice.
 */
export async function inspectLocalModel(
  path: string,
  file: string | undefined,
  candidates: readonly string[],
): Promise<LocalModel> {
  const what = await kind(path)
  if (what === undefined) throw new FileError(`${path} does not exist`, ADVICE)
  if (what === 'file') {
    const format = FORMAT_OF[extname(path).toLowerCase()]
    if (format === undefined) throw new FileError(`${path} is neither an .onnx nor a .gguf file`, ADVICE)
    if (file !== undefined)
      throw new FileError('--file chooses a file inside a directory; give the file as the path')
    return { format, path, others: [] }
  }
  if (file !== undefined) {
    const format = FORMAT_OF[extname(file).toLowerCase()]
    if (format === undefined) throw new FileError(`${file} is neither an .onnx nor a .gguf file`, ADVICE)
    if ((await kind(join(path, file))) !== 'file')
      throw new FileError(`${join(path, file)} does not exist`, ADVICE)
    const others = (await filesOf(path, format)).filter((f) => f !== file)
    return format === 'gguf' ? { format, path: join(path, file), others } : { format, path, file, others }
  }
  const onnx = await filesOf(path, 'onnx')
  for (const candidate of candidates) {
    if (onnx.includes(candidate)) {
      return { format: 'onnx', path, file: candidate, others: onnx.filter((f) => f !== candidate) }
    }
  }
  const gguf = await filesOf(path, 'gguf')
  if (gguf.length === 1) return { format: 'gguf', path: join(path, gguf[0]!), others: [] }
  if (gguf.length > 1) {
    throw new FileError(
      `${path} holds several GGUF files: ${gguf.join(', ')}`,
      'choose one with --file <name>',
    )
  }
  throw new FileError(
    onnx.length > 0
      ? `${path} has no ONNX model in a known layout (it has ${onnx.join(', ')})`
      : `${path} holds no model file`,
    onnx.length > 0 ? 'choose one with --file <name>' : ADVICE,
  )
}
