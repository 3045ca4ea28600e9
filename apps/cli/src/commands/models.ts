import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { bool, list, str } from '../args/parse.js'
import type { Handler } from '../args/spec.js'
import { BIN_NAME, EXIT, MODELS_DIR } from '../constants.js'
import { type ControlClient, connectToNode } from '../control/client.js'
import type { AddedModelJson, AddModelRequest, ModelJson } from '../control/types.js'
import { formatOf, readAddedModels } from '../daemon/models-file.js'
import { FileError, NodeNotRunningError, OfflineError, UsageError } from '../errors.js'
import { eprintln, printJson, println } from '../io.js'
import type { ModelFormatId } from '../models/local.js'
import { KNOWN_MODELS, type PullPlan, planPull } from '../models/reference.js'
import { bytes, listing, table } from '../term/format.js'
import { progressBar } from '../term/progress.js'
import { locate } from './common.js'

export { KNOWN_MODELS }

/** The running node's control client, or undefined when no node runs for the data directory. */
async function runningNode(dataDir: string): Promise<ControlClient | undefined> {
  try {
    return await connectToNode(dataDir)
  } catch (err) {
    if (err instanceof NodeNotRunningError) return undefined
    throw err
  }
}

/** What a running node serves (undefined when none runs or it does not answer). */
async function served(dataDir: string): Promise<ModelJson[] | undefined> {
  try {
    return await (await connectToNode(dataDir)).models({ timeoutMs: 3000 })
  } catch {
    return undefined
  }
}

const listModels: Handler = async (parsed, io) => {
  const { dataDir } = await locate(parsed, io)
  const [{ builtinModels, onnxModelRegistry }, { modelRegistry }, { GGUF_FORMAT, ggufModelName }] =
    await Promise.all([import('../onnx.js'), import('@p2p-ai/engine'), import('../llama.js')])
  const builtin = builtinModels()
  const added = await readAddedModels(dataDir)
  const modelsDir = join(dataDir, MODELS_DIR)
  const onnx = onnxModelRegistry({ models: [...builtin, ...added.filter((m) => formatOf(m) === 'onnx')] })
  const gguf = modelRegistry({ format: { id: GGUF_FORMAT, extensions: ['.gguf'], modelFiles: [] } })
  for (const m of added.filter((m) => formatOf(m) === 'gguf')) gguf.register(m)
  const scans = [await onnx.scan(modelsDir), await gguf.scan(modelsDir)]
  // GGUF files copied straight into the models directory are served under their file's name.
  const dropped = new Set<string>()
  for (const f of await readdir(modelsDir, { withFileTypes: true }).catch(() => [])) {
    const name = ggufModelName(f.name)
    if (!f.isFile() || !/\.gguf$/i.test(f.name) || gguf.get(name) !== undefined) continue
    gguf.register({ name, path: join(modelsDir, f.name) })
    dropped.add(name)
  }
  const builtinNames = new Set(builtin.map((m) => m.name))
  const addedNames = new Set(added.map((m) => m.name))
  const running = await served(dataDir)
  const byName = new Map(running?.map((m) => [m.name, m]))
  const entries = [
    ...onnx.list().map((e) => [e, 'onnx'] as const),
    ...gguf.list().map((e) => [e, 'gguf'] as const),
  ]
  const models: ModelJson[] = entries.map(([e, format]) => {
    const s = byName.get(e.name)
    return {
      name: e.name,
      format,
      taskTypes: [...(s?.taskTypes ?? e.taskTypes ?? (format === 'gguf' ? ['generate'] : []))],
      source: builtinNames.has(e.name)
        ? 'builtin'
        : addedNames.has(e.name)
          ? 'added'
          : dropped.has(e.name)
            ? 'file'
            : 'pulled',
      path: format === 'gguf' && e.model !== undefined ? join(e.path, e.model) : e.path,
      ...(e.description === undefined ? {} : { description: e.description }),
      ...(s?.sha256 === undefined ? {} : { sha256: s.sha256 }),
      ...(s?.sizeBytes === undefined ? {} : { sizeBytes: s.sizeBytes }),
      ...(s?.loaded === undefined ? {} : { loaded: s.loaded }),
    }
  })
  const skipped = scans.flatMap((s) => s.skipped)
  if (bool(parsed.options, 'json')) {
    printJson(io, { models, nodeRunning: running !== undefined, skipped })
    return EXIT.OK
  }
  const c = io.out
  const rows = models.map((m) => [
    m.name,
    m.format ?? '-',
    m.source,
    m.taskTypes.join(', ') || c.dim('inferred on load'),
    running === undefined
      ? c.dim('-')
      : byName.has(m.name)
        ? c.green(m.loaded === true ? 'loaded' : 'yes')
        : c.yellow('no'),
    m.sizeBytes === undefined ? '-' : bytes(m.sizeBytes),
  ])
  println(io, table(['NAME', 'FORMAT', 'SOURCE', 'TASKS', 'SERVED', 'SIZE'], rows, c))
  for (const s of skipped) eprintln(io, `${io.err.yellow('warning:')} skipped ${s.dir}: ${s.reason}`)
  if (running === undefined) {
    println(io, c.dim(`no node is running for ${dataDir}; "served" shows once one is`))
  } else if (running.length === 0) {
    println(
      io,
      c.yellow('the running node serves no models: its model backends have not loaded (see its log)'),
    )
  } else if (models.some((m) => !byName.has(m.name))) {
    println(
      io,
      c.dim(
        'models marked "no" could not be read by the running node (missing or changed files: see its log); add or pull them again',
      ),
    )
  }
  return EXIT.OK
}

