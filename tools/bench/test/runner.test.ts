import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { InvalidSuiteError } from '../src/errors.js'
import { type BenchReport, main } from '../src/main.js'
import { defineSuite, inferUnit, measure, runSuite, throughput } from '../src/runner.js'
import { median, summarize } from '../src/stats.js'

describe('statistics', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([5, 1, 3])).toBe(3)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([7])).toBe(7)
    expect(() => median([])).toThrow(RangeError)
  })

  it('summarises known samples: median, extremes, stddev and a robust relative spread', () => {
    const s = summarize([1, 2, 3, 4, 100])
    expect(s).toMatchObject({ n: 5, median: 3, mean: 22, min: 1, max: 100, mad: 1 })
    expect(s.madRel).toBeCloseTo(1 / 3, 12)
    // sum of squared deviations from 22 = 441+400+361+324+6084 = 7610; / (n - 1) = 1902.5
    expect(s.stddev).toBeCloseTo(Math.sqrt(1902.5), 12)
  })

  it('reports no spread for one sample or identical samples, and zero-median spread as 0', () => {
    expect(summarize([42])).toMatchObject({ n: 1, median: 42, stddev: 0, mad: 0, madRel: 0 })
    expect(summarize([0, 0, 0])).toMatchObject({ median: 0, madRel: 0 })
  })

  it('refuses empty and non-finite samples', () => {
    expect(() => summarize([])).toThrow(RangeError)
    expect(() => summarize([1, Number.NaN])).toThrow(/non-finite/)
  })

  it('infers units from metric name suffixes', () => {
    expect(inferUnit('latencyP50Ms')).toBe('ms')
    expect(inferUnit('rssMb')).toBe('MB')
    expect(inferUnit('messagesPerSec')).toBe('/s')
    expect(inferUnit('writeMsP99')).toBe('ms')
    expect(inferUnit('statusUsMax')).toBe('µs')
    expect(inferUnit('peers')).toBe('')
    expect(inferUnit('tasksP99')).toBe('')
  })
})

describe('defineSuite', () => {
  const ok = { kind: 'throughput', name: 'a', fn: () => 0 } as const

  it('accepts a valid suite and returns it unchanged', () => {
    const suite = { name: 'x-1', description: 'd', cases: [ok] }
    expect(defineSuite(suite)).toBe(suite)
  })

  it.each([
    ['a bad name', { name: 'Bad Name', description: 'd', cases: [ok] }],
    ['no cases', { name: 'x', description: 'd', cases: [] }],
    ['duplicate case names', { name: 'x', description: 'd', cases: [ok, ok] }],
    ['a zero round count', { name: 'x', description: 'd', cases: [{ ...ok, rounds: 0 }] }],
    ['a fractional round count', { name: 'x', description: 'd', cases: [{ ...ok, rounds: 1.5 }] }],
    ['a negative budget', { name: 'x', description: 'd', cases: [{ ...ok, budgetMs: -1 }] }],
    ['an unknown kind', { name: 'x', description: 'd', cases: [{ ...ok, kind: 'other' }] }],
  ])('rejects %s with ERR_INVALID_SUITE', (_label, suite) => {
    expect(() => defineSuite(suite as never)).toThrow(InvalidSuiteError)
    try {
      defineSuite(suite as never)
    } catch (e) {
      expect((e as InvalidSuiteError).code).toBe('ERR_INVALID_SUITE')
    }
  })
})

