import { InvalidSuiteError } from './errors.js'
import type { BenchCase, MeasureCase, Suite, ThroughputCase } from './types.js'

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
  if (Array.isArray(suite.cases)) validateCases(suite.name, suite.cases)
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

export function validateCases(suiteName: string, cases: readonly BenchCase[]): void {
  if (!Array.isArray(cases) || cases.length === 0) {
    throw new InvalidSuiteError(`suite ${suiteName}: needs at least one case`)
  }
  const seen = new Set<string>()
  for (const c of cases) {
    const where = `suite ${suiteName}, case ${JSON.stringify(c?.name)}`
    if (typeof c !== 'object' || c === null || typeof c.name !== 'string' || c.name === '') {
      throw new InvalidSuiteError(`suite ${suiteName}: every case needs a non-empty name`)
    }
    if (seen.has(c.name)) throw new InvalidSuiteError(`${where}: duplicate case name`)
    seen.add(c.name)
    if (c.kind !== 'throughput' && c.kind !== 'measure') {
      throw new InvalidSuiteError(`${where}: kind must be 'throughput' or 'measure'`)
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