const add: Handler = async (parsed, io) => {
  const [name, rawPath] = parsed.args as [string, string]
  const { dataDir } = await locate(parsed, io)
  const { MODEL_NAME_RE } = await import('../onnx.js')
  if (!MODEL_NAME_RE.test(name)) {
    throw new UsageError(
      `model name "${name}" must be lower-case letters, digits, ".", "_" and "-" (starting with a letter or digit)`,
    )
  }
  const taskTypes = list(parsed.options, 'task-types')
  const file = str(parsed.options, 'file')
  const request: AddModelRequest = {
    name,
    path: resolve(io.cwd, rawPath),
    ...(file === undefined ? {} : { file }),
    ...(taskTypes.length === 0 ? {} : { taskTypes: [...taskTypes] }),
  }
  // A running node registers it, serves it at once and announces it; otherwise it is recorded for
  // the next node started from this data directory.
  const node = await runningNode(dataDir)
  let model: AddedModelJson
  if (node !== undefined) model = await node.addModel(request, { signal: io.signal, timeoutMs: 600_000 })
  else {
    const [{ onnxBackend }, { llamaBackend }, { registerModel }] = await Promise.all([
      import('../onnx.js'),
      import('../llama.js'),
      import('../models/register.js'),
    ])
    const hosts = { onnx: onnxBackend({ worker: false, builtinModels: false }), llama: llamaBackend() }
    model = (await registerModel(hosts, dataDir, request, { signal: io.signal, served: false })).model
  }
  if (bool(parsed.options, 'json')) {
    printJson(io, model)
    return EXIT.OK
  }
  const c = io.out
  println(
    io,
    `${c.green('✔')} ${model.replaced ? 'replaced' : 'added'} ${model.format === 'gguf' ? 'GGUF' : 'ONNX'} model ${c.bold(name)}: ${model.file} (${bytes(model.sizeBytes)}, ${model.taskTypes.join(', ')})`,
  )
  if (model.otherFiles.length > 0) {
    println(io, c.dim(`  also in the directory: ${listing(model.otherFiles)} (choose one with --file)`))
  }
  println(
    io,
    c.dim(
      model.served
        ? `the running node serves it now, and has told its peers; try \`${BIN_NAME} task submit --type ${model.taskTypes[0]} --param model=${name} ...\``
        : 'a node started from this data directory serves it',
    ),
  )
  return EXIT.OK
}

