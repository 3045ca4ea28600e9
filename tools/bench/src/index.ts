/**
 * The p2p-ai benchmark runner. A suite is a file `src/suites/<name>.ts` whose default export is
 * `defineSuite({...})`; `pnpm bench [name...]` finds, runs and records it. Cases compared side by
 * side go in a `compare(...)` group, whose rounds run interleaved and are judged by their ratio to
 * a baseline. See README.md.
 *
 * @packageDocumentation
 */

export { ratiosToBaseline, roundOrder } from './comparison.js'
export {
  DEFAULT_BUDGET_MS,
  DEFAULT_ROUNDS,
  DEFAULT_WARMUP_MS,
  DEFAULT_WARMUP_ROUNDS,
  RESULTS_SCHEMA_VERSION,
} from './constants.js'
export { InvalidMeasurementError, InvalidSuiteError, UnknownSuiteError, UsageError } from './errors.js'
export { describeTarget, formatNumber, formatRatio, formatSuite, formatSuiteMarkdown } from './format.js'
export { type MachineInfo, machineInfo } from './machine.js'
export { type BenchReport, listSuiteFiles, type MainInit, main } from './main.js'
export {
  type BenchCase,
  type CaseResult,
  type Comparison,
  type ComparisonResult,
  compare,
  defineSuite,
  type ErrorInfo,
  inferUnit,
  type MeasureCase,
  type Measurements,
  type MetricResult,
  measure,
  type RatioResult,
  type RoundContext,
  type RunOptions,
  runSuite,
  type Suite,
  type SuiteEntry,
  type SuiteResult,
  type Target,
  type TargetResult,
  type ThroughputCase,
  throughput,
} from './runner.js'
export { median, type Summary, summarize } from './stats.js'
export { judgeTargets, meets } from './targets.js'