describe('runSuite', () => {
  it('runs a throughput case for the requested rounds and counts every call', async () => {
    let calls = 0
    const result = await runSuite(
      defineSuite({
        name: 't',
        description: 'd',
        cases: [throughput('count', () => calls++, { budgetMs: 20, warmupMs: 5, opsPerCall: 10 })],
      }),
      { rounds: 3 },
    )
    const c = result.cases[0]!
    expect(c.error).toBeUndefined()
    expect(c.rounds).toBe(3)
    expect(c.opsPerCall).toBe(10)
    const metric = c.metrics[0]!
    expect(metric).toMatchObject({ name: 'opsPerSec', unit: 'ops/s' })
    expect(metric.samples).toHaveLength(3)
    // Warm-up calls are not counted in the measured total.
    expect(c.calls).toBeGreaterThan(0)
    expect(c.calls).toBeLessThan(calls)
    // Each round ran for at least its budget, so ops/s ≤ calls * opsPerCall / 0.02 s.
    for (const x of metric.samples) expect(x).toBeLessThanOrEqual((c.calls! * 10) / 0.02)
    expect(metric.summary.median).toBeGreaterThan(0)
    // The same rounds per CPU-second, which contention from other processes does not lower.
    const cpu = c.metrics[1]!
    expect(cpu).toMatchObject({ name: 'opsPerCpuSec', unit: 'ops/cpu-s' })
    expect(cpu.samples).toHaveLength(3)
    for (const x of cpu.samples) expect(x).toBeGreaterThan(0)
  })

  it('awaits async throughput functions one at a time', async () => {
    let inFlight = 0
    let maxInFlight = 0
    const result = await runSuite(
      defineSuite({
        name: 't',
        description: 'd',
        cases: [
          throughput(
            'async',
            async () => {
              maxInFlight = Math.max(maxInFlight, ++inFlight)
              await new Promise((r) => setImmediate(r))
              inFlight--
            },
            { budgetMs: 10, warmupMs: 2 },
          ),
        ],
      }),
      { rounds: 2 },
    )
    expect(result.cases[0]!.metrics[0]!.samples).toHaveLength(2)
    expect(maxInFlight).toBe(1)
  })

  it('summarises measurement cases per metric, excluding warm-up rounds', async () => {
    const seen: Array<[number, boolean]> = []
    const result = await runSuite(
      defineSuite({
        name: 'm',
        description: 'd',
        cases: [
          measure(
            'latency',
            ({ round, warmup }) => {
              seen.push([round, warmup])
              return { latencyP50Ms: warmup ? 1000 : round + 1, peers: 4 }
            },
            { warmupRounds: 2, rounds: 3, units: { peers: 'peers' } },
          ),
        ],
      }),
    )
    expect(seen).toEqual([
      [-2, true],
      [-1, true],
      [0, false],
      [1, false],
      [2, false],
    ])
    const [latency, peers] = result.cases[0]!.metrics
    expect(latency).toMatchObject({ name: 'latencyP50Ms', unit: 'ms', samples: [1, 2, 3] })
    expect(latency!.summary.median).toBe(2)
    expect(peers).toMatchObject({ name: 'peers', unit: 'peers', samples: [4, 4, 4] })
  })

  it('caps rounds and warm-up under quick', async () => {
    let runs = 0
    const result = await runSuite(
      defineSuite({
        name: 'q',
        description: 'd',
        cases: [measure('m', () => ({ x: ++runs }), { rounds: 10 })],
      }),
      { quick: true },
    )
    expect(result.cases[0]!.rounds).toBe(2)
    expect(runs).toBe(2)
  })

  it('records a failing case with its code, runs the rest, and tears everything down', async () => {
    const events: string[] = []
    const result = await runSuite(
      defineSuite({
        name: 'e',
        description: 'd',
        setup: () => {
          events.push('suite setup')
          return { base: 5 }
        },
        teardown: (state) => {
          events.push(`suite teardown ${state.base}`)
        },
        cases: (state) => [
          measure(
            'throws',
            () => {
              throw Object.assign(new Error('boom'), { code: 'ERR_BOOM' })
            },
            { teardown: () => void events.push('case teardown') },
          ),
          measure('nan', () => ({ x: Number.NaN })),
          measure('fine', () => ({ x: state.base }), { rounds: 1 }),
        ],
      }),
    )
    expect(result.error).toBeUndefined()
    expect(result.cases.map((c) => c.error?.code)).toEqual(['ERR_BOOM', 'ERR_INVALID_MEASUREMENT', undefined])
    expect(result.cases[2]!.metrics[0]!.samples).toEqual([5])
    expect(events).toEqual(['suite setup', 'case teardown', 'suite teardown 5'])
  })

  it('runs only the cases matching the filter', async () => {
    const result = await runSuite(
      defineSuite({
        name: 'f',
        description: 'd',
        cases: [measure('sign (node)', () => ({ x: 1 })), measure('verify (node)', () => ({ x: 1 }))],
      }),
      { filter: 'SIGN', rounds: 1 },
    )
    expect(result.cases.map((c) => c.name)).toEqual(['sign (node)'])
  })

  it('stops when aborted and reports why', async () => {
    const controller = new AbortController()
    const result = await runSuite(
      defineSuite({
        name: 'a',
        description: 'd',
        cases: [
          throughput('spin', () => controller.abort(new Error('stop')), {
            budgetMs: 10_000,
            warmupMs: 10_000,
          }),
        ],
      }),
      { signal: controller.signal },
    )
    expect(result.cases[0]!.error?.message).toBe('stop')
  })
})

