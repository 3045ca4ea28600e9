import { performance } from 'node:perf_hooks'
import {
  BATCH_FRACTION_OF_BUDGET,
  DEFAULT_BUDGET_MS,
  DEFAULT_ROUNDS,
  DEFAULT_WARMUP_MS,
  DEFAULT_WARMUP_ROUNDS,
  QUICK_BUDGET_MS,
  QUICK_MAX_ROUNDS,
  QUICK_WARMUP_MS,
  QUICK_WARMUP_ROUNDS,
} from './constants.js'
import { checkPositive, defineSuite, validateCases } from './define.js'
import { InvalidMeasurementError } from './errors.js'
import { summarize } from './stats.js'
import type {
  BenchCase,
  CaseResult,
  MeasureCase,
  Measurements,
  RunOptions,
  Suite,
  SuiteResult,
  ThroughputCase,
} from './types.js'

export { defineSuite, measure, throughput } from './define.js'
export type * from './types.js'

/** Runs every case of a suite (or those matching `filter`) and returns their results. */
export async function runSuite<State>(suite: Suite<State>, options: RunOptions = {}): Promise<SuiteResult> {
  defineSuite(suite)
  if (options.rounds !== undefined) checkPositive('--rounds', 'rounds', options.rounds, true)
  const quick = options.quick ?? false
  const signal = options.signal ?? new AbortController().signal
  const startedAt = new Date()
  const t0 = performance.now()
  const result: SuiteResult = {
    name: suite.name,
    description: suite.description,
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    cases: [],
  }
  let state: State | undefined
  let setUp = false
  try {
    state = suite.setup === undefined ? undefined : await suite.setup({ quick })
    setUp = true
    const cases = typeof suite.cases === 'function' ? await suite.cases(state as State) : suite.cases
    validateCases(suite.name, cases)
    const needle = options.filter?.toLowerCase()
    for (const c of cases) {
      if (needle !== undefined && !c.name.toLowerCase().includes(needle)) continue
      signal.throwIfAborted()
      const caseResult = await runCase(c, { ...options, quick, signal })
      result.cases.push(caseResult)
      options.onCase?.(caseResult)
    }
  } catch (err) {
    result.error = describeError(err)
  } finally {
    if (setUp && suite.teardown !== undefined) {
      try {
        await suite.teardown(state as State)
      } catch (err) {
        result.error ??= describeError(err)
      }
    }
  }
  result.durationMs = performance.now() - t0
  return result
}

type ResolvedOptions = RunOptions & { quick: boolean; signal: AbortSignal }

async function runCase(c: BenchCase, options: ResolvedOptions): Promise<CaseResult> {
  const ownRounds = c.rounds ?? DEFAULT_ROUNDS
  const rounds = options.rounds ?? (options.quick ? Math.min(ownRounds, QUICK_MAX_ROUNDS) : ownRounds)
  const result: CaseResult = { name: c.name, kind: c.kind, rounds: 0, metrics: [] }
  if (c.description !== undefined)
    result.description = c.description
    // Free what the previous case left behind so it does not bill its collection to this one.
  ;(globalThis as { gc?: () => void }).gc?.()
  let setUp = false
  try {
    await c.setup?.()
    setUp = true
    if (c.kind === 'throughput') await runThroughput(c, rounds, options, result)
    else await runMeasure(c, rounds, options, result)
  } catch (err) {
    result.error = describeError(err)
  } finally {
    if (setUp && c.teardown !== undefined) {
      try {
        await c.teardown()
      } catch (err) {
        result.error ??= describeError(err)
      }
    }
  }
  return result
}

async function runThroughput(
  c: ThroughputCase,
  rounds: number,
  options: ResolvedOptions,
  result: CaseResult,
): Promise<void> {
  const budgetMs = options.quick
    ? Math.min(c.budgetMs ?? QUICK_BUDGET_MS, QUICK_BUDGET_MS)
    : (c.budgetMs ?? DEFAULT_BUDGET_MS)
  const warmupMs = options.quick
    ? Math.min(c.warmupMs ?? QUICK_WARMUP_MS, QUICK_WARMUP_MS)
    : (c.warmupMs ?? DEFAULT_WARMUP_MS)
  const opsPerCall = c.opsPerCall ?? 1
  result.budgetMs = budgetMs
  result.opsPerCall = opsPerCall
  const maxBatchMs = budgetMs * BATCH_FRACTION_OF_BUDGET
  // The warm-up also finds the batch size, so measured rounds start at full speed.
  const warm = await timedLoop(c.fn, Math.max(warmupMs, 1), maxBatchMs, 1, options.signal)
  let batch = warm.batch
  const samples: number[] = []
  const cpuSamples: number[] = []
  let calls = 0
  for (let i = 0; i < rounds; i++) {
    options.signal.throwIfAborted()
    const round = await timedLoop(c.fn, budgetMs, maxBatchMs, batch, options.signal)
    batch = round.batch
    calls += round.calls
    const ops = round.calls * opsPerCall
    samples.push(ops / (round.elapsedMs / 1000))
    if (round.cpuMs > 0) cpuSamples.push(ops / (round.cpuMs / 1000))
    result.rounds++
  }
  result.calls = calls
  result.metrics.push({ name: 'opsPerSec', unit: 'ops/s', samples, summary: summarize(samples) })
  if (cpuSamples.length === samples.length) {
    result.metrics.push({
      name: 'opsPerCpuSec',
      unit: 'ops/cpu-s',
      samples: cpuSamples,
      summary: summarize(cpuSamples),
    })
  }
}

