import type { Summary } from './stats.js'

/** What a measurement case's function is told about the round it runs in. */
export interface RoundContext {
  /** 0-based index of the measured round; -1, -2... for warm-up rounds. */
  round: number
  /** True for warm-up rounds, whose values are discarded. */
  warmup: boolean
  /** True under `--quick`: a smoke test, so keep work small (fewer peers, smaller inputs). */
  quick: boolean
  /** Aborted when the run is cancelled; long measurements should stop early. */
  signal: AbortSignal
}

/** Named values measured by one round of a measurement case, e.g. `{ latencyP50Ms: 3.1, rssMb: 84 }`. */
export type Measurements = Record<string, number>

interface CaseCommon {
  /** Short, unique within the suite, e.g. `'sign (node)'`. */
  name: string
  /** One line shown in `--list` and stored in the JSON. */
  description?: string
  /** Measured rounds. Overridden by `--rounds`; capped by `--quick`. @default 5 */
  rounds?: number
  /** Runs once before the case's warm-up (not timed). */
  setup?: () => void | Promise<void>
  /** Runs once after the case's last round, even if a round threw (not timed). */
  teardown?: () => void | Promise<void>
}

/**
 * A function called back-to-back for a time budget per round; the round reports
 * `opsPerSec = calls * opsPerCall / seconds`. Sync functions run in a tight loop; a function that
 * returns a promise is awaited before the next call (so async throughput is sequential).
 */
export interface ThroughputCase extends CaseCommon {
  kind: 'throughput'
  fn: () => unknown
  /** Operations done by one call, for batched calls (e.g. 100 to embed 100 texts per call). @default 1 */
  opsPerCall?: number
  /** Time budget of one round, in milliseconds. @default 1000 (100 under `--quick`) */
  budgetMs?: number
  /** Untimed warm-up before the first round, in milliseconds. @default 300 (20 under `--quick`) */
  warmupMs?: number
}

/**
 * A function run once per round that measures something itself and returns named values
 * (latencies, memory, discovery time...). Each name becomes a metric summarised over the rounds.
 */
export interface MeasureCase extends CaseCommon {
  kind: 'measure'
  fn: (ctx: RoundContext) => Measurements | Promise<Measurements>
  /**
   * Unit per metric name, for the table and JSON. Names ending in `Ms`, `Us`, `Ns`, `Mb`, `Kb`,
   * `Bytes`, `PerSec` or `Pct` get their unit without this. @default inferred from the name
   */
  units?: Record<string, string>
  /** Untimed rounds before the measured ones. @default 1 (0 under `--quick`) */
  warmupRounds?: number
}

export type BenchCase = ThroughputCase | MeasureCase

/**
 * A benchmark suite: the default export of `src/suites/<name>.ts`. `setup` runs once before the
 * cases and its value is passed to `cases` (when that is a function) and to `teardown`.
 */
export interface Suite<State = undefined> {
  /** Equal to the file name without extension: `identity` for `suites/identity.ts`. */
  name: string
  description: string
  setup?: (ctx: { quick: boolean }) => State | Promise<State>
  teardown?: (state: State) => void | Promise<void>
  cases: readonly BenchCase[] | ((state: State) => readonly BenchCase[] | Promise<readonly BenchCase[]>)
}

/** How to run a suite. */
export interface RunOptions {
  /** Measured rounds for every case, overriding the cases' own `rounds`. */
  rounds?: number
  /** Smoke-test mode: at most 2 rounds, 100 ms budgets, minimal warm-up. @default false */
  quick?: boolean
  /** Only run cases whose name contains this string (case-insensitive). */
  filter?: string
  /** Called after each case, e.g. to print progress. */
  onCase?: (result: CaseResult) => void
  signal?: AbortSignal
}

/** One metric of a case: its per-round samples and their summary. */
export interface MetricResult {
  name: string
  unit: string
  samples: number[]
  summary: Summary
}

export interface CaseResult {
  name: string
  kind: BenchCase['kind']
  description?: string
  /** Measured rounds actually run. */
  rounds: number
  /** Throughput cases: the per-round budget used. */
  budgetMs?: number
  /** Throughput cases: operations per call. */
  opsPerCall?: number
  /** Throughput cases: total calls over the measured rounds. */
  calls?: number
  metrics: MetricResult[]
  /** Set when the case threw; the other cases still run. */
  error?: { name: string; code?: string; message: string }
}

export interface SuiteResult {
  name: string
  description: string
  startedAt: string
  durationMs: number
  cases: CaseResult[]
  /** Set when the suite's setup, case list or teardown threw. */
  error?: { name: string; code?: string; message: string }
}