describe('the bench CLI', () => {
  let dir: string
  let out: string[]
  let err: string[]
  const io = () => ({
    suitesDir: join(dir, 'suites'),
    resultsDir: join(dir, 'results'),
    stdout: (t: string) => void out.push(t),
    stderr: (t: string) => void err.push(t),
  })

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-test-'))
    out = []
    err = []
    await mkdir(join(dir, 'suites'))
    // Compiled suites are plain ES modules; the CLI finds them by listing the directory.
    await writeFile(
      join(dir, 'suites', 'tiny.js'),
      `export default {
        name: 'tiny',
        description: 'a tiny suite',
        cases: [
          { kind: 'throughput', name: 'add', fn: () => 1 + 1, budgetMs: 10, warmupMs: 2 },
          { kind: 'measure', name: 'mem', fn: () => ({ heapMb: process.memoryUsage().heapUsed / 2 ** 20 }) },
        ],
      }\n`,
    )
    await writeFile(
      join(dir, 'suites', 'misnamed.js'),
      `export default { name: 'other', description: 'd', cases: [{ kind: 'measure', name: 'm', fn: () => ({ x: 1 }) }] }\n`,
    )
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('runs a named suite and writes valid JSON with the machine and every metric', async () => {
    const file = join(dir, 'out.json')
    expect(await main(['tiny', '--rounds', '2', '--json', file], io())).toBe(0)
    const report = JSON.parse(await readFile(file, 'utf8')) as BenchReport
    expect(report.schemaVersion).toBe(1)
    expect(report.options).toEqual({ quick: false, rounds: 2 })
    expect(report.machine.nodeVersion).toBe(process.version)
    expect(report.machine.cores).toBeGreaterThan(0)
    expect(typeof report.machine.cpuModel).toBe('string')
    expect(report.suites).toHaveLength(1)
    const [add, mem] = report.suites[0]!.cases
    expect(add!.metrics[0]!.samples).toHaveLength(2)
    expect(add!.metrics[0]!.summary.median).toBeGreaterThan(0)
    expect(mem!.metrics[0]).toMatchObject({ name: 'heapMb', unit: 'MB' })
    expect(out.join('\n')).toMatch(/tiny — a tiny suite[\s\S]*add\s+opsPerSec/)
  })

  it('prints Markdown tables on request', async () => {
    expect(await main(['tiny', '--quick', '--markdown', '--json', join(dir, 'o.json')], io())).toBe(0)
    const text = out.join('\n')
    expect(text).toContain('### tiny')
    expect(text).toContain('| case | metric | median | min – max | ±MAD | rounds |')
    expect(text).toMatch(/\| add \| opsPerSec \| [\d,.]+ ops\/s \| [\d,.]+ – [\d,.]+ \| \d+\.\d% \| 2 \|/)
  })

  it('writes one timestamped file per suite into the results directory by default', async () => {
    expect(await main(['tiny', '--quick'], io())).toBe(0)
    const files = await readdir(join(dir, 'results'))
    expect(files).toHaveLength(1)
    expect(files[0]).toMatch(/^tiny-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/)
    const report = JSON.parse(await readFile(join(dir, 'results', files[0]!), 'utf8')) as BenchReport
    expect(report.options.quick).toBe(true)
    expect(report.suites[0]!.cases[0]!.rounds).toBe(2)
  })

  it('rejects an unknown suite, listing the available ones, with exit code 2', async () => {
    expect(await main(['nope'], io())).toBe(2)
    expect(err.join('\n')).toMatch(/unknown suite nope; available: misnamed, tiny/)
  })

  it('rejects bad options with exit code 2', async () => {
    expect(await main(['--rounds', 'zero'], io())).toBe(2)
    expect(await main(['--frobnicate'], io())).toBe(2)
  })

  it('fails a suite whose name differs from its file name', async () => {
    expect(await main(['misnamed', '--quick', '--json', join(dir, 'o.json')], io())).toBe(1)
    expect(err.join('\n')).toMatch(/must equal the file name \(misnamed\)/)
  })
})
