import { DEFAULT_HEALTH_CHECK_TIMEOUT_MS, DEFAULT_HEALTH_INTERVAL_MS } from '../constants.js'
import { DuplicateHealthCheckError, HealthCheckTimeoutError } from '../errors.js'

/** `degraded`: working, but something needs attention (slow, nearly full, no peers to reach). */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy'

/** What one check answers. */
export interface HealthCheckResult {
  readonly status: HealthStatus
  /** One line for `node status`, e.g. `3 peers`, `queue 812/1000`. */
  readonly detail?: string
}

/**
 * A component's health check. It gets a signal that aborts at its time box; a check that has not
 * answered by then is reported `unhealthy`, and one that throws is `unhealthy` with the error.
 */
export type HealthCheck = (options: { signal: AbortSignal }) => HealthCheckResult | Promise<HealthCheckResult>

export interface HealthCheckOptions {
  /**
   * Local components (identity, engine, store) decide readiness; the network does not, since a
   * node alone on its network is still ready to work.
   *
   * @default true
   */
  local?: boolean
}

/** One component's latest result. */
export interface ComponentHealth extends HealthCheckResult {
  readonly name: string
  readonly local: boolean
  /** How long the check took, in milliseconds. */
  readonly durationMs: number
  /** `Date.now()` when the check finished. */
  readonly checkedAt: number
}

/** The result of one round of checks. */
export interface HealthReport {
  /** The worst component status. */
  readonly status: HealthStatus
  readonly components: readonly ComponentHealth[]
  readonly checkedAt: number
  readonly durationMs: number
}

const RANK: Readonly<Record<HealthStatus, number>> = { healthy: 0, degraded: 1, unhealthy: 2 }

/** The worse of two statuses. */
export function worst(a: HealthStatus, b: HealthStatus): HealthStatus {
  return RANK[a] >= RANK[b] ? a : b
}

interface Registered {
  readonly check: HealthCheck
  readonly local: boolean
}

export interface HealthMonitorInit {
  intervalMs?: number
  checkTimeoutMs?: number
  /** Called after every round. */
  onReport?: (report: HealthReport, previous: HealthReport | undefined) => void
}

/**
 * Runs the registered checks in parallel, each time-boxed, on a timer and on demand. A round
 * answers within the time box however the checks behave, since a slow check only loses the race.
 */
export class HealthMonitor {
  readonly #checks = new Map<string, Registered>()
  #intervalMs: number
  #checkTimeoutMs: number
  readonly #onReport: HealthMonitorInit['onReport']
  #last: HealthReport | undefined
  #running: Promise<HealthReport> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(init: HealthMonitorInit = {}) {
    this.#intervalMs = init.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS
    this.#checkTimeoutMs = init.checkTimeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS
    this.#onReport = init.onReport
  }

  register(name: string, check: HealthCheck, options: HealthCheckOptions = {}): void {
    if (this.#checks.has(name))
      throw new DuplicateHealthCheckError(`a health check named ${name} is already registered`)
    this.#checks.set(name, { check, local: options.local ?? true })
  }

  unregister(name: string): boolean {
    return this.#checks.delete(name)
  }

  /** The latest report, or undefined before the first round. */
  get last(): HealthReport | undefined {
    return this.#last
  }

  /** Runs every check now; concurrent callers share one round. */
  run(): Promise<HealthReport> {
    this.#running ??= this.#round().finally(() => {
      this.#running = undefined
    })
    return this.#running
  }

  /** Starts periodic checks (the first one after one interval). */
  start(): void {
    this.stop()
    this.#timer = setInterval(() => void this.run(), this.#intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Changes the period and time box; a running timer is restarted with the new period. */
  configure(intervalMs: number, checkTimeoutMs: number): void {
    const restart = this.#timer !== undefined && intervalMs !== this.#intervalMs
    this.#intervalMs = intervalMs
    this.#checkTimeoutMs = checkTimeoutMs
    if (restart) this.start()
  }

  async #round(): Promise<HealthReport> {
    const started = Date.now()
    const entries = [...this.#checks]
    const components = await Promise.all(
      entries.map(([name, registered]) => runCheck(name, registered, this.#checkTimeoutMs)),
    )
    const status = components.reduce<HealthStatus>((acc, c) => worst(acc, c.status), 'healthy')
    const report: HealthReport = {
      status,
      components,
      checkedAt: Date.now(),
      durationMs: Date.now() - started,
    }
    const previous = this.#last
    this.#last = report
    this.#onReport?.(report, previous)
    return report
  }
}

async function runCheck(name: string, registered: Registered, timeoutMs: number): Promise<ComponentHealth> {
  const started = performance.now()
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<HealthCheckResult>((resolve) => {
    timer = setTimeout(() => {
      const err = new HealthCheckTimeoutError(`no answer within ${timeoutMs} ms`)
      controller.abort(err)
      resolve({ status: 'unhealthy', detail: err.message })
    }, timeoutMs)
  })
  let result: HealthCheckResult
  try {
    result = await Promise.race([
      Promise.resolve()
        .then(() => registered.check({ signal: controller.signal }))
        .then(normalise),
      timeout,
    ])
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown }
    const code = typeof e?.code === 'string' ? `${e.code}: ` : ''
    result = {
      status: 'unhealthy',
      detail: `${code}${typeof e?.message === 'string' ? e.message : String(err)}`,
    }
  } finally {
    clearTimeout(timer)
  }
  return {
    ...result,
    name,
    local: registered.local,
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    checkedAt: Date.now(),
  }
}

function normalise(result: HealthCheckResult): HealthCheckResult {
  if (result === null || typeof result !== 'object' || !(result.status in RANK)) {
    return { status: 'unhealthy', detail: `check returned ${JSON.stringify(result)}, not a health result` }
  }
  return result.detail === undefined
    ? { status: result.status }
    : { status: result.status, detail: result.detail }
}
