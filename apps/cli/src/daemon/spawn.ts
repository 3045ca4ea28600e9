/**
 * Starting `node start` as a child process that reports over IPC when it is ready (or why it did
 * not start): what `node start --detach` does, and how the demo starts its nodes.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DETACH_READY_TIMEOUT_MS, ENV, LOG_FILE } from '../constants.js'
import { NodeStartError, RelayedError } from '../errors.js'
import type { DaemonMessage } from './start.js'

/** The binary, started again as the node. */
const BIN = fileURLToPath(new URL('../bin.js', import.meta.url))

/** How the child and its parent stay tied once the node is ready. */
export type DaemonMode =
  /** On its own: the channel closes, and the node outlives its parent. */
  | 'detached'
  /**
   * The parent's: the node stops gracefully when its parent goes away (the demo's nodes, and the
   * node a watchdog runs).
   */
  | 'attached'
  /**
   * Not a node but its watchdog (`node start --detach`): it runs the node `attached`, relays its
   * readiness, and restarts it when it crashes (supervisor.ts).
   */
  | 'supervisor'

/** The value of P2P_AI_CLI_DAEMON for each mode. */
export const DAEMON_ENV: Readonly<Record<DaemonMode, string>> = {
  detached: '1',
  attached: 'attached',
  supervisor: 'supervisor',
}

export interface SpawnNodeInit {
  readonly dataDir: string
  /** Options of `node start`, without `--data-dir`. */
  readonly args: readonly string[]
  readonly mode: DaemonMode
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
  /** Aborting stops waiting and ends the child (SIGTERM). */
  readonly signal?: AbortSignal
  /** @default DETACH_READY_TIMEOUT_MS */
  readonly readyTimeoutMs?: number
  /**
   * Where its stdout and stderr go: a file (appended to), or pipes for the parent to read.
   *
   * @default node.log in the data directory
   */
  readonly output?: string | 'pipe'
}

/** A node process the CLI started. */
export interface SpawnedNode {
  readonly child: ChildProcess
  /** `node.log` in its data directory (where its output goes, unless piped to the parent). */
  readonly logFile: string
  /** Resolves once it reports ready; rejects with its own error, or if it exits or takes too long. */
  readonly ready: Promise<Extract<DaemonMessage, { type: 'ready' }>>
}

/** Starts `node start` in a process of its own (its own process group), logging to node.log. */
export function spawnNode(init: SpawnNodeInit): SpawnedNode {
  mkdirSync(init.dataDir, { recursive: true, mode: 0o700 })
  const logFile = join(init.dataDir, LOG_FILE)
  const output = init.output ?? logFile
  if (output !== 'pipe') mkdirSync(dirname(output), { recursive: true, mode: 0o700 })
  const log = output === 'pipe' ? 'pipe' : openSync(output, 'a', 0o600)
  const child = spawn(process.execPath, [BIN, 'node', 'start', ...init.args, '--data-dir', init.dataDir], {
    cwd: init.cwd,
    // Its own process group: a Ctrl-C in the parent's terminal is the parent's to handle.
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
    env: { ...init.env, [ENV.DAEMON]: DAEMON_ENV[init.mode] },
  })
  if (typeof log === 'number') closeSync(log)
  const timeoutMs = init.readyTimeoutMs ?? DETACH_READY_TIMEOUT_MS
  const ready = new Promise<Extract<DaemonMessage, { type: 'ready' }>>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      child.off('error', onError)
      init.signal?.removeEventListener('abort', onAbort)
    }
    const timer = setTimeout(() => {
      done()
      reject(
        new NodeStartError(
          `the node (pid ${child.pid}) did not become ready within ${timeoutMs / 1000} s`,
          `see its log: ${logFile}`,
        ),
      )
    }, timeoutMs)
    const onMessage = (m: unknown): void => {
      done()
      const message = m as DaemonMessage
      if (message.type === 'ready') resolve(message)
      else reject(new RelayedError(message.error))
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      done()
      reject(
        new NodeStartError(
          `the node exited before it was ready (${signal ?? `exit code ${code}`})`,
          `see its log: ${output === 'pipe' ? logFile : output}`,
        ),
      )
    }
    const onError = (err: Error): void => {
      done()
      reject(new NodeStartError(`could not start the node: ${err.message}`, undefined, { cause: err }))
    }
    const onAbort = (): void => {
      done()
      child.kill('SIGTERM')
      reject(init.signal?.reason)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
    child.once('error', onError)
    init.signal?.addEventListener('abort', onAbort, { once: true })
  })
  return { child, logFile, ready }
}
