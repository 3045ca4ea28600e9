import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseSplit } from '../src/commands/job.js'
import { cleanUp, LOCAL_NODE, run, tempHome } from './helpers.js'

afterEach(cleanUp)

describe('job commands against a running node', () => {
  it('run a JSONL file through the node, report a bad line by its number, list, show and refuse to resume a completed job', async () => {
    const home = await tempHome()
    const dataDir = join(home, 'node')
    const started = await run(['node', 'start', '--detach', '--json', '--data-dir', dataDir, ...LOCAL_NODE], {
      home,
    })
    expect(started.code).toBe(0)

    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: `doc ${i}` }))
    lines[11] = '{"text": oops}'
    // Relative paths are the caller's: the CLI makes them absolute for the node.
    await writeFile(join(home, 'docs.jsonl'), `${lines.join('\n')}\n`)
    const submitted = await run(
      [
        'job',
        'submit',
        '--type',
        'mock',
        '--input',
        'docs.jsonl',
        '--output',
        'out.jsonl',
        '--id',
        'cli-job-0001',
        '--data-dir',
        dataDir,
      ],
      { home },
    )
    expect(submitted.code).toBe(4)
    expect(submitted.stdout).toMatch(
      /^job cli-job-0001 completed: 30 items in .*, 1 failed → .*out\.jsonl\n$/,
    )
    expect(submitted.stderr).toContain(
      `job cli-job-0001: 1 of 30 items failed; their lines in ${join(home, 'out.jsonl')} say why`,
    )
    const out = (await readFile(join(home, 'out.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(out).toHaveLength(30)
    expect(out[11]).toMatchObject({ index: 11, line: 12, error: { code: 'ERR_INVALID_INPUT' } })
    expect(out[29]).toMatchObject({ index: 29, line: 30, output: { text: 'doc 29' } })

    const split = join(home, 'book.txt')
    await writeFile(split, 'One paragraph here.\n\nAnother one there.\n\nAnd a third.')
    const pieces = await run(
      [
        'job',
        'submit',
        '--type',
        'mock',
        '--input',
        split,
        '--split',
        'chunk:size=25,overlap=0',
        '--output',
        'pieces.jsonl',
        '--json',
        '--data-dir',
        dataDir,
      ],
      { home },
    )
    expect(pieces.code).toBe(0)
    expect(JSON.parse(pieces.stdout)).toMatchObject({
      status: 'COMPLETED',
      items: { done: 3, failed: 0, total: 3 },
    })

    const listed = await run(['job', 'list', '--json', '--data-dir', dataDir], { home })
    expect(JSON.parse(listed.stdout).jobs.map((j: { status: string }) => j.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
    ])
    const table = await run(['job', 'list', '--data-dir', dataDir], { home })
    expect(table.stdout).toMatch(/cli-job-0001\s+mock\s+COMPLETED\s+30\/30\s+1/)

    const status = await run(['job', 'status', 'cli-job-0001', '--data-dir', dataDir], { home })
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/progress:\s+100%\s+30 \/ 30 items\s+1 failed/)

    const resumed = await run(['job', 'resume', 'cli-job-0001', '--data-dir', dataDir], { home })
    expect(resumed.code).toBe(1)
    expect(resumed.stderr).toContain('job cli-job-0001 completed: every item has its result')
    const cancelled = await run(['job', 'cancel', 'cli-job-0001', '--data-dir', dataDir], { home })
    expect(cancelled.stdout).toContain('had already ended (COMPLETED)')
    const unknown = await run(['job', 'status', 'no-such-job', '--data-dir', dataDir], { home })
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('job list')

    const exists = await run(
      [
        'job',
        'submit',
        '--type',
        'mock',
        '--input',
        'docs.jsonl',
        '--output',
        'out.jsonl',
        '--data-dir',
        dataDir,
      ],
      { home },
    )
    expect(exists.code).toBe(1)
    expect(exists.stderr).toMatch(/exists already[\s\S]*--overwrite/)
    await run(['node', 'stop', '--data-dir', dataDir], { home })
  })

  it('need --type, --input and --output, and a split they understand', async () => {
    const home = await tempHome()
    const r = await run(['job', 'submit', '--type', 'mock', '--input', 'x.jsonl'], { home })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--output <path> is required')
    expect(parseSplit('chunk:size=2000')).toEqual({ kind: 'chunk', size: 2000 })
    expect(parseSplit('chunk:size=500,overlap=50,boundary=sentence')).toEqual({
      kind: 'chunk',
      size: 500,
      overlap: 50,
      boundary: 'sentence',
    })
    expect(() => parseSplit('lines:size=2')).toThrow(/unknown kind "lines"/)
    expect(() => parseSplit('chunk:size=big')).toThrow(/size must be a whole number/)
  })
})
