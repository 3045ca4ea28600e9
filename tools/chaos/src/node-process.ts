/**
 * One node of the run: a real `p2p-ai-agents node start` process in the foreground, on a fixed
 * address and port, so that it comes back where its peers expect it after a kill. The harness
 * kills, freezes, stops and restarts it; an exit the harness did not cause is a crash, which the
 * run reports.
 */
import type { ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { readControlInfo } from '@p2p-ai/cli'
import { NODE_START_TIMEOUT_MS } from './constants.js'
import { ChaosHarnessError } from './errors.js'
import type { Place } from './place.js'

/** The built CLI: the node the harness runs is the one users run. */
export function cliBin(): string {
  const pkg = createRequire(import.meta.url).resolve('@p2p-ai/cli/package.json')
  return join(dirname(pkg), 'dist', 'bin.js')
}

export type NodeRole = 'requester' | 'provider'

export interface ChaosNodeInit {
  readonly name: string
  readonly role: NodeRole
  readonly place: Place
  readonly dataDir: string
  readonly port: number
  readonly peerId: string
  /** The process environment (settings as `P2P_AI_*`). */
  readonly env: NodeJS.ProcessEnv
  /** Where its output goes. */
  readonly logFile: string
}

/** An exit the harness did not cause. */
export interface Crash {
  readonly node: string
  readonly at: number
  readonly code: number | null
  readonly signal: string | null
  /** The last lines it wrote to stderr. */
  readonly stderr: readonly string[]
}

const STDERR_TAIL = 40

export class ChaosNode {
  readonly name: string
  readonly role: NodeRole
  readonly place: Place
  readonly dataDir: string
  readonly port: number
  readonly peerId: string
  /** Every pid this node had, in order. */
  readonly pids: number[] = []
  readonly crashes: Crash[] = []
  /** Starts after the first. */
  restarts = 0
  readonly #env: NodeJS.ProcessEnv
  readonly #log: WriteStream
  #proc: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  /** The harness is ending this process (kill, stop): its exit is no crash. */
  #expectExit = false
  #stderr: string[] = []
  #frozen = false

  constructor(init: ChaosNodeInit) {
    this.name = init.name
    this.role = init.role
    this.place = init.place
    this.dataDir = init.dataDir
    this.port = init.port
    this.peerId = init.peerId
    this.#env = init.env
    this.#log = createWriteStream(init.logFile, { flags: 'a' })
  }

  /** Its multiaddr, for the others' bootstrap lists. */
  get multiaddr(): string {
    return `/ip4/${this.place.address}/tcp/${this.port}/p2p/${this.peerId}`
  }

  get running(): boolean {
    return this.#proc !== undefined && this.#proc.exitCode === null && this.#proc.signalCode === null
  }

  get pid(): number | undefined {
    return this.running ? this.#proc?.pid : undefined
  }

  /** Starts the node; resolves once its control API is up (its control files name its pid). */
  async start(bootstrap: readonly string[]): Promise<void> {
    if (this.running) throw new ChaosHarnessError(`${this.name} is already running`)
    if (this.pids.length > 0) this.restarts++
    const args = [
      cliBin(),
      'node',
      'start',
      '--data-dir',
      this.dataDir,
      '--listen',
      `/ip4/${this.place.address}/tcp/${this.port}`,
      '--no-mdns',
      '--log-level',
      'warn',
      ...bootstrap.flatMap((address) => ['--bootstrap', address]),
    ]
    const proc = this.place.spawn(process.execPath, args, this.#env)
    this.#proc = proc
    this.#expectExit = false
    this.#frozen = false
    this.#stderr = []
    if (proc.pid !== undefined) this.pids.push(proc.pid)
    this.#log.write(`--- ${new Date().toISOString()} start (pid ${proc.pid})\n`)
    proc.stdout?.on('data', (chunk: Buffer) => this.#log.write(chunk))
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      this.#log.write(`${line}\n`)
      this.#stderr.push(line)
      if (this.#stderr.length > STDERR_TAIL) this.#stderr.shift()
    })
    this.#exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.#log.write(`--- ${new Date().toISOString()} exit ${code ?? signal}\n`)
        if (!this.#expectExit) {
          this.crashes.push({ node: this.name, at: Date.now(), code, signal, stderr: [...this.#stderr] })
        }
        resolve()
      })
    })
    const deadline = Date.now() + NODE_START_TIMEOUT_MS
    for (;;) {
      if (!this.running) {
        throw new ChaosHarnessError(
          `${this.name} exited at start (${proc.exitCode ?? proc.signalCode}): ${this.#stderr.slice(-5).join(' | ')}`,
        )
      }
      const info = await readControlInfo(this.dataDir).catch(() => undefined)
      if (info?.pid === proc.pid) return
      if (Date.now() > deadline) {
        throw new ChaosHarnessError(`${this.name} did not start within ${NODE_START_TIMEOUT_MS} ms`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  /** SIGKILL: no shutdown, no last writes. */
  async kill(): Promise<void> {
    if (!this.running) return
    this.#expectExit = true
    this.#proc?.kill('SIGKILL')
    await this.#exited
  }

  freeze(): void {
    if (!this.running || this.#frozen) return
    this.#frozen = true
    this.#proc?.kill('SIGSTOP')
  }

  thaw(): void {
    if (!this.#frozen) return
    this.#frozen = false
    this.#proc?.kill('SIGCONT')
  }

  /** The harness is about to stop it gracefully: the exit that follows is no crash. */
  expectExit(): void {
    this.#expectExit = true
  }

  /** Resolves true once the process exited, false if it still runs after `ms`. */
  async exited(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined
    const done = await Promise.race([
      this.#exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms)
      }),
    ])
    clearTimeout(timer)
    return done
  }

  /** How the last process ended. */
  get exitStatus(): { code: number | null; signal: string | null } | undefined {
    const p = this.#proc
    return p === undefined || this.running ? undefined : { code: p.exitCode, signal: p.signalCode }
  }

  /** Closes its log. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#log.end(resolve))
  }
}
