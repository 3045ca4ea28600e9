/**
 * The p2p-ai benchmark runner. A suite is a file `src/suites/<name>.ts` whose default export is
 * `defineSuite({...})`; `pnpm bench [name...]` finds, runs and records it. See README.md.
 *
 * @packageDocumentation
 */

export {
  DEFAULT_BUDGET_MS,
  DEFAULT_ROUNDS,
  DEFAULT_WARMUP_MS,
  DEFAULT_WARMUP_ROUNDS,
  RESULTS_SCHEMA_VERSION,
} from './constants.js'
export { InvalidMeasurementError, InvalidSuiteError, UnknownSuiteError, UsageError } from './errors.js'
export { formatNumber, formatSuite, formatSuiteMarkdown } from './format.js'
export { type MachineInfo, machineInfo } from './machine.js'
export { type BenchReport, listSuiteFiles, type MainInit, main } from './main.js'
export {
  type BenchCase,
  type CaseResult,
  defineSuite,
  inferUnit,
  type MeasureCase,
  type Measurements,
  type MetricResult,
  measure,
  type RoundContext,
  type RunOptions,
  runSuite,
  type Suite,
  type SuiteResult,
  type ThroughputCase,
  throughput,
} from './runner.js'
export { median, type Summary, summarize } from './stats.js'
