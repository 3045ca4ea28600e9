import { join } from 'node:path'
import { bool, num } from '../args/parse.js'
import type { Parsed } from '../args/spec.js'
import { locate } from '../commands/common.js'
import { BIN_NAME, ENV, EXIT, LEAVE_CHECK_MS, MODELS_DIR, OPENAI_PREFIX } from '../constants.js'
import type { DashboardJson, StatusJson } from '../control/types.js'
import { LogRing } from '../debug/log-ring.js'
import { explain } from '../error-policy.js'
import { CliError, type CliErrorLike, NodeStartError, RelayedError } from '../errors.js'
import { eprintln, type Io, println } from '../io.js'
import { lockDataDir, newToken, removeControlFiles, writeControlFiles } from '../runtime.js'
import { shortId } from '../term/format.js'
import { CLI_VERSION } from '../version.js'
import { loadStartConfig, supervisorSettings } from './config.js'
import { assertNotRunning, detach, nodeArgsOf } from './detach.js'
import { snapshotDir } from './leftovers.js'
import { DAEMON_ENV, type DaemonMode } from './spawn.js'
import type { SupervisorSettings } from './supervisor.js'

/** Messages a detached node sends its parent over IPC. */
export type DaemonMessage =
  | {
      readonly type: 'ready'
      readonly status: StatusJson
      readonly url: string
      /** With `--dashboard`: where it is served, and a one-time login link. */
      readonly dashboard?: DashboardJson
    }
  | {
      readonly type: 'error'
      readonly error: CliErrorLike
    }

/** `node start`: in the foreground, or with `--detach` as a background process. */
export async function startCommand(parsed: Parsed, io: Io): Promise<number> {
  const choice = await locate(parsed, io)
  if (bool(parsed.options, 'detach')) return detach(parsed, io, choice.dataDir, choice.configFile)
  // Started by `--detach` or by the demo: reports over IPC instead of printing a banner.
  const mode = daemonMode(io.env[ENV.DAEMON])
  if (mode === 'supervisor') return superviseDetached(parsed, io, choice.dataDir)
  if (bool(parsed.options, 'supervise')) return superviseHere(parsed, io, choice.dataDir, choice.configFile)
  const daemon = mode !== undefined
  try {
    return await runNode(parsed, io, choice.dataDir, choice.configFile, mode)
  } catch (err) {
    const { code, exitCode, hint } = explain(err, { dataDir: choice.dataDir })
    const error = {
      code: code ?? NodeStartError.code,
      message: (err as Error | undefined)?.message ?? String(err),
      hint,
      exitCode,
    }
    if (daemon) process.send?.({ type: 'error', error } satisfies DaemonMessage)
    // A component's error gets the hint its code has here, where the data directory is known.
    throw code === undefined || err instanceof CliError ? err : new RelayedError(error)
  }
}

/** How this process was started: by `--detach` or the demo (with an IPC channel), or by a person. */
function daemonMode(value: string | undefined): DaemonMode | undefined {
  if (typeof process.send !== 'function') return undefined
  return (Object.keys(DAEMON_ENV) as DaemonMode[]).find((m) => DAEMON_ENV[m] === value)
}

/** The watchdog started by `node start --detach`: its settings came with it, its parent waits for a word. */
async function superviseDetached(parsed: Parsed, io: Io, dataDir: string): Promise<number> {
  const settings = JSON.parse(io.env[ENV.SUPERVISOR] ?? 'null') as SupervisorSettings | null
  if (settings === null) throw new NodeStartError(`the watchdog was started without ${ENV.SUPERVISOR}`)
  const { supervise } = await import('./supervisor.js')
  return supervise({
    dataDir,
    args: nodeArgsOf(parsed),
    env: io.env,
    cwd: io.cwd,
    settings,
    signal: io.signal,
    report: (message) => {
      // The parent returns once it has this; the channel closes so nothing ties the watchdog to it.
      process.send?.(message, undefined, {}, () => process.disconnect?.())
    },
  })
}

/** `node start --supervise`: the watchdog in the foreground, for a service manager (launchd). */
async function superviseHere(
  parsed: Parsed,
  io: Io,
  dataDir: string,
  configFile: string | undefined,
): Promise<number> {
  const settings = supervisorSettings(await loadStartConfig(parsed, io, dataDir, configFile, true))
  await assertNotRunning(dataDir)
  const { supervise } = await import('./supervisor.js')
  return supervise({
    dataDir,
    args: nodeArgsOf(parsed),
    env: io.env,
    cwd: io.cwd,
    settings,
    signal: io.signal,
    report: (message) => {
      if (message.type === 'ready') printBanner(io, message.status, message.url, message.dashboard)
      else eprintln(io, `${io.err.red('error:')} ${message.error.message}`)
    },
  })
}

