/** `runChaos()`'s options, their defaults, and their validation (before anything starts). */
import {
  DEFAULT_CLIENTS,
  DEFAULT_DURATION_MS,
  DEFAULT_GAP_MS,
  DEFAULT_HOLD_MS,
  DEFAULT_PROVIDERS,
  DEFAULT_SEED,
  DEFAULT_SETTLE_MS,
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  DEFAULT_TASK_LATENCY_MS,
  DEFAULT_WARMUP_MS,
} from './constants.js'
import { InvalidChaosOptionError } from './errors.js'
import { FAULT_KINDS, type FaultKind, TESTNET_ONLY } from './plan.js'

export interface ChaosInit {
  /** Seeds the fault schedule and the workload. @default 1 */
  readonly seed?: number
  /**
   * Faults are planned until their pauses and holds add up to this (the run takes longer: nodes
   * take time to start again). @default 60_000
   */
  readonly durationMs?: number
  /** At most this many faults (every kind comes once first). @default as many as `durationMs` holds */
  readonly maxFaults?: number
  /** Provider nodes besides the requester (at least 2: one is never killed). @default 3 */
  readonly providers?: number
  /** Clients looping submit + wait against the requester's control API. @default 24 */
  readonly clients?: number
  /**
   * Run every node on its own test host (a network namespace, `@p2p-ai/testnet`; needs root and
   * iproute2), which lets `cut-link` cut links. Otherwise every node runs on 127.0.0.1.
   *
   * @default false
   */
  readonly testnet?: boolean
  /** The fault kinds to inject. @default every kind the environment supports */
  readonly kinds?: readonly FaultKind[]
  /** Workload before the first fault. @default 3_000 */
  readonly warmupMs?: number
  /** Pause between faults: [min, max]. @default [1_000, 3_000] */
  readonly gapMs?: readonly [number, number]
  /** How long a fault holds: [min, max]. @default [1_000, 3_000] */
  readonly holdMs?: readonly [number, number]
  /** Work per task: [min, max] ms. @default [0, 300] */
  readonly taskLatencyMs?: readonly [number, number]
  /** After the faults: how long acknowledged tasks have to become final. @default 45_000 */
  readonly settleMs?: number
  /** The nodes' graceful shutdown deadline. @default 3_000 */
  readonly shutdownDeadlineMs?: number
  /** Where the run's directory (data directories, logs) is made. @default the OS's temp directory */
  readonly workDir?: string
  /** Keep the run's directory afterwards (it is kept anyway when the run found violations). @default false */
  readonly keep?: boolean
  /** Progress, one line at a time. @default silent */
  readonly log?: (line: string) => void
  /** Aborting ends the run early; the report says what was checked. */
  readonly signal?: AbortSignal
}

export interface ChaosOptions {
  readonly seed: number
  readonly durationMs: number
  readonly maxFaults: number | undefined
  readonly providers: number
  readonly clients: number
  readonly testnet: boolean
  readonly kinds: readonly FaultKind[]
  readonly warmupMs: number
  readonly gapMs: readonly [number, number]
  readonly holdMs: readonly [number, number]
  readonly taskLatencyMs: readonly [number, number]
  readonly settleMs: number
  readonly shutdownDeadlineMs: number
  readonly workDir: string | undefined
  readonly keep: boolean
  readonly log: (line: string) => void
  readonly signal: AbortSignal | undefined
}

/** @throws {InvalidChaosOptionError} naming the option */
export function settleOptions(init: ChaosInit): ChaosOptions {
  const testnet = init.testnet ?? false
  const kinds = init.kinds ?? FAULT_KINDS.filter((k) => testnet || !TESTNET_ONLY.includes(k))
  for (const kind of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) {
      throw new InvalidChaosOptionError(
        `kinds: unknown fault kind "${kind}"; known: ${FAULT_KINDS.join(', ')}`,
      )
    }
    if (!testnet && TESTNET_ONLY.includes(kind)) {
      throw new InvalidChaosOptionError(`kinds: "${kind}" needs the test hosts (testnet: true)`)
    }
  }
  const o: ChaosOptions = {
    seed: int('seed', init.seed ?? DEFAULT_SEED, 0, 2 ** 32 - 1),
    durationMs: int('durationMs', init.durationMs ?? DEFAULT_DURATION_MS, 1_000, 24 * 3_600_000),
    maxFaults:
      init.maxFaults === undefined ? undefined : int('maxFaults', init.maxFaults, kinds.length, 1_000_000),
    providers: int('providers', init.providers ?? DEFAULT_PROVIDERS, 2, 16),
    clients: int('clients', init.clients ?? DEFAULT_CLIENTS, 1, 256),
    testnet,
    kinds,
    warmupMs: int('warmupMs', init.warmupMs ?? DEFAULT_WARMUP_MS, 0, 600_000),
    gapMs: range('gapMs', init.gapMs ?? DEFAULT_GAP_MS),
    holdMs: range('holdMs', init.holdMs ?? DEFAULT_HOLD_MS),
    taskLatencyMs: range('taskLatencyMs', init.taskLatencyMs ?? DEFAULT_TASK_LATENCY_MS),
    settleMs: int('settleMs', init.settleMs ?? DEFAULT_SETTLE_MS, 1_000, 3_600_000),
    shutdownDeadlineMs: int(
      'shutdownDeadlineMs',
      init.shutdownDeadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS,
      1_000,
      60_000,
    ),
    workDir: init.workDir,
    keep: init.keep ?? false,
    log: init.log ?? (() => {}),
    signal: init.signal,
  }
  return o
}

function int(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidChaosOptionError(`${name}: expected an integer from ${min} to ${max}, got ${value}`)
  }
  return value
}

function range(name: string, value: readonly [number, number]): readonly [number, number] {
  if (!Array.isArray(value) || value.length !== 2) {
    throw new InvalidChaosOptionError(`${name}: expected [min, max]`)
  }
  const [min, max] = value
  int(`${name}[0]`, min, 0, 3_600_000)
  int(`${name}[1]`, max, min, 3_600_000)
  return [min, max]
}