const pull: Handler = async (parsed, io) => {
  const wanted = parsed.args[0]!
  const { dataDir } = await locate(parsed, io)
  if (bool(parsed.options, 'from-swarm')) return pullFromSwarm(parsed, io, dataDir, wanted)
  if (str(parsed.options, 'sha256') !== undefined) throw new UsageError('--sha256 goes with --from-swarm')
  const endpoint = (str(parsed.options, 'endpoint') ?? 'https://huggingface.co').replace(/\/+$/, '')
  const token = str(parsed.options, 'token')
  const hub = {
    endpoint,
    ...(token === undefined ? {} : { token }),
    signal: io.signal,
  }
  const [{ listRepoFiles }, { pullOnnxModel }, { pullGgufModel }] = await Promise.all([
    import('@p2p-ai/engine'),
    import('../onnx.js'),
    import('../llama.js'),
  ])
  const revisionOption = str(parsed.options, 'revision')
  const plan = await planPull(wanted, str(parsed.options, 'as'), (repo) =>
    listRepoFiles(endpoint, repo, revisionOption ?? 'main', {
      stallTimeoutMs: 30_000,
      signal: io.signal,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    }).catch(() => undefined),
  )
  const revision = revisionOption ?? (plan.format === 'gguf' ? plan.revision : undefined) ?? 'main'
  const bar = progressBar(io.stderr)
  const onProgress = (p: {
    file: string
    receivedBytes: number
    totalBytes?: number
    resumedBytes: number
  }) =>
    bar.update({
      label: p.file,
      received: p.receivedBytes,
      resumed: p.resumedBytes,
      ...(p.totalBytes === undefined ? {} : { total: p.totalBytes }),
    })
  const modelsDir = join(dataDir, MODELS_DIR)
  let pulled: Awaited<ReturnType<typeof pullOnnxModel>>
  try {
    pulled =
      plan.format === 'onnx'
        ? await pullOnnxModel({
            ...hub,
            repo: plan.repo,
            name: plan.name,
            revision,
            dir: join(modelsDir, plan.name),
            onProgress,
          })
        : await pullGgufModel({
            ...hub,
            repo: plan.repo,
            revision,
            modelsDir,
            onProgress,
            ...(plan.file === undefined ? {} : { file: plan.file }),
            ...(plan.quantization === undefined ? {} : { quantization: plan.quantization }),
            ...(plan.name === undefined ? {} : { name: plan.name }),
          })
  } catch (err) {
    bar.done()
    throw pullError(err, endpoint, plan)
  }
  bar.done()
  // A running node registers what was pulled and announces it, without a restart.
  const node = await runningNode(dataDir)
  const servedNow =
    node === undefined
      ? false
      : (await node.scanModels({ timeoutMs: 600_000 })).some((m) => m.name === pulled.name)
  const size = Object.values(pulled.manifest.files).reduce((n, f) => n + f.sizeBytes, 0)
  if (bool(parsed.options, 'json')) {
    printJson(io, {
      name: pulled.name,
      format: plan.format,
      dir: pulled.dir,
      repo: plan.repo,
      revision,
      model: pulled.manifest.model,
      files: pulled.manifest.files,
      served: servedNow,
    })
    return EXIT.OK
  }
  println(
    io,
    `${io.out.green('✔')} pulled ${io.out.bold(pulled.name)} (${pulled.manifest.model}, ${bytes(size)}) into ${pulled.dir}`,
  )
  println(io, io.out.dim(usage(plan.format, pulled.name, node !== undefined, servedNow)))
  return EXIT.OK
}

