import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ratiosToBaseline, roundOrder } from '../src/comparison.js'
import { InvalidSuiteError } from '../src/errors.js'
import { describeTarget, formatSuite, formatSuiteMarkdown } from '../src/format.js'
import { type BenchReport, main } from '../src/main.js'
import {
  type CaseResult,
  compare,
  defineSuite,
  inferUnit,
  measure,
  runSuite,
  type SuiteResult,
  type Target,
  throughput,
} from '../src/runner.js'
import { summarize } from '../src/stats.js'
import { judgeTargets } from '../src/targets.js'

/** A measurement case that returns the next of `values` each measured round (warm-up: 999). */
function fixed(name: string, values: Record<string, number[]>, log?: string[], targets?: Target[]) {
  return measure(
    name,
    ({ round, warmup }) => {
      log?.push(`${warmup ? 'warm-up' : `round ${round}`} ${name}`)
      if (warmup) return Object.fromEntries(Object.keys(values).map((k) => [k, 999]))
      return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v[round]!]))
    },
    { warmupRounds: 1, ...(targets === undefined ? {} : { targets }) },
  )
}

function caseResult(name: string, metrics: Record<string, number[]>, rounds = 3): CaseResult {
  return {
    name,
    kind: 'measure',
    rounds,
    metrics: Object.entries(metrics).map(([metric, samples]) => ({
      name: metric,
      unit: inferUnit(metric),
      samples,
      summary: summarize(samples),
    })),
  }
}

describe('the order of interleaved rounds', () => {
  it('starts each round one case further down the list when rotating', () => {
    const cases = ['p2p-ai', 'echo', 'http']
    expect([0, 1, 2, 3].map((r) => roundOrder(cases, r, true))).toEqual([
      ['p2p-ai', 'echo', 'http'],
      ['echo', 'http', 'p2p-ai'],
      ['http', 'p2p-ai', 'echo'],
      ['p2p-ai', 'echo', 'http'],
    ])
  })

  it('keeps the declared order every round when not rotating', () => {
    expect(roundOrder(['a', 'b'], 1, false)).toEqual(['a', 'b'])
    expect(roundOrder([], 3, true)).toEqual([])
  })

  it('runs every setup, then every warm-up, then round by round across the cases, then tears down', async () => {
    const log: string[] = []
    const withHooks = (name: string) => ({
      ...fixed(name, { x: [1, 2, 3] }, log),
      setup: () => void log.push(`setup ${name}`),
      teardown: () => void log.push(`teardown ${name}`),
    })
    const result = await runSuite(
      defineSuite({
        name: 'order',
        description: 'd',
        cases: [
          fixed('before', { x: [1, 2, 3] }, log),
          compare('trio', [withHooks('a'), withHooks('b'), withHooks('c')], { baseline: 'b' }),
        ],
      }),
      { rounds: 3 },
    )
    expect(log).toEqual([
      'warm-up before',
      'round 0 before',
      'round 1 before',
      'round 2 before',
      'setup a',
      'setup b',
      'setup c',
      'warm-up a',
      'warm-up b',
      'warm-up c',
      'round 0 a',
      'round 0 b',
      'round 0 c',
      'round 1 b',
      'round 1 c',
      'round 1 a',
      'round 2 c',
      'round 2 a',
      'round 2 b',
      'teardown c',
      'teardown b',
      'teardown a',
    ])
    expect(result.comparisons[0]!.order).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c', 'a'],
      ['c', 'a', 'b'],
    ])
    expect(result.cases.map((c) => [c.name, c.comparison])).toEqual([
      ['before', undefined],
      ['a', 'trio'],
      ['b', 'trio'],
      ['c', 'trio'],
    ])
    // Each case's samples stay in round order, whatever order the rounds ran the cases in.
    expect(result.cases[1]!.metrics[0]!.samples).toEqual([1, 2, 3])
  })

  it('interleaves throughput cases too, warm-up (and batch sizing) first', async () => {
    const phases: string[] = []
    const note = (name: string) => () => {
      if (phases.at(-1) !== name) phases.push(name)
    }
    const result = await runSuite(
      defineSuite({
        name: 'tp',
        description: 'd',
        cases: [
          compare(
            'pair',
            [
              throughput('a', note('a'), { budgetMs: 5, warmupMs: 2 }),
              throughput('b', note('b'), { budgetMs: 5, warmupMs: 2 }),
            ],
            { baseline: 'a', rotate: false },
          ),
        ],
      }),
      { rounds: 2 },
    )
    expect(phases).toEqual(['a', 'b', 'a', 'b', 'a', 'b'])
    const ratios = result.comparisons[0]!.ratios
    expect(ratios.map((r) => [r.case, r.metric, r.samples.length])).toEqual([
      ['b', 'opsPerSec', 2],
      ['b', 'opsPerCpuSec', 2],
    ])
    for (const r of ratios) for (const x of r.samples) expect(x).toBeGreaterThan(0)
  })

  it('takes the rounds from the comparison, else the largest of its cases, capped by --quick', async () => {
    const run = (rounds: number | undefined, quick: boolean) =>
      runSuite(
        defineSuite({
          name: 'r',
          description: 'd',
          cases: [
            compare(
              'c',
              [measure('a', () => ({ x: 1 }), { rounds: 3 }), measure('b', () => ({ x: 1 }), { rounds: 4 })],
              { baseline: 'a', ...(rounds === undefined ? {} : { rounds }) },
            ),
          ],
        }),
        { quick },
      )
    expect((await run(undefined, false)).cases.map((c) => c.rounds)).toEqual([4, 4])
    expect((await run(6, false)).comparisons[0]!.rounds).toBe(6)
    expect((await run(6, true)).comparisons[0]!.rounds).toBe(2)
  })
})

