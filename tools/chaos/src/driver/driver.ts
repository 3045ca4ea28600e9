/** The harness's side of a driver (program.ts): starts it in a place, sends commands, hears events. */
import type { ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { ChaosHarnessError } from '../errors.js'
import type { Place } from '../place.js'
import type { DriverCommand, DriverEvent } from './protocol.js'

/** The driver program, compiled (in the sources' tests too: build first). */
export function driverProgram(): string {
  const here = fileURLToPath(import.meta.url)
  return here.endsWith('.ts')
    ? join(dirname(here), '..', '..', 'dist', 'driver', 'program.js')
    : join(dirname(here), 'program.js')
}

/** Distributes `Omit` over a union. */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

interface Pending {
  resolve(answer: Record<string, unknown>): void
  reject(err: Error): void
  timer: NodeJS.Timeout
}

export class Driver {
  readonly name: string
  readonly proc: ChildProcess
  readonly exited: Promise<void>
  readonly #pending = new Map<number, Pending>()
  #req = 0

  private constructor(name: string, proc: ChildProcess, onEvent: (event: DriverEvent) => void) {
    this.name = name
    this.proc = proc
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()))
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let event: DriverEvent
      try {
        event = JSON.parse(line) as DriverEvent
      } catch {
        return
      }
      if (event.ev === 'reply') this.#settle(event)
      else onEvent(event)
    })
    // A driver's stderr is its crash report; keep the pipe drained.
    proc.stderr?.resume()
    void this.exited.then(() => {
      for (const [req, p] of this.#pending) {
        clearTimeout(p.timer)
        p.reject(new ChaosHarnessError(`driver ${name} exited before it answered request ${req}`))
      }
      this.#pending.clear()
    })
  }

  /** Starts a driver for the node of `dataDir` in `place`; resolves once it is ready. */
  static async start(
    place: Place,
    name: string,
    dataDir: string,
    env: NodeJS.ProcessEnv,
    onEvent: (event: DriverEvent) => void,
  ): Promise<Driver> {
    const proc = place.spawn(process.execPath, [driverProgram(), JSON.stringify({ dataDir })], env)
    let ready!: () => void
    const isReady = new Promise<void>((resolve) => {
      ready = resolve
    })
    const driver = new Driver(name, proc, (event) => {
      if (event.ev === 'ready') ready()
      else onEvent(event)
    })
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new ChaosHarnessError(`driver ${name} did not start within 30 s`)),
        30_000,
      ).unref(),
    )
    const died = driver.exited.then(() => {
      throw new ChaosHarnessError(`driver ${name} exited at start (exit code ${proc.exitCode})`)
    })
    await Promise.race([isReady, timeout, died])
    return driver
  }

  /** Sends a command; resolves with its answer, rejects if the driver says it failed or times out. */
  request(command: Without<DriverCommand, 'req'>, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const req = ++this.#req
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(req)
        reject(
          new ChaosHarnessError(`driver ${this.name} did not answer ${command.cmd} within ${timeoutMs} ms`),
        )
      }, timeoutMs)
      this.#pending.set(req, { resolve, reject, timer })
      this.proc.stdin?.write(`${JSON.stringify({ ...command, req })}\n`)
    })
  }

  /** Ends the driver (it exits when its stdin closes); killed if it lingers. */
  async close(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.stdin?.end()
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000)
    await this.exited
    clearTimeout(timer)
  }

  #settle(event: Extract<DriverEvent, { ev: 'reply' }>): void {
    const pending = this.#pending.get(event.req)
    if (pending === undefined) return
    this.#pending.delete(event.req)
    clearTimeout(pending.timer)
    if (event.ok === true) pending.resolve(event)
    else {
      const error = event.error as { code?: string; message?: string } | undefined
      pending.reject(
        new ChaosHarnessError(
          `driver ${this.name}: ${error?.message ?? 'failed'}${error?.code === undefined ? '' : ` [${error.code}]`}`,
        ),
      )
    }
  }
}
