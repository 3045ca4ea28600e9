/**
 * The demo's side of an agent process: spawn it, read its events, wait for one, stop it
 * gracefully or kill it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { AgentConfig, AgentEvent } from './agent-protocol.js'
import { AgentStartError, StepTimeoutError } from './errors.js'

const AGENT_SCRIPT = fileURLToPath(new URL('./agent.js', import.meta.url))
/** Lines of an agent's stderr kept for error messages. */
const STDERR_LINES = 20

export type Ready = Extract<AgentEvent, { event: 'ready' }>

/** How an agent process ended. */
export interface AgentExit {
  readonly at: number
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export class AgentProcess {
  readonly name: string
  readonly spawnedAt = Date.now()
  readonly events: AgentEvent[] = []
  readonly #proc: ChildProcess
  readonly #listeners = new Set<(event: AgentEvent) => void>()
  readonly #stderr: string[] = []
  readonly exited: Promise<AgentExit>
  #exit: AgentExit | undefined
  #ready: Ready | undefined

  constructor(config: AgentConfig) {
    this.name = config.name
    this.#proc = spawn(process.execPath, [AGENT_SCRIPT, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', TMPDIR: config.tmpDir },
    })
    // A write to a dead agent's stdin fails with EPIPE; its exit is reported separately.
    this.#proc.stdin?.on('error', () => {})
    createInterface({ input: this.#proc.stdout! }).on('line', (line) => this.#line(line))
    createInterface({ input: this.#proc.stderr! }).on('line', (line) => {
      this.#stderr.push(line)
      if (this.#stderr.length > STDERR_LINES) this.#stderr.shift()
    })
    this.exited = new Promise((resolve) => {
      this.#proc.once('exit', (code, signal) => {
        this.#exit = { at: Date.now(), code, signal }
        resolve(this.#exit)
      })
    })
  }

  get pid(): number | undefined {
    return this.#proc.pid
  }

  /** The `ready` event, once the agent listens. */
  get ready(): Ready | undefined {
    return this.#ready
  }

  get peerId(): string | undefined {
    return this.#ready?.peerId
  }

  get exit(): AgentExit | undefined {
    return this.#exit
  }

  get running(): boolean {
    return this.#exit === undefined
  }

  /** The last lines the agent wrote to stderr. */
  get stderrTail(): string {
    return this.#stderr.join('\n')
  }

  /** Calls `listener` for every event from now on; returns the function that removes it. */
  onEvent(listener: (event: AgentEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  #line(line: string): void {
    let event: AgentEvent
    try {
      event = JSON.parse(line) as AgentEvent
    } catch {
      // Not ours (a library writing to stdout): keep it with the log.
      this.#stderr.push(line)
      return
    }
    if (event.event === 'ready') this.#ready = event
    this.events.push(event)
    for (const listener of this.#listeners) listener(event)
  }

  /** Resolves with the agent's `ready` event; rejects if it exits or takes longer than `timeoutMs`. */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<Ready> {
    if (this.#ready !== undefined) return this.#ready
    return new Promise<Ready>((resolve, reject) => {
      const done = (fn: () => void): void => {
        clearTimeout(timer)
        off()
        signal?.removeEventListener('abort', onAbort)
        fn()
      }
      const fail = (why: string): void => {
        const log = this.stderrTail.trim()
        done(() => reject(new AgentStartError(`${this.name} ${why}${log === '' ? '' : `:\n${log}`}`)))
      }
      const off = this.onEvent((event) => {
        if (event.event === 'ready') done(() => resolve(event))
        else if (event.event === 'error') fail(`failed to start: ${event.message}`)
      })
      const timer = setTimeout(() => fail(`did not start within ${timeoutMs / 1000} s`), timeoutMs)
      const onAbort = (): void => done(() => reject(signal?.reason))
      signal?.addEventListener('abort', onAbort, { once: true })
      void this.exited.then((exit) => {
        if (this.#ready === undefined)
          fail(`exited (${exit.signal ?? `code ${exit.code}`}) before it was ready`)
      })
    })
  }

  /** SIGKILL: the process ends at once, without a goodbye to its peers. */
  kill(): void {
    if (this.running) this.#proc.kill('SIGKILL')
  }

  /**
   * Graceful stop (the node says goodbye to its peers and finishes its tasks), then SIGKILL if it
   * takes longer than `timeoutMs`. Resolves with how it ended.
   */
  async stop(timeoutMs: number): Promise<{ graceful: boolean; exit: AgentExit }> {
    if (!this.running) return { graceful: false, exit: await this.exited }
    this.#proc.stdin?.end('stop\n')
    const timer = setTimeout(() => this.kill(), timeoutMs)
    const exit = await this.exited
    clearTimeout(timer)
    return { graceful: exit.code === 0 && exit.signal === null, exit }
  }
}

/** Waits for `condition` to hold, checking it whenever `wake` is called or every `pollMs`. */
export function waitUntil(
  condition: () => boolean,
  options: { timeoutMs: number; what: string; signal?: AbortSignal; pollMs?: number },
): { promise: Promise<void>; wake: () => void } {
  let wake: () => void = () => {}
  const promise = new Promise<void>((resolve, reject) => {
    const finish = (err?: unknown): void => {
      clearTimeout(timer)
      clearInterval(poll)
      options.signal?.removeEventListener('abort', onAbort)
      wake = () => {}
      if (err === undefined) resolve()
      else reject(err)
    }
    const check = (): void => {
      if (condition()) finish()
    }
    const onAbort = (): void => finish(options.signal?.reason)
    const timer = setTimeout(
      () =>
        finish(new StepTimeoutError(`${options.what} did not happen within ${options.timeoutMs / 1000} s`)),
      options.timeoutMs,
    )
    const poll = setInterval(check, options.pollMs ?? 50)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    wake = check
    check()
  })
  return { promise, wake: () => wake() }
}
