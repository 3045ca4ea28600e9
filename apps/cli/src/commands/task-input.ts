import { readFile, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { list, str } from '../args/parse.js'
import type { OptionValues } from '../args/spec.js'
import { MAX_REQUEST_BYTES } from '../constants.js'
import { FileError, UsageError } from '../errors.js'
import { bytes } from '../term/format.js'

/** Task types whose input is an image rather than text. */
const IMAGE_TYPES = new Set(['ocr'])

/** A text as the input of `type`: the user's chat message for `generate`, else `{ text }`. */
function textInput(type: string, text: string): Record<string, unknown> {
  return type === 'generate' ? { messages: [{ role: 'user', content: text }] } : { text }
}

/**
 * The task input from `--input`, `--file` or `--input-json`, with `--param key=value` fields on
 * top. Text becomes `{ text }` (for `generate`, a chat message: `{ messages: [{ role: 'user',
 * content }] }`); an image file for `ocr` becomes `{ image: <base64> }`.
 */
export async function buildInput(
  type: string,
  options: OptionValues,
  cwd: string,
  stdin: (limit: number) => Promise<Buffer> = readStdin,
): Promise<Record<string, unknown>> {
  let input: Record<string, unknown>
  const json = str(options, 'input-json')
  const file = str(options, 'file')
  const text = str(options, 'input')
  if (json !== undefined) {
    let value: unknown
    try {
      value = JSON.parse(json)
    } catch (err) {
      throw new UsageError(
        `--input-json is not valid JSON: ${(err as Error).message}`,
        `quote it for the shell: --input-json '{"text":"hello"}'`,
      )
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new UsageError('--input-json must be a JSON object, such as {"text":"hello"}')
    }
    input = { ...(value as Record<string, unknown>) }
  } else if (file !== undefined) {
    const image = IMAGE_TYPES.has(type)
    // The node takes a request of at most 16 MiB, and an image travels as base64 (4 bytes for 3):
    // a larger file is refused by its size, before it is read.
    const limit = image ? Math.floor((MAX_REQUEST_BYTES * 3) / 4) : MAX_REQUEST_BYTES
    const data = file === '-' ? await stdin(limit) : await readInputFile(resolve(cwd, file), limit)
    if (image) input = { image: data.toString('base64') }
    else {
      if (data.subarray(0, 8192).includes(0)) {
        throw new UsageError(
          `${file} looks like a binary file, not text`,
          'images go with --type ocr; other inputs with --input-json',
        )
      }
      input = textInput(type, data.toString('utf8'))
    }
  } else {
    input = textInput(type, text ?? '')
  }
  for (const param of list(options, 'param')) {
    const eq = param.indexOf('=')
    if (eq <= 0)
      throw new UsageError(`--param must be key=value, got "${param}"`, 'for example: --param size=200')
    const key = param.slice(0, eq)
    const raw = param.slice(eq + 1)
    input[key] = parseValue(raw)
  }
  return input
}

/** `200` → 200, `true` → true, `[1,2]` → [1, 2], anything else stays text. */
export function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

async function readInputFile(path: string, limit: number): Promise<Buffer> {
  try {
    const { size } = await stat(path)
    if (size > limit) throw tooLarge(path, size, limit)
    return await readFile(path)
  } catch (err) {
    if (err instanceof UsageError) throw err
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'it is a directory'
            : (err as Error).message
    throw new FileError(`cannot read ${path}: ${why}`, undefined, { cause: err })
  }
}

async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin) {
    size += (chunk as Buffer).length
    if (size > limit) throw tooLarge('standard input', size, limit, 'at least ')
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

function tooLarge(what: string, size: number, limit: number, atLeast = ''): UsageError {
  return new UsageError(
    `${what} is ${atLeast}${bytes(size)}: a task's input can be at most ${bytes(limit)} (the node takes requests of up to ${bytes(MAX_REQUEST_BYTES)})`,
    'split it into several tasks (to run on a peer, a task must also fit in a 4 MiB frame)',
  )
}
