/**
 * The watchdog of a node run in the background (`node start --detach`, or `--supervise` in the
 * foreground for a service manager): a small process that runs the node as its child, writes the
 * node's output to the rolling `node.log`, and restarts the node when it crashes, after a delay
 * that doubles with each crash of the last `supervisor.crashWindowMs` (restarts.ts). After
 * `supervisor.maxCrashes` crashes in that window it gives up, and says so in `node.log`, in
 * `supervisor.json` and through `node status`. The node keeps its data directory, so it comes
 * back with the same PeerId.
 *
 * A node that exits cleanly (`node stop`, or a signal it handles) is not restarted: the watchdog
 * exits with it. A signal to the watchdog stops the node gracefully first. If the watchdog itself
 * dies, the node notices (its IPC channel closes) and stops gracefully: nothing runs unwatched.
 *
 * Only its first start is reported to whoever started the watchdog: a node that does not start at
 * all (a bad setting, a taken port) is an error for `node start --detach` to print, not a crash to
 * retry.
 */
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { ENV, EXIT } from '../constants.js'
import { type CliErrorLike, NodeStartError } from '../errors.js'
import { type LogRotation, type LogStream, openRollingLog } from './log-file.js'
import { RestartPolicy, type RestartSettings } from './restarts.js'
import { spawnNode } from './spawn.js'
import type { DaemonMessage } from './start.js'
import { removeSupervisorState, type SupervisorState, writeSupervisorState } from './supervisor-state.js'

/** What the watchdog needs to know: the `supervisor.*` and `log.rotate.*` settings. */
export interface SupervisorSettings {
  readonly restart: RestartSettings
  readonly log: LogRotation
}

export interface SuperviseInit {
  readonly dataDir: string
  /** Options of `node start` for the node, without `--data-dir`. */
  readonly args: readonly string[]
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  readonly settings: SupervisorSettings
  /** Told once whether the node's first start succeeded (the `node start --detach` waiting for it). */
  readonly report?: (message: DaemonMessage) => void
  /** Aborting stops the node gracefully, then the watchdog. */
  readonly signal: AbortSignal
}

/** Runs the node until it stops cleanly, the signal aborts, or too many crashes; the exit code. */
export async function supervise(init: SuperviseInit): Promise<number> {
  const { dataDir, settings, signal } = init
  const log = await openRollingLog(dataDir, settings.log)
  const say = (level: 'info' | 'warn' | 'error' | 'fatal', msg: string, extra: object = {}): void => {
    // pino's format, so that one tool reads the node's lines and these.
    log.write(
      `${JSON.stringify({ level, time: new Date().toISOString(), component: 'supervisor', pid: process.pid, ...extra, msg })}\n`,
    )
  }
  const policy = new RestartPolicy(settings.restart)
  const startedAt = Date.now()
  let state: SupervisorState = { pid: process.pid, startedAt, state: 'starting', restarts: 0 }
  const update = async (
    next: Partial<SupervisorState>,
    drop: ReadonlyArray<keyof SupervisorState> = [],
  ): Promise<void> => {
    const merged: Record<string, unknown> = { ...state, ...next }
    for (const key of drop) delete merged[key]
    state = merged as unknown as SupervisorState
    await writeSupervisorState(dataDir, state)
  }
  await update({})
  say('info', 'watchdog started', { dataDir })
  let first = true
  let code = 0
  try {
    while (!signal.aborted) {
      const node = spawnNode({
        dataDir,
        args: init.args,
        mode: 'attached',
        output: 'pipe',
        env: withoutSupervisorSettings(init.env),
        cwd: init.cwd,
      })
      const lines = copyOutput(node.child, log)
      const exited = exitOf(node.child)
      const onAbort = (): void => {
        node.child.kill('SIGTERM')
      }
      signal.addEventListener('abort', onAbort, { once: true })
      let ready: DaemonMessage | undefined
      try {
        ready = await node.ready
      } catch (err) {
        ready = { type: 'error', error: errorLike(err) }
      }
      if (first) {
        first = false
        init.report?.(ready)
        if (ready.type === 'error') {
          // Not a crash: it never ran. The node said why; nothing to restart.
          say('error', `the node did not start: ${ready.error.message}`)
          node.child.kill('SIGTERM')
          await exited
          signal.removeEventListener('abort', onAbort)
          code = 1
          break
        }
      }
      if (ready.type === 'ready') {
        await update({ state: 'running', nodePid: ready.status.pid }, ['restartAt'])
        say('info', state.restarts === 0 ? 'the node is running' : 'the node is running again', {
          nodePid: ready.status.pid,
          peerId: ready.status.peerId,
          restarts: state.restarts,
        })
      }
      const end = await exited
      await lines
      signal.removeEventListener('abort', onAbort)
      const how = end.signal ?? `exit code ${end.code}`
      if (signal.aborted || (end.code === 0 && end.signal === null)) {
        say('info', `the node stopped (${how})`)
        break
      }
      const decision = policy.crashed(Date.now())
      if (decision.action === 'give-up') {
        const reason = `${decision.reason}; giving up`
        say(
          'fatal',
          `the node crashed (${how}): ${reason}. Fix what its last lines above say, then start it again`,
          {
            crashes: decision.crashes,
          },
        )
        await update({ state: 'gave-up', lastExit: how, gaveUp: { at: Date.now(), reason } }, [
          'nodePid',
          'restartAt',
        ])
        code = 1
        return code
      }
      await update(
        {
          state: 'waiting',
          lastExit: how,
          restarts: state.restarts + 1,
          restartAt: Date.now() + decision.delayMs,
        },
        ['nodePid'],
      )
      say('error', `the node crashed (${how}); restarting it in ${decision.delayMs} ms`, {
        crashes: decision.crashes,
        within: settings.restart.crashWindowMs,
      })
      await wait(decision.delayMs, signal)
    }
    await removeSupervisorState(dataDir)
    return code
  } finally {
    say('info', 'watchdog stopped')
    log.flushSync()
    log.end()
  }
}

/** Writes each line the node prints to the log; resolves once both pipes closed. */
function copyOutput(child: ChildProcess, log: LogStream): Promise<void> {
  const pipes = [child.stdout, child.stderr].filter((p) => p !== null)
  return Promise.all(
    pipes.map(
      (pipe) =>
        new Promise<void>((resolve) => {
          const lines = createInterface({ input: pipe, crlfDelay: Number.POSITIVE_INFINITY })
          lines.on('line', (line) => log.write(`${line}\n`))
          lines.once('close', () => resolve())
        }),
    ),
  ).then(() => {})
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode })
      return
    }
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
}

/** The node's start error as it travels over IPC (the CLI's errors and relayed ones alike). */
function errorLike(err: unknown): CliErrorLike {
  const e = err as Partial<CliErrorLike> | null
  return {
    code: typeof e?.code === 'string' ? e.code : NodeStartError.code,
    message: typeof e?.message === 'string' ? e.message : String(err),
    exitCode: typeof e?.exitCode === 'number' ? e.exitCode : EXIT.FAILURE,
    ...(typeof e?.hint === 'string' ? { hint: e.hint } : {}),
  }
}

/** The node does not need the watchdog's own settings in its environment. */
function withoutSupervisorSettings(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string | undefined> {
  const { [ENV.SUPERVISOR]: _settings, ...rest } = env
  return rest
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve()
      return
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
  })
}