interface LoopResult {
  calls: number
  elapsedMs: number
  /** CPU time (user + system, all threads of the process) spent during the loop. */
  cpuMs: number
  batch: number
  /** The last call's result, returned so the optimiser cannot prove the results unused. */
  last: unknown
}

/**
 * Calls `fn` in batches until `budgetMs` has elapsed, measuring wall and CPU time. On a shared
 * machine the wall clock also counts time the OS gave to other processes; CPU time does not, so
 * ops per CPU-second stays close to the uncontended figure for single-threaded work.
 *
 * Batches double while one takes less than `maxBatchMs`, so the clock is read rarely for fast
 * functions and often enough for slow ones.
 */
async function timedLoop(
  fn: () => unknown,
  budgetMs: number,
  maxBatchMs: number,
  startBatch: number,
  signal: AbortSignal,
): Promise<LoopResult> {
  let batch = startBatch
  let calls = 0
  const cpuStart = process.cpuUsage()
  const start = performance.now()
  let elapsed = 0
  let last: unknown
  do {
    const batchStart = performance.now()
    for (let i = 0; i < batch; i++) {
      const r = fn()
      // Awaiting only promises keeps sync functions in a tight loop.
      last = isThenable(r) ? await r : r
    }
    calls += batch
    const now = performance.now()
    elapsed = now - start
    if (now - batchStart < maxBatchMs / 2) batch *= 2
    signal.throwIfAborted()
  } while (elapsed < budgetMs)
  const cpu = process.cpuUsage(cpuStart)
  return { calls, elapsedMs: elapsed, cpuMs: (cpu.user + cpu.system) / 1000, batch, last }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function')
  )
}

async function runMeasure(
  c: MeasureCase,
  rounds: number,
  options: ResolvedOptions,
  result: CaseResult,
): Promise<void> {
  const warmupRounds = options.quick
    ? Math.min(c.warmupRounds ?? QUICK_WARMUP_ROUNDS, QUICK_WARMUP_ROUNDS)
    : (c.warmupRounds ?? DEFAULT_WARMUP_ROUNDS)
  for (let i = warmupRounds; i > 0; i--) {
    options.signal.throwIfAborted()
    checkMeasurements(
      c,
      await c.fn({ round: -i, warmup: true, quick: options.quick, signal: options.signal }),
    )
  }
  const byName = new Map<string, number[]>()
  for (let round = 0; round < rounds; round++) {
    options.signal.throwIfAborted()
    const values = checkMeasurements(
      c,
      await c.fn({ round, warmup: false, quick: options.quick, signal: options.signal }),
    )
    for (const [name, value] of Object.entries(values)) {
      const list = byName.get(name)
      if (list === undefined) byName.set(name, [value])
      else list.push(value)
    }
    result.rounds++
  }
  for (const [name, samples] of byName) {
    result.metrics.push({
      name,
      unit: c.units?.[name] ?? inferUnit(name),
      samples,
      summary: summarize(samples),
    })
  }
}

function checkMeasurements(c: MeasureCase, values: unknown): Measurements {
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new InvalidMeasurementError(`case ${c.name}: fn must return an object of named numbers`)
  }
  const entries = Object.entries(values)
  if (entries.length === 0) throw new InvalidMeasurementError(`case ${c.name}: fn returned no measurements`)
  for (const [name, value] of entries) {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new InvalidMeasurementError(
        `case ${c.name}: measurement ${name} is ${String(value)}, not a finite number`,
      )
    }
  }
  return values as Measurements
}

const UNIT_SUFFIXES: ReadonlyArray<readonly [string, string]> = [
  ['PerSec', '/s'],
  ['Ms', 'ms'],
  ['Us', 'µs'],
  ['Ns', 'ns'],
  ['Mb', 'MB'],
  ['MB', 'MB'],
  ['Kb', 'KB'],
  ['KB', 'KB'],
  ['Bytes', 'B'],
  ['Pct', '%'],
]

/** Unit implied by a metric's name suffix (`latencyP50Ms` → `ms`), or `''`. */
export function inferUnit(metric: string): string {
  for (const [suffix, unit] of UNIT_SUFFIXES) if (metric.endsWith(suffix)) return unit
  return ''
}

function describeError(err: unknown): { name: string; code?: string; message: string } {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string'
      ? { name: err.name, code, message: err.message }
      : { name: err.name, message: err.message }
  }
  return { name: 'Error', message: String(err) }
}