async function runNode(
  parsed: Parsed,
  io: Io,
  dataDir: string,
  configFile: string | undefined,
  mode: DaemonMode | undefined,
): Promise<number> {
  const daemon = mode !== undefined
  // The network stack loads here and only here: client commands never pay for it. The model
  // plug-ins' modules are light: ONNX Runtime, sharp and the tokenizers load with the first task
  // that needs them, llama.cpp with the first generation.
  const [nodeModule, { mockBackend }, { nodeModels }] = await Promise.all([
    import('@p2p-ai/node'),
    import('@p2p-ai/engine'),
    import('../models/node-models.js'),
  ])
  const { createNode, createLogger } = nodeModule
  const { config, resolved } = await loadStartConfig(parsed, io, dataDir, configFile, daemon)
  // The node logs as configured, and its recent lines stay in memory for `debug snapshot`.
  const logs = new LogRing()
  const logger = createLogger({ level: resolved.log.level, format: resolved.log.format, onLine: logs.push })
  const { daemonMetrics } = await import('./metrics.js')
  let onMetricsError = (_err: unknown): void => {}
  const metrics = await daemonMetrics(resolved.metrics, dataDir, (err) => onMetricsError(err))
  const before = await snapshotDir(dataDir)
  // Held until this process exits: while it lives, no second node opens the same store.
  const lock = await lockDataDir(dataDir)
  if (lock.stale !== undefined)
    eprintln(io, io.err.dim(`note: removed a stale pid file of pid ${lock.stale}, which is not running`))
  let node: Awaited<ReturnType<typeof createNode>>
  let models: Awaited<ReturnType<typeof nodeModels>>
  try {
    models = await nodeModels(dataDir)
    const scanned = models
    // Helia loads only for a node that exchanges content by CID (docs/content.md).
    const contentStore = resolved.content.enabled
      ? (await import('@p2p-ai/content')).heliaContent({
          modelsDir: join(dataDir, MODELS_DIR),
          // A model pulled from a peer is registered as one pulled from a hub: by a scan.
          registerModel: (_model, signal) => scanned.scan(node.engine, signal),
        })
      : undefined
    node = await createNode({
      ...config,
      logger,
      ...(contentStore === undefined ? {} : { contentStore }),
      backends: [mockBackend(), ...models.backends],
      signal: io.signal,
      ...(metrics === undefined ? {} : { libp2pMetrics: metrics.libp2p }),
    })
  } catch (err) {
    // Some settings (an mDNS interface that does not exist) can only fail here: leave the data
    // directory as it was, with no new identity or store in it.
    lock.release()
    await before.restore()
    throw err
  }
  // List the models now, on this thread, so the node announces them and `models list` is true:
  // hashes come from model-hashes.json unless a file changed. No worker thread, no ONNX Runtime
  // and no llama.cpp is started for it; they start with the first task that needs them.
  const modelsReady = models.scan(node.engine).then(
    () => true,
    (err: unknown) => {
      node.logger.warn({ err }, 'the models could not be listed: tasks that need a model may fail')
      return false
    },
  )
  onMetricsError = (err) => node.logger.error({ err, component: 'metrics' }, 'collecting the metrics failed')
  const metricsUrl = await metrics?.start(node).catch(async (err: unknown) => {
    await metrics.close()
    await node.stop()
    lock.release()
    await before.restore()
    throw err
  })
  const { nodeTarget } = await import('./node-target.js')
  const { startControlServer } = await import('../control/server.js')
  const { openaiApi } = await import('@p2p-ai/node/openai')
  const { daemonDashboard } = await import('./dashboard.js')
  const stopRequested = new AbortController()
  // The dashboard reads the node through the target, and the target starts the dashboard.
  let dashboard: ReturnType<typeof daemonDashboard> | undefined
  const target = nodeTarget({
    node,
    dataDir,
    cliVersion: CLI_VERSION,
    modelsReady,
    logs,
    models,
    shutdown: () => stopRequested.abort(),
    ...(metrics === undefined || metricsUrl === undefined
      ? {}
      : { metrics: { url: metricsUrl, exposition: () => metrics.exposition() } }),
    dashboard: {
      open: (request) => dashboard!.open(request),
      get url() {
        return dashboard?.url
      },
    },
  })
  dashboard = daemonDashboard({
    node,
    target,
    dataDir,
    config: resolved.dashboard,
    onError: (err) => node.logger.error({ err, component: 'dashboard' }, 'dashboard failed'),
  })
  const token = newToken()
  const controlPort = num(parsed.options, 'control-port') ?? 0
  const server = await startControlServer({
    target,
    token,
    port: controlPort,
    openai: openaiApi({ node, basePath: OPENAI_PREFIX }),
    onError: (err) => node.logger.error({ err, component: 'control' }, 'control API request failed'),
  }).catch(async (err: unknown) => {
    await metrics?.close()
    await node.stop()
    lock.release()
    await before.restore()
    throw err
  })
  let opened: DashboardJson | undefined
  try {
    // A dashboard asked for at start that cannot listen (its port taken) fails the start, as
    // the metrics endpoint does: better told now than found missing later.
    if (resolved.dashboard.enabled) opened = await dashboard.open({})
    await writeControlFiles(
      dataDir,
      { pid: process.pid, url: server.url, startedAt: Date.now(), version: CLI_VERSION, peerId: node.peerId },
      token,
    )
  } catch (err) {
    await dashboard.close()
    await server.close()
    await metrics?.close()
    await node.stop()
    await removeControlFiles(dataDir)
    lock.release()
    await before.restore()
    throw err
  }
  const status = await target.status()
  const ready = {
    type: 'ready',
    status,
    url: server.url,
    ...(opened === undefined ? {} : { dashboard: opened }),
  } satisfies DaemonMessage
  if (mode === 'detached') {
    // The parent returns once it has this; the channel closes so nothing ties the node to it.
    process.send?.(ready, undefined, {}, () => process.disconnect?.())
  } else if (mode === 'attached') {
    // The demo's node: it goes when the demo does, however the demo ends.
    process.send?.(ready)
    process.once('disconnect', () => stopRequested.abort())
  } else {
    printBanner(io, status, server.url, opened)
  }
  await new Promise<void>((resolve) => {
    const done = (): void => resolve()
    io.signal.addEventListener('abort', done, { once: true })
    stopRequested.signal.addEventListener('abort', done, { once: true })
  })
  if (!daemon) eprintln(io, io.err.dim('stopping… (Ctrl-C again to stop at once)'))
  // Clients waiting on tasks are answered at once (ERR_NODE_STOPPING); `node status` still
  // answers while running tasks finish.
  server.drain()
  // Its pages are closed first: nothing reads the node while it stops.
  await dashboard.close()
  const report = await node.stop()
  await server.close()
  await metrics?.close()
  target.dispose()
  // The store is closed: the control files go now, the lock when the process exits.
  await removeControlFiles(dataDir)
  // An open channel to the parent would keep the process alive.
  if (mode === 'attached' && process.connected) process.disconnect()
  const summary = `stopped in ${report.durationMs} ms: ${report.tasksFinished} tasks finished, ${report.tasksCancelled} cancelled, ${report.peersNotified.length} peers told goodbye`
  node.logger.info({ report }, 'node stopped')
  if (!daemon) eprintln(io, `${io.err.green('✔')} ${summary}`)
  const code = report.errors.length === 0 ? EXIT.OK : EXIT.FAILURE
  leaveOnceWritten(code)
  return code
}

