import { describe, expect, it } from 'vitest'
import { parseCommand } from '../src/args/parse.js'
import { COMMANDS } from '../src/commands/table.js'
import { runOptions } from '../src/demo/run/options.js'
import { latencySummary, percentile } from '../src/demo/run/report.js'
import { failoverTask, planTasks } from '../src/demo/workload.js'

const RUN = COMMANDS.find((c) => c.name === 'demo run')!

/** `demo run`'s options from a command line, as the CLI parses them. */
function parseDemoArgs(argv: readonly string[]) {
  return runOptions(parseCommand(RUN, argv).options)
}

describe('options', () => {
  it('defaults to 4 agents, 20 tasks of every type, with failover, narrated', () => {
    expect(parseDemoArgs([])).toEqual({
      nodes: 4,
      tasks: 20,
      types: ['mock', 'chunk', 'embed', 'ocr'],
      failover: true,
      json: false,
    })
  })

  it('takes node and task counts, a type list (trimmed, deduplicated), --no-failover and --json', () => {
    expect(
      parseDemoArgs(['--nodes', '2', '--tasks=7', '--types', ' OCR, mock,ocr ', '--no-failover', '--json']),
    ).toEqual({ nodes: 2, tasks: 7, types: ['ocr', 'mock'], failover: false, json: true })
    expect(parseDemoArgs(['-n', '3', '--types', 'tokenize,mock'])).toMatchObject({
      nodes: 3,
      types: ['tokenize', 'mock'],
    })
  })

  it.each([
    [['--nodes', '11'], '--nodes must be an integer between 1 and 10, got "11"'],
    [['--tasks', '2.5'], '--tasks must be an integer between 1 and 200, got "2.5"'],
    [['--tasks'], '--tasks needs a value'],
    [['--types', ','], '--types needs at least one of mock, chunk, embed, ocr, tokenize'],
    [['extra'], '"p2p-ai-agents demo run" takes no arguments, got "extra"'],
    [['--nodes', '1'], 'failover needs at least 2 agents'],
    [['--types', 'chunk,embed'], 'failover is shown on a mock task'],
    [['--types', 'chunk,mock', '--tasks', '1'], 'with --tasks 1 makes none'],
  ])('refuses %j with a message that says what to do', (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(
      expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringContaining(message) }),
    )
  })

  it('allows one agent or no mock task when there is no failover to show', () => {
    expect(parseDemoArgs(['--nodes', '1', '--types', 'chunk', '--no-failover'])).toMatchObject({ nodes: 1 })
  })
})

describe('latency figures', () => {
  it('uses nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(values, 50)).toBe(50)
    expect(percentile(values, 99)).toBe(99)
    expect(percentile([7], 99)).toBe(7)
    expect(latencySummary([30, 10, 20])).toEqual({ p50: 20, p99: 30, min: 10, max: 30 })
    expect(latencySummary([])).toBeNull()
  })
})

describe('the task mix', () => {
  it('cycles through the types with real inputs, and kills on a mock task past the middle', async () => {
    const plan = await planTasks(['mock', 'chunk', 'embed', 'ocr'], 10)
    expect(plan.map((t) => t.type)).toEqual([
      'mock',
      'chunk',
      'embed',
      'ocr',
      'mock',
      'chunk',
      'embed',
      'ocr',
      'mock',
      'chunk',
    ])
    expect(plan[0]).toMatchObject({ number: 1, input: { text: 'Hello, P2P AI!', latencyMs: 1000 } })
    expect(plan[2]?.input).toMatchObject({ model: 'demo-embed' })
    const ocr = plan[3]!
    expect(ocr.drawn).toBe('Hello, P2P world!')
    // A PNG, base64-encoded.
    expect(Buffer.from(String(ocr.input.image), 'base64').subarray(1, 4).toString()).toBe('PNG')
    expect(failoverTask(plan)?.number).toBe(9)
    expect(failoverTask(plan.slice(0, 4))?.number).toBe(1)
    expect(failoverTask(plan.slice(1, 4))).toBeUndefined()
  })
})