describe('ratios to the baseline', () => {
  it('divides each round by the same round of the baseline and summarises the ratios', () => {
    const echo = caseResult('echo', { tasksPerSec: [10_000, 7_000, 8_000], p50Ms: [1, 2, 4] })
    const p2p = caseResult('p2p-ai', { tasksPerSec: [4_000, 3_500, 4_800], p50Ms: [3, 5, 10] })
    const [tasks, p50] = ratiosToBaseline(echo, [echo, p2p], 3)
    expect(tasks).toMatchObject({ case: 'p2p-ai', metric: 'tasksPerSec', unit: '/s' })
    expect(tasks!.samples).toEqual([0.4, 0.5, 0.6])
    // median 0.5; deviations 0.1, 0, 0.1 → MAD 0.1, 20 % of the median.
    expect(tasks!.summary).toMatchObject({ n: 3, median: 0.5, min: 0.4, max: 0.6 })
    expect(tasks!.summary.mad).toBeCloseTo(0.1, 12)
    expect(tasks!.summary.madRel).toBeCloseTo(0.2, 12)
    expect(p50!.samples).toEqual([3, 2.5, 2.5])
    expect(p50!.summary.median).toBe(2.5)
  })

  it('is the median of the ratios, not the ratio of the medians: drift between rounds cancels', () => {
    // The machine slows both by half in round 2: the ratio stays 0.5 in every round.
    const base = caseResult('echo', { tasksPerSec: [10_000, 5_000, 10_000] })
    const other = caseResult('p2p-ai', { tasksPerSec: [5_000, 2_500, 5_000] })
    expect(ratiosToBaseline(base, [other], 3)[0]!.summary).toMatchObject({
      median: 0.5,
      min: 0.5,
      max: 0.5,
      mad: 0,
    })
  })

  it('gives no ratio for a metric the baseline lacks or measured as 0, nor for a case that failed', () => {
    const base = caseResult('base', { a: [1, 2, 3], zero: [0, 1, 1] })
    const other = caseResult('other', { a: [2, 2, 2], zero: [1, 1, 1], own: [5, 5, 5] })
    const failed = { ...caseResult('failed', { a: [1, 1, 1] }), error: { name: 'Error', message: 'boom' } }
    const short = caseResult('short', { a: [1, 1] }, 2)
    expect(ratiosToBaseline(base, [other, failed, short], 3).map((r) => `${r.case}.${r.metric}`)).toEqual([
      'other.a',
    ])
    expect(ratiosToBaseline(base, [other], 3, ['zero'])).toEqual([])
    expect(ratiosToBaseline({ ...base, error: { name: 'E', message: 'x' } }, [other], 3)).toEqual([])
  })
})

