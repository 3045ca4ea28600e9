/**
 * The CPU limit's duty cycle. Fewer tasks at once and fewer threads per model bring the node's CPU
 * near its limit; this keeps the average within it. It keeps an account of CPU time: the limit
 * earns allowance as time passes, the node's measured CPU time spends it. While the account is
 * overdrawn no queued task starts (running ones go on: nothing is ever stopped mid-run), until the
 * allowance has paid it back. Savings are capped at `CPU_GATE_MAX_CREDIT_S` of allowance (a burst
 * after a quiet spell, no more) and debt at `CPU_GATE_MAX_DEBT_S` (a task far over the limit is not
 * repaid forever), so the node's CPU over tens of seconds meets the limit.
 */
import { CPU_GATE_MAX_CREDIT_S, CPU_GATE_MAX_DEBT_S, CPU_GATE_TICK_MS } from './constants.js'

export interface CpuGateInit {
  /** This process's CPU time so far, in milliseconds (all threads). */
  readonly cpuMs: () => number
  /** Monotonic clock, in milliseconds. @default performance.now */
  readonly now?: () => number
  /** The gate closed (true) or opened (false). */
  readonly onChange: (holding: boolean) => void
  /** Run the tick on a timer of its own. Off in tests, which call `tick()`. @default true */
  readonly timer?: boolean
}

export class CpuGate {
  readonly #init: CpuGateInit
  readonly #now: () => number
  /** Cores the node may use; undefined: no limit, the gate is open and idle. */
  #cores: number | undefined
  /** CPU milliseconds saved (positive) or owed (negative). */
  #balance = 0
  #lastAt = 0
  #lastCpu = 0
  #holding = false
  #timer: NodeJS.Timeout | undefined

  constructor(init: CpuGateInit) {
    this.#init = init
    this.#now = init.now ?? (() => performance.now())
  }

  get holding(): boolean {
    return this.#holding
  }

  /** The CPU the node may use, in cores (a share of the machine × its cores); undefined: no limit. */
  configure(cores: number | undefined): void {
    if (cores === this.#cores) return
    const was = this.#cores
    this.#cores = cores
    if (cores === undefined) {
      clearInterval(this.#timer)
      this.#timer = undefined
      this.#set(false)
      return
    }
    if (was === undefined) {
      this.#balance = 0
      this.#lastAt = this.#now()
      this.#lastCpu = this.#init.cpuMs()
      if (this.#init.timer !== false) {
        this.#timer = setInterval(() => this.tick(), CPU_GATE_TICK_MS)
        this.#timer.unref()
      }
    }
  }

  /** Settles the account for the time since the last tick, and opens or closes the gate. */
  tick(): void {
    const cores = this.#cores
    if (cores === undefined) return
    const now = this.#now()
    const cpu = this.#init.cpuMs()
    const earned = (now - this.#lastAt) * cores
    const spent = cpu - this.#lastCpu
    this.#lastAt = now
    this.#lastCpu = cpu
    const allowancePerSecond = cores * 1000
    this.#balance = Math.min(
      CPU_GATE_MAX_CREDIT_S * allowancePerSecond,
      Math.max(-CPU_GATE_MAX_DEBT_S * allowancePerSecond, this.#balance + earned - spent),
    )
    this.#set(this.#balance < 0)
  }

  stop(): void {
    this.configure(undefined)
  }

  #set(holding: boolean): void {
    if (holding === this.#holding) return
    this.#holding = holding
    this.#init.onChange(holding)
  }
}
