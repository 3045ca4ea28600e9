import { join } from 'node:path'
import { bool, num } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { locate } from '../commands/common.js'
import { BIN_NAME, ENV, EXIT, MODEL_HASHES_FILE, MODELS_DIR } from '../constants.js'
import type { StatusJson } from '../control/types.js'
import { eprintln, type Io, println } from '../io.js'
import { claimPidFile, newToken, releaseRuntimeFiles, writeControlFiles } from '../runtime.js'
import { shortId } from '../term/format.js'
import { CLI_VERSION } from '../version.js'
import { applyFlags, CLI_ENV_VARS, startError } from './config.js'
import { detach } from './detach.js'
import { readAddedModels } from './models-file.js'

/** Messages a detached node sends its parent over IPC. */
export type DaemonMessage =
  | { readonly type: 'ready'; readonly status: StatusJson; readonly url: string }
  | {
      readonly type: 'error'
      readonly error: { code: string; message: string; hint?: string | undefined; exitCode: number }
    }

/** `node start`: in the foreground, or with `--detach` as a background process. */
export async function startCommand(parsed: Parsed, io: Io): Promise<number> {
  const choice = await locate(parsed, io)
  if (bool(parsed.options, 'detach')) return detach(parsed, io, choice.dataDir)
  const daemon = io.env[ENV.DAEMON] === '1' && typeof process.send === 'function'
  try {
    return await runNode(parsed, io, choice.dataDir, choice.configFile, daemon)
  } catch (err) {
    const e = startError(err, choice.dataDir) as Error & { code?: string; hint?: string; exitCode?: number }
    if (daemon) {
      const error = {
        code: e.code ?? 'ERR_NODE_START',
        message: e.message,
        hint: e.hint,
        exitCode: e.exitCode ?? EXIT.FAILURE,
      }
      process.send?.({ type: 'error', error } satisfies DaemonMessage)
    }
    throw e
  }
}

async function runNode(
  parsed: Parsed,
  io: Io,
  dataDir: string,
  configFile: string | undefined,
  daemon: boolean,
): Promise<number> {
  // The network stack loads here and only here: client commands never pay for it. The ONNX plug-in's
  // module is light: ONNX Runtime, sharp and the tokenizers load with the first task that needs them.
  const [nodeModule, { mockBackend }, { onnxBackend }] = await Promise.all([
    import('@p2p-ai/node'),
    import('@p2p-ai/engine'),
    import('@p2p-ai/onnx'),
  ])
  const { loadConfig, createNode } = nodeModule
  const loaded = await loadConfig({
    ...(configFile === undefined ? {} : { file: configFile }),
    env: { ...io.env, [ENV.DATA_DIR]: dataDir },
    ignoreEnv: CLI_ENV_VARS,
    cwd: io.cwd,
  })
  const config = applyFlags(loaded, parsed.options, daemon)
  const { stale } = await claimPidFile(dataDir)
  if (stale !== undefined)
    eprintln(io, io.err.dim(`note: removed a stale pid file of pid ${stale}, which is not running`))
  let released = false
  const release = async (): Promise<void> => {
    if (released) return
    released = true
    await releaseRuntimeFiles(dataDir)
  }
  try {
    const added = await readAddedModels(dataDir)
    const onnx = onnxBackend({
      modelsDir: join(dataDir, MODELS_DIR),
      models: added,
      hashCacheFile: join(dataDir, MODEL_HASHES_FILE),
    })
    const node = await createNode({ ...config, backends: [mockBackend(), onnx], signal: io.signal })
    // List the models now, on this thread, so the node announces them and `models list` is true:
    // hashes come from model-hashes.json unless a file changed. No worker thread and no ONNX Runtime
    // is started for it; they start with the first embed, tokenize, ocr or onnx task.
    const modelsReady = onnx.scanModels().then(
      () => true,
      (err: unknown) => {
        node.logger.warn(
          { err },
          'the ONNX models could not be listed: embed, tokenize, ocr and onnx tasks may fail',
        )
        return false
      },
    )
    const { nodeTarget } = await import('./node-target.js')
    const { startControlServer } = await import('../control/server.js')
    const stopRequested = new AbortController()
    const target = nodeTarget({
      node,
      dataDir,
      cliVersion: CLI_VERSION,
      modelsReady,
      redundancy: true,
      shutdown: () => stopRequested.abort(),
    })
    const token = newToken()
    const controlPort = num(parsed.options, 'control-port') ?? 0
    const server = await startControlServer({
      target,
      token,
      port: controlPort,
      onError: (err) => node.logger.error({ err, component: 'control' }, 'control API request failed'),
    }).catch(async (err: unknown) => {
      await node.stop()
      throw err
    })
    await writeControlFiles(
      dataDir,
      { pid: process.pid, url: server.url, startedAt: Date.now(), version: CLI_VERSION, peerId: node.peerId },
      token,
    )
    const status = await target.status()
    if (daemon) {
      // The parent returns once it has this; the channel closes so nothing ties the node to it.
      process.send?.({ type: 'ready', status, url: server.url } satisfies DaemonMessage, undefined, {}, () =>
        process.disconnect?.(),
      )
    } else {
      printBanner(io, status, server.url)
    }
    await new Promise<void>((resolve) => {
      const done = (): void => resolve()
      io.signal.addEventListener('abort', done, { once: true })
      stopRequested.signal.addEventListener('abort', done, { once: true })
    })
    if (!daemon) eprintln(io, io.err.dim('stopping… (Ctrl-C again to stop at once)'))
    await server.close()
    target.dispose()
    const report = await node.stop()
    await release()
    const summary = `stopped in ${report.durationMs} ms: ${report.tasksFinished} tasks finished, ${report.tasksCancelled} cancelled, ${report.peersNotified.length} peers told goodbye`
    node.logger.info({ report }, 'node stopped')
    if (!daemon) eprintln(io, `${io.err.green('✔')} ${summary}`)
    return report.errors.length === 0 ? EXIT.OK : EXIT.FAILURE
  } finally {
    await release()
  }
}

function printBanner(io: Io, s: StatusJson, url: string): void {
  const c = io.out
  println(io, `${c.green('✔')} node ${c.bold(shortId(s.peerId))} is running ${c.dim(`(pid ${s.pid})`)}`)
  println(io, `  PeerId     ${s.peerId}`)
  for (const [i, a] of s.addresses.entries()) println(io, `  ${i === 0 ? 'listening ' : '          '} ${a}`)
  println(io, `  runs       ${s.capabilities.taskTypes.join(', ')}`)
  println(io, `  data dir   ${s.dataDir}`)
  println(io, `  control    ${url} ${c.dim('(token in control.token)')}`)
  println(
    io,
    c.dim(
      `In another terminal: \`${BIN_NAME} node status\`, \`${BIN_NAME} task submit --type chunk --input "..." --wait\`.`,
    ),
  )
  println(io, c.dim('Press Ctrl-C to stop.'))
}
