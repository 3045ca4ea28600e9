import { mkdir, rename, stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { bool, list, str } from '../args/parse.js'
import type { Handler } from '../args/spec.js'
import { BIN_NAME, EXIT, MODELS_DIR } from '../constants.js'
import { connectToNode } from '../control/client.js'
import type { ModelJson } from '../control/types.js'
import { modelsFile, readAddedModels } from '../daemon/models-file.js'
import { FileError, OfflineError, UsageError } from '../errors.js'
import { eprintln, printJson, println } from '../io.js'
import type { ModelEntry } from '../onnx.js'
import { bytes, table } from '../term/format.js'
import { spinner } from '../term/spinner.js'
import { locate } from './common.js'

/** Short names `models pull` knows, and the repositories they stand for. */
export const KNOWN_MODELS: Readonly<Record<string, string>> = {
  'all-minilm-l6-v2': 'sentence-transformers/all-MiniLM-L6-v2',
  'bge-small-en-v1.5': 'BAAI/bge-small-en-v1.5',
}

/** Whether a node runs for the data directory, and what it serves (undefined when none runs). */
async function served(dataDir: string): Promise<ModelJson[] | undefined> {
  try {
    return await (await connectToNode(dataDir)).models({ timeoutMs: 3000 })
  } catch {
    return undefined
  }
}

const listModels: Handler = async (parsed, io) => {
  const { dataDir } = await locate(parsed, io)
  const { builtinModels, onnxModelRegistry } = await import('../onnx.js')
  const builtin = builtinModels()
  const added = await readAddedModels(dataDir)
  const registry = onnxModelRegistry({ models: [...builtin, ...added] })
  const scan = await registry.scan(join(dataDir, MODELS_DIR))
  const builtinNames = new Set(builtin.map((m) => m.name))
  const addedNames = new Set(added.map((m) => m.name))
  const running = await served(dataDir)
  const byName = new Map(running?.map((m) => [m.name, m]))
  const models: ModelJson[] = registry.list().map((e) => {
    const s = byName.get(e.name)
    return {
      name: e.name,
      taskTypes: [...(s?.taskTypes ?? e.taskTypes ?? [])],
      source: builtinNames.has(e.name) ? 'builtin' : addedNames.has(e.name) ? 'added' : 'pulled',
      path: e.path,
      ...(e.description === undefined ? {} : { description: e.description }),
      ...(s?.sha256 === undefined ? {} : { sha256: s.sha256 }),
      ...(s?.sizeBytes === undefined ? {} : { sizeBytes: s.sizeBytes }),
      ...(s?.loaded === undefined ? {} : { loaded: s.loaded }),
    }
  })
  if (bool(parsed.options, 'json')) {
    printJson(io, { models, nodeRunning: running !== undefined, skipped: scan.skipped })
    return EXIT.OK
  }
  const c = io.out
  const rows = models.map((m) => [
    m.name,
    m.source,
    m.taskTypes.join(', ') || c.dim('inferred on load'),
    running === undefined
      ? c.dim('-')
      : byName.has(m.name)
        ? c.green(m.loaded === true ? 'loaded' : 'yes')
        : c.yellow('no'),
    m.sizeBytes === undefined ? '-' : bytes(m.sizeBytes),
  ])
  println(io, table(['NAME', 'SOURCE', 'TASKS', 'SERVED', 'SIZE'], rows, c))
  for (const s of scan.skipped) eprintln(io, `${io.err.yellow('warning:')} skipped ${s.dir}: ${s.reason}`)
  if (running === undefined) {
    println(io, c.dim(`no node is running for ${dataDir}; "served" shows once one is`))
  } else if (running.length === 0) {
    println(io, c.yellow('the running node serves no models: its ONNX backend has not loaded (see its log)'))
  } else if (models.some((m) => !byName.has(m.name))) {
    println(
      io,
      c.dim(
        `models marked "no" are served after a restart: \`${BIN_NAME} node stop\`, then \`${BIN_NAME} node start\``,
      ),
    )
  }
  return EXIT.OK
}

const add: Handler = async (parsed, io) => {
  const [name, rawPath] = parsed.args as [string, string]
  const { dataDir } = await locate(parsed, io)
  const { onnxModelRegistry, MODEL_NAME_RE } = await import('../onnx.js')
  if (!MODEL_NAME_RE.test(name)) {
    throw new UsageError(
      `model name "${name}" must be lower-case letters, digits, ".", "_" and "-" (starting with a letter or digit)`,
    )
  }
  const path = resolve(io.cwd, rawPath)
  try {
    await stat(path)
  } catch {
    throw new FileError(
      `${path} does not exist`,
      'give a .onnx file, or a directory holding model.onnx (and tokenizer.json for embed)',
    )
  }
  const taskTypes = list(parsed.options, 'task-types')
  const entry: ModelEntry = { name, path, ...(taskTypes.length === 0 ? {} : { taskTypes: [...taskTypes] }) }
  const registry = onnxModelRegistry()
  let resolved: Awaited<ReturnType<typeof registry.resolve>>
  try {
    registry.register(entry)
    resolved = await registry.resolve(name, { signal: io.signal })
  } catch (err) {
    throw new FileError(
      (err as Error).message,
      'give a .onnx file, or a directory holding model.onnx or onnx/model.onnx',
    )
  }
  const pinned: ModelEntry = { ...entry, sha256: resolved.sha256 }
  const added = await readAddedModels(dataDir)
  const replaced = added.some((m) => m.name === name)
  const next = [...added.filter((m) => m.name !== name), pinned]
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const file = modelsFile(dataDir)
  await writeFile(`${file}.tmp`, `${JSON.stringify({ models: next }, null, 2)}\n`, { mode: 0o600 })
  await rename(`${file}.tmp`, file)
  const summary = {
    name,
    path,
    sha256: resolved.sha256,
    sizeBytes: resolved.sizeBytes,
    taskTypes: resolved.taskTypes,
    replaced,
  }
  if (bool(parsed.options, 'json')) {
    printJson(io, summary)
    return EXIT.OK
  }
  println(
    io,
    `${io.out.green('✔')} ${replaced ? 'replaced' : 'added'} model ${io.out.bold(name)}: ${resolved.modelFile} (${bytes(resolved.sizeBytes)}, ${resolved.taskTypes.join(', ')})`,
  )
  if ((await served(dataDir)) !== undefined) {
    println(
      io,
      io.out.dim(
        `the running node serves it after a restart: \`${BIN_NAME} node stop\`, then \`${BIN_NAME} node start\``,
      ),
    )
  }
  return EXIT.OK
}

const pull: Handler = async (parsed, io) => {
  const wanted = parsed.args[0]!
  const repo = KNOWN_MODELS[wanted] ?? wanted
  if (!repo.includes('/')) {
    throw new UsageError(
      `"${wanted}" is neither a repository (owner/name) nor a known short name`,
      `known short names: ${Object.keys(KNOWN_MODELS).join(', ')}`,
    )
  }
  const { dataDir } = await locate(parsed, io)
  const { pullOnnxModel } = await import('../onnx.js')
  const endpoint = str(parsed.options, 'endpoint') ?? 'https://huggingface.co'
  const name =
    str(parsed.options, 'as') ??
    (KNOWN_MODELS[wanted] === undefined ? repo.split('/').at(-1)!.toLowerCase() : wanted)
  const spin = spinner(io.stderr, `downloading ${repo} from ${endpoint}…`)
  let pulled: Awaited<ReturnType<typeof pullOnnxModel>>
  try {
    pulled = await pullOnnxModel({
      repo,
      name,
      endpoint,
      revision: str(parsed.options, 'revision') ?? 'main',
      dir: join(dataDir, MODELS_DIR, name),
      signal: io.signal,
      onProgress: (p) =>
        spin.update(
          `downloading ${p.file} ${bytes(p.receivedBytes)}${p.totalBytes === undefined ? '' : ` of ${bytes(p.totalBytes)}`}…`,
        ),
    })
  } catch (err) {
    spin.stop()
    throw pullError(err, endpoint, repo)
  }
  spin.stop()
  const size = Object.values(pulled.manifest.files).reduce((n, f) => n + f.sizeBytes, 0)
  if (bool(parsed.options, 'json')) {
    printJson(io, { name: pulled.name, dir: pulled.dir, repo, files: pulled.manifest.files })
    return EXIT.OK
  }
  println(io, `${io.out.green('✔')} pulled ${io.out.bold(pulled.name)} (${bytes(size)}) into ${pulled.dir}`)
  println(
    io,
    io.out.dim(
      `use it: \`${BIN_NAME} task submit --type embed --input "some text" --param model=${pulled.name} --wait\` (after restarting a running node)`,
    ),
  )
  return EXIT.OK
}

/** A failed download, told the way a person can act on. */
function pullError(err: unknown, endpoint: string, repo: string): unknown {
  const e = err as Error & { code?: string; reason?: string; status?: number }
  if (e?.code === 'ERR_INVALID_MODEL_ENTRY') return new UsageError(e.message)
  if (e?.code !== 'ERR_MODEL_DOWNLOAD_FAILED') return err
  const host = new URL(endpoint).host
  switch (e.reason) {
    case 'dns':
    case 'connection-refused':
    case 'network':
      return new OfflineError(
        `cannot reach ${host} (${e.reason}): this machine seems to be offline, or the endpoint is wrong`,
        'models pull needs the internet; copy the model here another way and register it with `models add <name> <path>`',
        { cause: err },
      )
    case 'timeout':
      return new OfflineError(
        `the download from ${host} stalled: ${e.message}`,
        'try again; the connection may be slow',
        { cause: err },
      )
    case 'http-status':
      return new FileError(
        e.status === 404
          ? `${repo} was not found on ${host} (or has no ONNX export)`
          : `${host} answered HTTP ${e.status}: ${e.message}`,
        e.status === 401 || e.status === 403 ? 'the repository may be gated or private' : undefined,
        { cause: err },
      )
    default:
      return new FileError(e.message, undefined, { cause: err })
  }
}

export const handlers: Record<string, Handler> = { list: listModels, add, pull }
