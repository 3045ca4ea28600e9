import { InvalidSuiteError } from './errors.js'
import type {
  BenchCase,
  Comparison,
  MeasureCase,
  Suite,
  SuiteEntry,
  Target,
  ThroughputCase,
} from './types.js'

const NAME_RE = /^[a-z0-9][a-z0-9-]*$/

/** Checks a suite definition and returns it unchanged; the identity function with validation. */
export function defineSuite<State = undefined>(suite: Suite<State>): Suite<State> {
  if (typeof suite !== 'object' || suite === null) throw new InvalidSuiteError('a suite must be an object')
  if (typeof suite.name !== 'string' || !NAME_RE.test(suite.name)) {
    throw new InvalidSuiteError(`suite name ${JSON.stringify(suite.name)} must match ${NAME_RE}`)
  }
  if (typeof suite.description !== 'string') {
    throw new InvalidSuiteError(`suite ${suite.name}: description must be a string`)
  }
  if (Array.isArray(suite.cases)) validateEntries(suite.name, suite.cases)
  else if (typeof suite.cases !== 'function') {
    throw new InvalidSuiteError(`suite ${suite.name}: cases must be an array or a function returning one`)
  }
  return suite
}

/** Builds a throughput case. */
export function throughput(
  name: string,
  fn: () => unknown,
  options: Omit<ThroughputCase, 'kind' | 'name' | 'fn'> = {},
): ThroughputCase {
  return { ...options, kind: 'throughput', name, fn }
}

/** Builds a measurement case. */
export function measure(
  name: string,
  fn: MeasureCase['fn'],
  options: Omit<MeasureCase, 'kind' | 'name' | 'fn'> = {},
): MeasureCase {
  return { ...options, kind: 'measure', name, fn }
}

/**
 * Builds a comparison: `cases` run interleaved round by round, and each is divided by the case
 * named `options.baseline` in every round.
 */
export function compare(
  name: string,
  cases: readonly BenchCase[],
  options: Omit<Comparison, 'kind' | 'name' | 'cases'>,
): Comparison {
  return { ...options, kind: 'comparison', name, cases }
}

/** Checks a suite's case list: cases, comparisons and their targets. */
export function validateEntries(suiteName: string, entries: readonly SuiteEntry[]): void {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new InvalidSuiteError(`suite ${suiteName}: needs at least one case`)
  }
  const caseNames = new Set<string>()
  const comparisonNames = new Set<string>()
  for (const entry of entries) {
    if (typeof entry === 'object' && entry !== null && entry.kind === 'comparison') {
      validateComparison(suiteName, entry, comparisonNames)
      for (const c of entry.cases) validateCase(suiteName, c, caseNames, entry)
    } else {
      validateCase(suiteName, entry, caseNames, undefined)
    }
  }
}

function validateComparison(suiteName: string, c: Comparison, seen: Set<string>): void {
  const where = `suite ${suiteName}, comparison ${JSON.stringify(c.name)}`
  if (typeof c.name !== 'string' || c.name === '') {
    throw new InvalidSuiteError(`suite ${suiteName}: every comparison needs a non-empty name`)
  }
  if (seen.has(c.name)) throw new InvalidSuiteError(`${where}: duplicate comparison name`)
  seen.add(c.name)
  if (!Array.isArray(c.cases) || c.cases.length < 2) {
    throw new InvalidSuiteError(`${where}: needs at least two cases`)
  }
  if (!c.cases.some((x) => x?.name === c.baseline)) {
    throw new InvalidSuiteError(`${where}: baseline ${JSON.stringify(c.baseline)} is not one of its cases`)
  }
  checkPositive(where, 'rounds', c.rounds, true)
  if (c.rotate !== undefined && typeof c.rotate !== 'boolean') {
    throw new InvalidSuiteError(`${where}: rotate must be a boolean`)
  }
  if (
    c.metrics !== undefined &&
    (!Array.isArray(c.metrics) || c.metrics.some((m) => typeof m !== 'string' || m === ''))
  ) {
    throw new InvalidSuiteError(`${where}: metrics must be a list of metric names`)
  }
}