describe('targets', () => {
  const p2p = caseResult('p2p-ai', { tasksPerSec: [4_000, 3_500, 4_800], cpuUs: [700, 500, 550] })
  const comparison = {
    name: 'c',
    baseline: 'echo',
    rounds: 3,
    rotate: true,
    order: [],
    ratios: ratiosToBaseline(caseResult('echo', { tasksPerSec: [10_000, 7_000, 8_000] }), [p2p], 3),
  }

  it('judges a ratio target on the median ratio, and counts the rounds that met it on their own', () => {
    const [t] = judgeTargets(
      [{ metric: 'tasksPerSec', of: 'ratio', atLeast: 0.5, source: 'issue 10' }],
      p2p,
      comparison,
    )
    expect(t).toMatchObject({
      case: 'p2p-ai',
      metric: 'tasksPerSec',
      of: 'ratio',
      atLeast: 0.5,
      baseline: 'echo',
      unit: '×',
      verdict: 'met',
      roundsMet: 2,
      source: 'issue 10',
    })
    expect(t!.summary).toMatchObject({ median: 0.5, min: 0.4, max: 0.6 })
    expect(describeTarget(t!)).toBe('tasksPerSec ≥ 0.5× echo')
    const [strict] = judgeTargets([{ metric: 'tasksPerSec', of: 'ratio', atLeast: 0.6 }], p2p, comparison)
    expect(strict).toMatchObject({ verdict: 'not met', roundsMet: 1 })
  })

  it('judges a value target on the case’s own median, at most, at least or within a range', () => {
    const results = judgeTargets(
      [
        { metric: 'cpuUs', atMost: 600 },
        { metric: 'cpuUs', atMost: 520 },
        { metric: 'tasksPerSec', atLeast: 4_000 },
        { metric: 'tasksPerSec', atLeast: 3_000, atMost: 3_900 },
      ],
      p2p,
    )
    expect(results.map((t) => [t.verdict, t.summary?.median, t.roundsMet])).toEqual([
      ['met', 550, 2],
      ['not met', 550, 1],
      ['met', 4_000, 2],
      ['not met', 4_000, 1],
    ])
    expect(results.map(describeTarget)).toEqual([
      'cpuUs ≤ 600 µs',
      'cpuUs ≤ 520 µs',
      'tasksPerSec ≥ 4,000 /s',
      '3,000 ≤ tasksPerSec ≤ 3,900 /s',
    ])
  })

  it('judges an every-round target on every round, not the median: one trial short of it fails it', () => {
    const trials = caseResult('cone–cone', { directPct: [100, 100, 0], exchangedPct: [100, 100, 100] })
    const [direct, exchanged, lenient] = judgeTargets(
      [
        { metric: 'directPct', atLeast: 100, judged: 'every round', source: 'issue 12' },
        { metric: 'exchangedPct', atLeast: 100, judged: 'every round' },
        { metric: 'directPct', atLeast: 100 },
      ],
      trials,
    )
    expect(direct).toMatchObject({ verdict: 'not met', judged: 'every round', roundsMet: 2 })
    expect(direct!.summary).toMatchObject({ median: 100, mean: 200 / 3 })
    expect(exchanged).toMatchObject({ verdict: 'met', roundsMet: 3 })
    expect(lenient).toMatchObject({ verdict: 'met', roundsMet: 2 })
    expect(lenient).not.toHaveProperty('judged')
    expect(describeTarget(direct!)).toBe('directPct ≥ 100 % in every round')
  })

  it('says why a target was not measured instead of judging it', () => {
    const failed = { ...p2p, error: { name: 'Error', message: 'server died' } }
    expect(judgeTargets([{ metric: 'cpuUs', atMost: 1 }], failed)[0]).toMatchObject({
      verdict: 'not measured',
      reason: 'the case failed: server died',
    })
    expect(judgeTargets([{ metric: 'rssMb', atMost: 80 }], p2p)[0]).toMatchObject({
      verdict: 'not measured',
      reason: 'the case reported no rssMb',
    })
    expect(judgeTargets([{ metric: 'cpuUs', of: 'ratio', atMost: 1 }], p2p, comparison)[0]).toMatchObject({
      verdict: 'not measured',
      unit: '×',
    })
  })
})

