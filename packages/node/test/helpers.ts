import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import type { NodeInit } from '../src/create.js'
import { createLogger, type Logger } from '../src/logger.js'

export const AGENT_HOST = fileURLToPath(new URL('./fixtures/agent-host.mjs', import.meta.url))

/** A temporary directory, removed by `dispose`. */
export async function tempDir(
  prefix: string,
): Promise<{ path: string; [Symbol.asyncDispose]: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) }
}

/** A JSON log line as a test reads it. */
export interface LogLine {
  level: string
  msg: string
  component?: string
  taskId?: string
  traceId?: string
  [key: string]: unknown
}

/** A debug-level JSON logger whose lines the test reads. */
export function capturedLogger(): { logger: Logger; lines: () => LogLine[] } {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')))
  return {
    logger: createLogger({ destination: stream, level: 'debug' }),
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as LogLine),
  }
}

/** Init for a node that stays on 127.0.0.1 and never sends multicast. */
export function localInit(dataDir: string, extra: NodeInit = {}): NodeInit {
  return {
    dataDir,
    ...extra,
    network: {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: { enabled: false },
      ...extra.network,
    },
    engine: { concurrency: 2, ...extra.engine },
    engineOptions: { workers: false, ...extra.engineOptions },
  }
}

/** A unique mDNS service tag, so concurrent test runs on the same loopback never see each other. */
export function uniqueServiceTag(): string {
  return `_p2p-ai-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}._udp.local`
}

/** Arguments for `node` to run the agent host with `init`. */
export function hostArgs(init: NodeInit): string[] {
  return [AGENT_HOST, JSON.stringify(init)]
}

export interface HostEvent {
  event: string
  at: number
  [key: string]: unknown
}

/** A node in a child process (test/fixtures/agent-host.mjs), spawned locally or by a testnet host. */
export class Host {
  readonly proc: ChildProcess
  readonly events: HostEvent[] = []
  readonly stderr: string[] = []
  #waiters: Array<{ match: (e: HostEvent) => boolean; resolve: (e: HostEvent) => void }> = []
  readonly exited: Promise<number | null>

  /** Spawns the agent host here, with `init` as its node configuration. */
  static local(init: NodeInit): Host {
    return new Host(spawn(process.execPath, hostArgs(init), { stdio: 'pipe' }))
  }

  /** Wraps an agent host process started elsewhere (say, in a network namespace). */
  constructor(proc: ChildProcess) {
    this.proc = proc
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let event: HostEvent
      try {
        event = JSON.parse(line) as HostEvent
      } catch {
        return
      }
      this.events.push(event)
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(event)) return true
        w.resolve(event)
        return false
      })
    })
    createInterface({ input: proc.stderr! }).on('line', (line) => this.stderr.push(line))
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)))
  }

  /** The first event (past or future) matching, or rejects after `timeoutMs`. */
  waitFor(match: (e: HostEvent) => boolean, timeoutMs = 15_000, what = 'event'): Promise<HostEvent> {
    const seen = this.events.find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no ${what} within ${timeoutMs} ms; stderr:\n${this.stderr.join('\n')}`))
      }, timeoutMs)
      this.#waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer)
          resolve(e)
        },
      })
    })
  }

  send(command: string): void {
    this.proc.stdin?.write(`${command}\n`)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL')
      await this.exited
    }
  }
}

/** Resolves with the first event of `type` on `target` that matches, or rejects after `timeoutMs`. */
export function nextEvent<T>(
  target: EventTarget,
  type: string,
  match: (detail: T) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, listener)
      reject(new Error(`no ${type} event within ${timeoutMs} ms`))
    }, timeoutMs)
    const listener = (evt: Event): void => {
      const detail = (evt as CustomEvent<T>).detail
      if (!match(detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, listener)
      resolve(detail)
    }
    target.addEventListener(type, listener)
  })
}

/** Polls `condition` every 25 ms until it holds, or rejects after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