/** `models pull <name> --from-swarm`: the running node fetches the model from its peers by CID. */
async function pullFromSwarm(
  parsed: Parameters<Handler>[0],
  io: Parameters<Handler>[1],
  dataDir: string,
  name: string,
): Promise<number> {
  for (const option of ['endpoint', 'token', 'revision', 'as'] as const) {
    if (str(parsed.options, option) !== undefined)
      throw new UsageError(`--${option} is for pulls from a hub, not --from-swarm`)
  }
  const node = await runningNode(dataDir)
  if (node === undefined) {
    throw new NodeNotRunningError(
      dataDir,
      ': models pull --from-swarm fetches through a running node (with content.enabled on)',
    )
  }
  const sha256 = str(parsed.options, 'sha256')
  const bar = progressBar(io.stderr)
  let pulled: Awaited<ReturnType<ControlClient['pullFromSwarm']>>
  try {
    pulled = await node.pullFromSwarm(
      { name, ...(sha256 === undefined ? {} : { sha256 }) },
      {
        signal: io.signal,
        onProgress: (p) =>
          bar.update({ label: p.file, received: p.receivedBytes, resumed: 0, total: p.totalBytes }),
      },
    )
  } finally {
    bar.done()
  }
  if (bool(parsed.options, 'json')) {
    printJson(io, { ...pulled, source: 'swarm' })
    return EXIT.OK
  }
  const size = Object.values(pulled.files).reduce((n, f) => n + f.sizeBytes, 0)
  println(
    io,
    `${io.out.green('✔')} pulled ${io.out.bold(pulled.name)} from the swarm (${pulled.model}, ${bytes(size)}, ${pulled.cid}) into ${pulled.dir}`,
  )
  const format: ModelFormatId = pulled.model.endsWith('.gguf') ? 'gguf' : 'onnx'
  println(io, io.out.dim(usage(format, pulled.name, true, pulled.served)))
  return EXIT.OK
}

function usage(format: ModelFormatId, name: string, nodeRuns: boolean, servedNow: boolean): string {
  const example =
    format === 'gguf'
      ? `\`${BIN_NAME} task submit --type generate --input "Hello" --param model=${name} --wait\``
      : `\`${BIN_NAME} task submit --type embed --input "some text" --param model=${name} --wait\` (or --type ner for a token classifier)`
  if (servedNow) return `the running node serves it now; use it: ${example}`
  if (nodeRuns) return `the running node could not read it (see its log); use it: ${example}`
  return `use it once a node runs (\`${BIN_NAME} node start\`): ${example}`
}

/** A failed download, told the way a person can act on. */
function pullError(err: unknown, endpoint: string, plan: PullPlan): unknown {
  const e = err as Error & { code?: string; reason?: string; status?: number }
  if (e?.code === 'ERR_INVALID_MODEL_ENTRY') return new UsageError(e.message)
  if (e?.code !== 'ERR_MODEL_DOWNLOAD_FAILED') return err
  const host = new URL(endpoint).host
  const resume = `run the same pull again to continue where it stopped`
  switch (e.reason) {
    case 'dns':
    case 'connection-refused':
    case 'network':
      return new OfflineError(
        `cannot reach ${host} (${e.reason}): this machine seems to be offline, or the endpoint is wrong`,
        `models pull needs the hub (--endpoint, HF_ENDPOINT); ${resume}, or copy the model here another way and register it with \`models add <name> <path>\``,
        { cause: err },
      )
    case 'timeout':
      return new OfflineError(
        `the download from ${host} stalled: ${e.message}`,
        `${resume}; the connection may be slow`,
        {
          cause: err,
        },
      )
    case 'busy':
      return new FileError(e.message, 'another models pull of the same model is running: wait for it', {
        cause: err,
      })
    case 'http-status':
      return new FileError(
        e.status === 404
          ? plan.format === 'onnx'
            ? `${plan.repo} was not found on ${host} (or has no ONNX export)`
            : `${plan.repo} (or the file) was not found on ${host}`
          : `${host} answered HTTP ${e.status}: ${e.message}`,
        e.status === 401 || e.status === 403
          ? 'the repository may be gated or private: give an access token with --token (or HF_TOKEN)'
          : undefined,
        { cause: err },
      )
    default:
      return new FileError(e.message, undefined, { cause: err })
  }
}

export const handlers: Record<string, Handler> = { list: listModels, add, pull }