describe('a suite with comparisons', () => {
  const suite = () =>
    defineSuite({
      name: 'exchange-like',
      description: 'd',
      cases: [
        compare(
          '128 in flight',
          [
            fixed('p2p-ai', { tasksPerSec: [4_000, 3_000, 4_400], p50Ms: [30, 40, 35] }, undefined, [
              { metric: 'tasksPerSec', of: 'ratio', atLeast: 0.6, source: 'issue 10' },
              { metric: 'p50Ms', of: 'ratio', atMost: 3 },
            ]),
            fixed('echo', { tasksPerSec: [10_000, 6_000, 8_000], p50Ms: [15, 20, 14] }),
            fixed('http', { tasksPerSec: [16_000, 9_000, 12_000], p50Ms: [10, 12, 9] }),
          ],
          { baseline: 'echo', description: 'tasks vs echo' },
        ),
        fixed('idle', { rssMb: [120, 130, 127] }, undefined, [{ metric: 'rssMb', atMost: 80 }]),
      ],
    })

  it('reports each round’s ratios, their median and spread, and judges the targets on them', async () => {
    const result = await runSuite(suite(), { rounds: 3 })
    const [cmp] = result.comparisons
    expect(cmp).toMatchObject({ name: '128 in flight', baseline: 'echo', rounds: 3, rotate: true })
    const ratio = (c: string, m: string) => cmp!.ratios.find((r) => r.case === c && r.metric === m)!
    expect(ratio('p2p-ai', 'tasksPerSec').samples).toEqual([0.4, 0.5, 0.55])
    expect(ratio('p2p-ai', 'p50Ms').samples).toEqual([2, 2, 2.5])
    expect(ratio('http', 'tasksPerSec').samples).toEqual([1.6, 1.5, 1.5])
    expect(result.targets.map((t) => [t.case, describeTarget(t), t.verdict, t.summary?.median])).toEqual([
      ['p2p-ai', 'tasksPerSec ≥ 0.6× echo', 'not met', 0.5],
      ['p2p-ai', 'p50Ms ≤ 3× echo', 'met', 2],
      ['idle', 'rssMb ≤ 80 MB', 'not met', 127],
    ])
  })

  it('prints the ratios next to each case’s own median, and the verdicts', async () => {
    const result = await runSuite(suite(), { rounds: 3 })
    const text = formatSuite(result)
    expect(text).toContain('comparison 128 in flight: 3 rounds interleaved (order rotated each round)')
    expect(text).toMatch(/echo\s+tasksPerSec\s+8,000\s+\/s\s+6,000\s+10,000\s+\S+%\s+1×\s+baseline/)
    expect(text).toMatch(
      /p2p-ai\s+tasksPerSec\s+4,000\s+\/s\s+3,000\s+4,400\s+\S+%\s+0\.500×\s+0\.400×\s+0\.550×\s+\S+%\s+0\.400 0\.500 0\.550/,
    )
    expect(text).toMatch(
      /p2p-ai\s+tasksPerSec ≥ 0\.6× echo\s+0\.500×\s+0\.400×\s+0\.550×\s+\S+%\s+0\/3\s+NOT MET\s+issue 10/,
    )
    expect(text).toMatch(/idle\s+rssMb ≤ 80 MB\s+127 MB\s+120 MB\s+130 MB\s+\S+%\s+0\/3\s+NOT MET/)
    const md = formatSuiteMarkdown(result)
    expect(md).toContain('#### Comparison: 128 in flight')
    expect(md).toContain('| echo | tasksPerSec | 8,000 /s | 6,000 – 10,000 | 25.0% | 1× | | | baseline |')
    expect(md).toContain(
      '| p2p-ai | tasksPerSec | 4,000 /s | 3,000 – 4,400 | 10.0% | **0.500×** | 0.400× – 0.550× | 10.0% | 0.400 0.500 0.550 |',
    )
    expect(md).toContain('| p2p-ai | p50Ms ≤ 3× echo | 2.00× | 2.00× – 2.50× | 0.0% | 3/3 | ✔ met |')
    expect(md).toContain('| idle | rssMb ≤ 80 MB | 127 MB | 120 MB – 130 MB | 2.4% | 0/3 | ✘ not met |')
  })

  it('runs the whole comparison when the filter names one of its cases: a ratio needs its baseline', async () => {
    const result = await runSuite(suite(), { rounds: 1, filter: 'HTTP' })
    expect(result.cases.map((c) => c.name)).toEqual(['p2p-ai', 'echo', 'http'])
    expect((await runSuite(suite(), { rounds: 1, filter: 'idle' })).comparisons).toEqual([])
  })

  it('leaves a failing case out of the later rounds and judges its targets as not measured', async () => {
    const result = await runSuite(
      defineSuite({
        name: 'f',
        description: 'd',
        cases: [
          compare(
            'c',
            [
              measure('base', () => ({ x: 2 })),
              measure(
                'flaky',
                ({ round }) => {
                  if (round === 1) throw Object.assign(new Error('lost the server'), { code: 'ERR_GONE' })
                  return { x: 1 }
                },
                { targets: [{ metric: 'x', of: 'ratio', atLeast: 0.4 }] },
              ),
              measure('steady', () => ({ x: 3 })),
            ],
            { baseline: 'base', rotate: false },
          ),
        ],
      }),
      { rounds: 3 },
    )
    expect(result.comparisons[0]!.order).toEqual([
      ['base', 'flaky', 'steady'],
      ['base', 'flaky', 'steady'],
      ['base', 'steady'],
    ])
    expect(result.cases.map((c) => [c.name, c.rounds, c.error?.code])).toEqual([
      ['base', 3, undefined],
      ['flaky', 1, 'ERR_GONE'],
      ['steady', 3, undefined],
    ])
    expect(result.comparisons[0]!.ratios.map((r) => [r.case, r.summary.median])).toEqual([['steady', 1.5]])
    expect(result.targets[0]).toMatchObject({ case: 'flaky', verdict: 'not measured' })
  })

  it('stops every case of a comparison when the run is aborted', async () => {
    const controller = new AbortController()
    const result = await runSuite(
      defineSuite({
        name: 'a',
        description: 'd',
        cases: [
          compare(
            'c',
            [
              measure('a', () => ({ x: 1 })),
              measure('b', ({ round }) => {
                if (round === 0) controller.abort(new Error('stop'))
                return { x: 1 }
              }),
            ],
            { baseline: 'a', rotate: false },
          ),
        ],
      }),
      { rounds: 3, signal: controller.signal },
    )
    expect(result.cases.map((c) => [c.rounds, c.error?.message])).toEqual([
      [1, 'stop'],
      [1, 'stop'],
    ])
    expect(result.comparisons[0]!.order).toHaveLength(2)
  })
})

