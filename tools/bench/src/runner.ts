import { performance } from 'node:perf_hooks'
import { ratiosToBaseline, roundOrder } from './comparison.js'
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
import { checkPositive, defineSuite, validateEntries } from './define.js'
import { InvalidMeasurementError } from './errors.js'
import { summarize } from './stats.js'
import { judgeTargets } from './targets.js'
import type {
  BenchCase,
  CaseResult,
  Comparison,
  ComparisonResult,
  ErrorInfo,
  MeasureCase,
  Measurements,
  RunOptions,
  Suite,
  SuiteResult,
  ThroughputCase,
} from './types.js'

export { compare, defineSuite, measure, throughput } from './define.js'
export type * from './types.js'

/** Runs every case of a suite (or those matching `filter`) and returns their results. */
export async function runSuite<State>(suite: Suite<State>, options: RunOptions = {}): Promise<SuiteResult> {
  defineSuite(suite)
  if (options.rounds !== undefined) checkPositive('--rounds', 'rounds', options.rounds, true)
  const quick = options.quick ?? false
  const signal = options.signal ?? new AbortController().signal
  const resolved: ResolvedOptions = { ...options, quick, signal }
  const startedAt = new Date()
  const t0 = performance.now()
  const result: SuiteResult = {
    name: suite.name,
    description: suite.description,
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    cases: [],
    comparisons: [],
    targets: [],
  }
  let state: State | undefined
  let setUp = false
  try {
    state = suite.setup === undefined ? undefined : await suite.setup({ quick })
    setUp = true
    const entries = typeof suite.cases === 'function' ? await suite.cases(state as State) : suite.cases
    validateEntries(suite.name, entries)
    const needle = options.filter?.toLowerCase()
    const matches = (name: string): boolean => needle === undefined || name.toLowerCase().includes(needle)
    for (const entry of entries) {
      if (entry.kind === 'comparison') {
        if (!matches(entry.name) && !entry.cases.some((c) => matches(c.name))) continue
        signal.throwIfAborted()
        const ran = await runComparison(entry, resolved)
        result.comparisons.push(ran.comparison)
        for (const [i, caseResult] of ran.cases.entries()) {
          result.cases.push(caseResult)
          result.targets.push(...judgeTargets(entry.cases[i]!.targets ?? [], caseResult, ran.comparison))
          options.onCase?.(caseResult)
        }
      } else {
        if (!matches(entry.name)) continue
        signal.throwIfAborted()
        const caseResult = await runCase(entry, resolved)
        result.cases.push(caseResult)
        result.targets.push(...judgeTargets(entry.targets ?? [], caseResult))
        options.onCase?.(caseResult)
      }
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

/**
 * A case being run, split into the phases a comparison interleaves: warm-up, then one measured
 * round at a time. The case's own setup and teardown stay with the caller.
 */
interface CaseRun {
  readonly result: CaseResult
  /** Untimed warm-up before the first measured round. */
  warmup(): Promise<void>
  /** Measured round `index` (0-based); its values join the case's samples. */
  round(index: number): Promise<void>
  /** Summarises the samples into the result's metrics, once every round has run. */
  finish(): void
}

/** Measured rounds for a case or comparison whose own count is `own`. */
function roundsFor(own: number | undefined, options: ResolvedOptions): number {
  const rounds = own ?? DEFAULT_ROUNDS
  return options.rounds ?? (options.quick ? Math.min(rounds, QUICK_MAX_ROUNDS) : rounds)
}

/** Frees what the previous case or round left behind, so it does not bill its collection to the next. */
function collectGarbage(): void {
  ;(globalThis as { gc?: () => void }).gc?.()
}

async function runCase(c: BenchCase, options: ResolvedOptions): Promise<CaseResult> {
  const rounds = roundsFor(c.rounds, options)
  const run = startCase(c, options)
  collectGarbage()
  let setUp = false
  try {
    await c.setup?.()
    setUp = true
    await run.warmup()
    for (let i = 0; i < rounds; i++) {
      options.signal.throwIfAborted()
      await run.round(i)
    }
    run.finish()
  } catch (err) {
    run.result.error = describeError(err)
  } finally {
    if (setUp && c.teardown !== undefined) {
      try {
        await c.teardown()
      } catch (err) {
        run.result.error ??= describeError(err)
      }
    }
  }
  return run.result
}

/**
 * Runs a comparison's cases interleaved: every setup, every warm-up, then measured round 1 of
 * every case, round 2 of every case... (the order rotated each round unless `rotate: false`). A
 * case that throws is recorded and left out of the later rounds; the others go on.
 */
async function runComparison(
  cmp: Comparison,
  options: ResolvedOptions,
): Promise<{ cases: CaseResult[]; comparison: ComparisonResult }> {
  const rounds = roundsFor(
    cmp.rounds ?? Math.max(...cmp.cases.map((c) => c.rounds ?? DEFAULT_ROUNDS)),
    options,
  )
  const rotate = cmp.rotate ?? true
  const runs = cmp.cases.map((c) => {
    const run = startCase(c, options)
    run.result.comparison = cmp.name
    return { c, run, setUp: false, live: true }
  })
  type Run = (typeof runs)[number]
  const fail = (r: Run, err: unknown): void => {
    r.run.result.error ??= describeError(err)
    r.live = false
  }
  /** One phase of one case, unless it already failed; a throw (or an abort) ends that case. */
  const step = async (r: Run, phase: () => Promise<void>): Promise<void> => {
    if (!r.live) return
    try {
      options.signal.throwIfAborted()
      await phase()
    } catch (err) {
      fail(r, err)
    }
  }
  const order: string[][] = []
  collectGarbage()
  try {
    for (const r of runs) {
      await step(r, async () => {
        await r.c.setup?.()
        r.setUp = true
      })
    }
    for (const r of runs) {
      await step(r, async () => {
        collectGarbage()
        await r.run.warmup()
      })
    }
    for (let i = 0; i < rounds && runs.some((r) => r.live); i++) {
      const live = roundOrder(runs, i, rotate).filter((r) => r.live)
      order.push(live.map((r) => r.c.name))
      for (const r of live) {
        await step(r, async () => {
          collectGarbage()
          await r.run.round(i)
        })
      }
    }
    for (const r of runs) {
      if (!r.live) continue
      try {
        r.run.finish()
      } catch (err) {
        fail(r, err)
      }
    }
  } finally {
    for (const r of [...runs].reverse()) {
      if (!r.setUp || r.c.teardown === undefined) continue
      try {
        await r.c.teardown()
      } catch (err) {
        r.run.result.error ??= describeError(err)
      }
    }
  }
  const results = runs.map((r) => r.run.result)
  const baseline = results.find((c) => c.name === cmp.baseline)!
  const comparison: ComparisonResult = {
    name: cmp.name,
    baseline: cmp.baseline,
    rounds,
    rotate,
    order,
    ratios: ratiosToBaseline(baseline, results, rounds, cmp.metrics),
  }
  if (cmp.description !== undefined) comparison.description = cmp.description
  return { cases: results, comparison }
}

function startCase(c: BenchCase, options: ResolvedOptions): CaseRun {
  const result: CaseResult = { name: c.name, kind: c.kind, rounds: 0, metrics: [] }
  if (c.description !== undefined) result.description = c.description
  return c.kind === 'throughput' ? throughputRun(c, options, result) : measureRun(c, options, result)
}

function throughputRun(c: ThroughputCase, options: ResolvedOptions, result: CaseResult): CaseRun {
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
  let batch = 1
  let calls = 0
  const samples: number[] = []
  const cpuSamples: number[] = []
  return {
    result,
    warmup: async () => {
      // The warm-up also finds the batch size, so measured rounds start at full speed.
      batch = (await timedLoop(c.fn, Math.max(warmupMs, 1), maxBatchMs, batch, options.signal)).batch
    },
    round: async () => {
      const round = await timedLoop(c.fn, budgetMs, maxBatchMs, batch, options.signal)
      batch = round.batch
      calls += round.calls
      const ops = round.calls * opsPerCall
      samples.push(ops / (round.elapsedMs / 1000))
      if (round.cpuMs > 0) cpuSamples.push(ops / (round.cpuMs / 1000))
      result.rounds++
    },
    finish: () => {
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
    },
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

function measureRun(c: MeasureCase, options: ResolvedOptions, result: CaseResult): CaseRun {
  const warmupRounds = options.quick
    ? Math.min(c.warmupRounds ?? QUICK_WARMUP_ROUNDS, QUICK_WARMUP_ROUNDS)
    : (c.warmupRounds ?? DEFAULT_WARMUP_ROUNDS)
  const byName = new Map<string, number[]>()
  return {
    result,
    warmup: async () => {
      for (let i = warmupRounds; i > 0; i--) {
        options.signal.throwIfAborted()
        checkMeasurements(
          c,
          await c.fn({ round: -i, warmup: true, quick: options.quick, signal: options.signal }),
        )
      }
    },
    round: async (round) => {
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
    },
    finish: () => {
      for (const [name, samples] of byName) {
        result.metrics.push({
          name,
          unit: c.units?.[name] ?? inferUnit(name),
          samples,
          summary: summarize(samples),
        })
      }
    },
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

/** A statistic named after the unit (`writeMsP99`, `lagMsMax`): the unit is the part before it. */
const STATISTIC_SUFFIX = /(?:P\d+|Max|Min|Mean|Median)$/

/** Unit implied by a metric's name suffix (`latencyP50Ms`, `latencyMsP50` → `ms`), or `''`. */
export function inferUnit(metric: string): string {
  for (const name of [metric, metric.replace(STATISTIC_SUFFIX, '')]) {
    for (const [suffix, unit] of UNIT_SUFFIXES) if (name.endsWith(suffix)) return unit
  }
  return ''
}

function describeError(err: unknown): ErrorInfo {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string'
      ? { name: err.name, code, message: err.message }
      : { name: err.name, message: err.message }
  }
  return { name: 'Error', message: String(err) }
}