/**
 * Once the node has stopped and its files are gone, nothing of ours is left to run, but libp2p
 * leaves two 1 s debounce timers behind (identify-push and the address manager), which kept the
 * process (and every `node stop`, Ctrl-C and supervisor restart waiting on it) alive a second
 * longer. The process leaves as soon as its output is written; the check's own timer never keeps
 * it alive, so a process with nothing pending ends by itself first.
 */
function leaveOnceWritten(code: number): void {
  const written = (): boolean => process.stdout.writableLength === 0 && process.stderr.writableLength === 0
  setInterval(() => {
    if (written()) process.exit(code)
  }, LEAVE_CHECK_MS).unref()
}

function printBanner(io: Io, s: StatusJson, url: string, dashboard: DashboardJson | undefined): void {
  const c = io.out
  println(io, `${c.green('✔')} node ${c.bold(shortId(s.peerId))} is running ${c.dim(`(pid ${s.pid})`)}`)
  println(io, `  PeerId     ${s.peerId}`)
  for (const [i, a] of s.addresses.entries()) println(io, `  ${i === 0 ? 'listening ' : '          '} ${a}`)
  println(io, `  runs       ${s.capabilities.taskTypes.join(', ')}`)
  println(io, `  data dir   ${s.dataDir}`)
  println(io, `  control    ${url} ${c.dim('(token in control.token)')}`)
  if (s.metrics !== undefined) println(io, `  metrics    ${s.metrics.url}`)
  println(io, `  openai     ${url}${OPENAI_PREFIX} ${c.dim('(API key: the control token)')}`)
  if (dashboard !== undefined) {
    println(io, `  dashboard  ${dashboard.loginUrl}`)
    println(io, c.dim(`             (this link signs in once; \`${BIN_NAME} dashboard\` prints another)`))
  }
  println(
    io,
    c.dim(
      `In another terminal: \`${BIN_NAME} node status\`, \`${BIN_NAME} task submit --type chunk --input "..." --wait\`.`,
    ),
  )
  println(io, c.dim('Press Ctrl-C to stop.'))
}