function validateCase(
  suiteName: string,
  c: BenchCase,
  seen: Set<string>,
  comparison: Comparison | undefined,
): void {
  const where = `suite ${suiteName}, case ${JSON.stringify(c?.name)}`
  if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || c.name === '') {
    throw new InvalidSuiteError(`suite ${suiteName}: every case needs a non-empty name`)
  }
  if (seen.has(c.name)) throw new InvalidSuiteError(`${where}: duplicate case name`)
  seen.add(c.name)
  if (c.kind !== 'throughput' && c.kind !== 'measure') {
    throw new InvalidSuiteError(`${where}: kind must be 'throughput', 'measure' or 'comparison'`)
  }
  if (typeof c.fn !== 'function') throw new InvalidSuiteError(`${where}: fn must be a function`)
  checkPositive(where, 'rounds', c.rounds, true)
  if (c.kind === 'throughput') {
    checkPositive(where, 'opsPerCall', c.opsPerCall, false)
    checkPositive(where, 'budgetMs', c.budgetMs, false)
    checkNonNegative(where, 'warmupMs', c.warmupMs)
  } else {
    checkNonNegative(where, 'warmupRounds', c.warmupRounds)
  }
  if (c.targets !== undefined) {
    if (!Array.isArray(c.targets)) throw new InvalidSuiteError(`${where}: targets must be a list`)
    for (const t of c.targets) validateTarget(where, t, c.name, comparison)
  }
}

function validateTarget(
  where: string,
  t: Target,
  caseName: string,
  comparison: Comparison | undefined,
): void {
  if (typeof t !== 'object' || t === null || typeof t.metric !== 'string' || t.metric === '') {
    throw new InvalidSuiteError(`${where}: every target needs a metric name`)
  }
  const at = `${where}, target on ${t.metric}`
  if (t.of !== undefined && t.of !== 'value' && t.of !== 'ratio') {
    throw new InvalidSuiteError(`${at}: of must be 'value' or 'ratio'`)
  }
  if (t.atLeast === undefined && t.atMost === undefined) {
    throw new InvalidSuiteError(`${at}: needs atLeast or atMost`)
  }
  if (t.judged !== undefined && t.judged !== 'median' && t.judged !== 'every round') {
    throw new InvalidSuiteError(`${at}: judged must be 'median' or 'every round'`)
  }
  for (const [field, value] of [
    ['atLeast', t.atLeast],
    ['atMost', t.atMost],
  ] as const) {
    if (value !== undefined && !Number.isFinite(value)) {
      throw new InvalidSuiteError(`${at}: ${field} must be a finite number`)
    }
  }
  if (t.atLeast !== undefined && t.atMost !== undefined && t.atLeast > t.atMost) {
    throw new InvalidSuiteError(`${at}: atLeast is above atMost, so it can never be met`)
  }
  if (t.of === 'ratio') {
    if (comparison === undefined) {
      throw new InvalidSuiteError(`${at}: a ratio target needs the case to be in a comparison`)
    }
    if (comparison.baseline === caseName) {
      throw new InvalidSuiteError(`${at}: the baseline's ratio to itself is always 1`)
    }
    if (comparison.metrics !== undefined && !comparison.metrics.includes(t.metric)) {
      throw new InvalidSuiteError(`${at}: comparison ${comparison.name} gives no ratio for ${t.metric}`)
    }
  }
}

export function checkPositive(
  where: string,
  field: string,
  value: number | undefined,
  integer: boolean,
): void {
  if (value === undefined) return
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new InvalidSuiteError(`${where}: ${field} must be a positive ${integer ? 'integer' : 'number'}`)
  }
}

function checkNonNegative(where: string, field: string, value: number | undefined): void {
  if (value === undefined) return
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidSuiteError(`${where}: ${field} must be a non-negative number`)
  }
}