describe('defining comparisons and targets', () => {
  const a = measure('a', () => ({ x: 1 }))
  const b = measure('b', () => ({ x: 1 }))
  const ratioOn = (metric = 'x') =>
    measure('r', () => ({ x: 1 }), { targets: [{ metric, of: 'ratio', atLeast: 1 }] })

  it.each([
    ['a baseline that is not one of its cases', [compare('c', [a, b], { baseline: 'z' })]],
    ['a comparison of one case', [compare('c', [a], { baseline: 'a' })]],
    [
      'two comparisons of one name',
      [compare('c', [a, b], { baseline: 'a' }), compare('c', [ratioOn()], { baseline: 'r' })],
    ],
    ['a case in a comparison and outside it', [compare('c', [a, b], { baseline: 'a' }), a]],
    ['a ratio target outside a comparison', [ratioOn()]],
    ['a ratio target on the baseline', [compare('c', [ratioOn(), a], { baseline: 'r' })]],
    [
      'a ratio target on a metric the comparison leaves out',
      [compare('c', [a, ratioOn('y')], { baseline: 'a', metrics: ['x'] })],
    ],
    ['a target without bounds', [measure('t', () => ({ x: 1 }), { targets: [{ metric: 'x' }] })]],
    [
      'a target that can never be met',
      [measure('t', () => ({ x: 1 }), { targets: [{ metric: 'x', atLeast: 2, atMost: 1 }] })],
    ],
    [
      'a non-finite bound',
      [measure('t', () => ({ x: 1 }), { targets: [{ metric: 'x', atMost: Number.NaN }] })],
    ],
    ['a zero round count', [compare('c', [a, b], { baseline: 'a', rounds: 0 })]],
    [
      'an unknown way of judging',
      [measure('t', () => ({ x: 1 }), { targets: [{ metric: 'x', atMost: 1, judged: 'mean' as never }] })],
    ],
  ])('rejects %s with ERR_INVALID_SUITE', (_label, cases) => {
    expect(() => defineSuite({ name: 'x', description: 'd', cases: cases as never })).toThrow(
      InvalidSuiteError,
    )
  })

  it('accepts a ratio target on a compared case and a value target anywhere', () => {
    const suite = {
      name: 'ok',
      description: 'd',
      cases: [
        compare('c', [a, ratioOn()], { baseline: 'a' }),
        measure('v', () => ({ x: 1 }), { targets: [{ metric: 'x', atMost: 1 }] }),
      ],
    }
    expect(defineSuite(suite)).toBe(suite)
  })
})

