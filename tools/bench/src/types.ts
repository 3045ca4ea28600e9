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
  /** Speed or memory targets on this case's metrics; the report says whether each was met. */
  targets?: readonly Target[]
}

/**
 * A target on one metric of a case, judged on the median over the measured rounds (the report
 * gives the spread and how many rounds met it, but only the median decides).
 *
 * @example
 * ```ts
 * { metric: 'tasksPerSec', of: 'ratio', atLeast: 0.6, source: 'issue 10' } // ≥ 0.6× the baseline
 * { metric: 'clientCpuUsPerTask', atMost: 600 }                            // ≤ 600 µs
 * ```
 */
export interface Target {
  /** The metric judged, e.g. `tasksPerSec` (throughput cases: `opsPerSec`, `opsPerCpuSec`). */
  metric: string
  /**
   * `'value'`: the case's own median. `'ratio'`: the median over rounds of the case's value divided
   * by its comparison's baseline value in the same round; only for a case of a {@link Comparison}
   * that is not its baseline. @default 'value'
   */
  of?: 'value' | 'ratio'
  /** Met when the median is at least this. At least one of `atLeast` and `atMost` is required. */
  atLeast?: number
  /** Met when the median is at most this. */
  atMost?: number
  /** Where the target comes from, shown next to the verdict, e.g. `issue 10`, `product documents`. */
  source?: string
  /**
   * `'median'`: met when the median over rounds meets the bounds. `'every round'`: met only when
   * every measured round does, for targets about all trials (each round one trial), e.g.
   * `{ metric: 'directPct', atLeast: 100, judged: 'every round' }`: every trial ended direct.
   * @default 'median'
   */
  judged?: 'median' | 'every round'
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
 * Cases compared side by side. Their rounds run interleaved: every case's setup and warm-up first,
 * then round 1 of every case, round 2 of every case, and so on, so drift in the machine's load
 * falls on all of them alike. Each round's value of each case is divided by the baseline's value
 * in the same round (`case ÷ baseline`, for every kind of metric: above 1× means more ops/s, or a
 * longer latency); the ratios are summarised like any metric.
 */
export interface Comparison {
  kind: 'comparison'
  /** Unique among the suite's comparisons, e.g. `128 in flight`. */
  name: string
  description?: string
  /** Name of the case the others are divided by; one of `cases`. */
  baseline: string
  /** The compared cases, baseline included, in the order the first round runs them. */
  cases: readonly BenchCase[]
  /**
   * Measured rounds of every case. Overridden by `--rounds`; capped by `--quick`.
   * @default the largest `rounds` of its cases (5 when none says)
   */
  rounds?: number
  /**
   * Start each round one case further down the list (a, b, c; then b, c, a; ...), so no case
   * always runs first or always after the same neighbour. @default true
   */
  rotate?: boolean
  /** Metrics to give ratios for. @default every metric the baseline also reports */
  metrics?: readonly string[]
}

/** What a suite's case list holds: cases run one after another, and comparisons. */
export type SuiteEntry = BenchCase | Comparison

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
  cases: readonly SuiteEntry[] | ((state: State) => readonly SuiteEntry[] | Promise<readonly SuiteEntry[]>)
}

/** How to run a suite. */
export interface RunOptions {
  /** Measured rounds for every case, overriding the cases' own `rounds`. */
  rounds?: number
  /** Smoke-test mode: at most 2 rounds, 100 ms budgets, minimal warm-up. @default false */
  quick?: boolean
  /**
   * Only run cases whose name contains this string (case-insensitive). A comparison runs whole
   * when its name or any of its cases' names matches: a ratio needs its baseline.
   */
  filter?: string
  /** Called after each case (after all its rounds, for a compared case), e.g. to print progress. */
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
  /** The comparison the case ran in, interleaved with the other cases of it. */
  comparison?: string
  /** Set when the case threw; the other cases still run. */
  error?: ErrorInfo
}

/** A thrown error as recorded in the results. */
export interface ErrorInfo {
  name: string
  code?: string
  message: string
}

/** One metric of one case divided by the baseline's, round by round. */
export interface RatioResult {
  case: string
  metric: string
  /** The metric's unit (the ratio itself has none: it is `case ÷ baseline`). */
  unit: string
  /** Per measured round, in round order: the case's value ÷ the baseline's value in that round. */
  samples: number[]
  summary: Summary
}

/** How a comparison ran and its ratios; the cases' own results are in {@link SuiteResult.cases}. */
export interface ComparisonResult {
  name: string
  description?: string
  baseline: string
  /** Measured rounds. */
  rounds: number
  /** Whether the order was rotated each round. */
  rotate: boolean
  /** The order the cases ran in, per measured round (warm-up and setup in the first round's order). */
  order: string[][]
  /** For every case but the baseline that ran all rounds, per metric the baseline also has. */
  ratios: RatioResult[]
}

/** A target and its verdict. */
export interface TargetResult {
  case: string
  metric: string
  of: 'value' | 'ratio'
  atLeast?: number
  atMost?: number
  source?: string
  /** Present when the target is judged on every round rather than on the median. */
  judged?: 'every round'
  /** Ratio targets: the case divided by. */
  baseline?: string
  /** Unit of the judged value: the metric's, or `×` for a ratio. */
  unit: string
  /**
   * From the median (or from every round, with `judged: 'every round'`); `not measured` when the
   * case failed or the metric (or ratio) is missing.
   */
  verdict: 'met' | 'not met' | 'not measured'
  /** The judged values' summary (median and spread), when measured. */
  summary?: Summary
  /** How many measured rounds met the target on their own, out of `summary.n`. */
  roundsMet?: number
  /** Why the target was not measured. */
  reason?: string
}

export interface SuiteResult {
  name: string
  description: string
  startedAt: string
  durationMs: number
  cases: CaseResult[]
  /** The suite's comparisons that ran, in order. */
  comparisons: ComparisonResult[]
  /** Every target of the cases that ran, with its verdict. */
  targets: TargetResult[]
  /** Set when the suite's setup, case list or teardown threw. */
  error?: ErrorInfo
}