describe('the results JSON of a comparison', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-compare-test-'))
    await mkdir(join(dir, 'suites'))
    // A compiled suite is a plain ES module; this one compares two fake systems.
    await writeFile(
      join(dir, 'suites', 'pair.js'),
      `const values = { fast: [10, 12], slow: [5, 3] }
      const system = (name, targets) => ({
        kind: 'measure', name, warmupRounds: 0, targets,
        fn: ({ round }) => ({ tasksPerSec: values[name][round], p50Ms: 100 / values[name][round] }),
      })
      export default {
        name: 'pair',
        description: 'two fake systems',
        cases: [{
          kind: 'comparison', name: 'both', baseline: 'fast', rotate: false,
          cases: [system('fast'), system('slow', [{ metric: 'tasksPerSec', of: 'ratio', atLeast: 0.3, source: 'test' }])],
        }],
      }\n`,
    )
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps every round’s values, the order they ran in, the ratios and the verdicts', async () => {
    const file = join(dir, 'out.json')
    const io = { suitesDir: join(dir, 'suites'), stdout: () => {}, stderr: () => {} }
    expect(await main(['pair', '--rounds', '2', '--json', file], io)).toBe(0)
    const report = JSON.parse(await readFile(file, 'utf8')) as BenchReport
    const suite: SuiteResult = report.suites[0]!
    expect(suite.cases.map((c) => [c.name, c.comparison, c.metrics[0]!.samples])).toEqual([
      ['fast', 'both', [10, 12]],
      ['slow', 'both', [5, 3]],
    ])
    expect(suite.comparisons).toEqual([
      {
        name: 'both',
        baseline: 'fast',
        rounds: 2,
        rotate: false,
        order: [
          ['fast', 'slow'],
          ['fast', 'slow'],
        ],
        ratios: [
          {
            case: 'slow',
            metric: 'tasksPerSec',
            unit: '/s',
            samples: [0.5, 0.25],
            summary: expect.objectContaining({ median: 0.375 }),
          },
          {
            case: 'slow',
            metric: 'p50Ms',
            unit: 'ms',
            samples: [2, 4],
            summary: expect.objectContaining({ median: 3 }),
          },
        ],
      },
    ])
    expect(suite.targets).toEqual([
      {
        case: 'slow',
        metric: 'tasksPerSec',
        of: 'ratio',
        atLeast: 0.3,
        source: 'test',
        baseline: 'fast',
        unit: '×',
        verdict: 'met',
        summary: expect.objectContaining({ n: 2, median: 0.375, min: 0.25, max: 0.5 }),
        roundsMet: 1,
      },
    ])
  })
})
