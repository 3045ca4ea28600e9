/**
 * Jobs (docs/jobs.md): many tasks of one type over the lines of a JSONL file, a text file split in
 * pieces, or items from code, fanned out to a provider on 127.0.0.1, with results written as they
 * arrive and the job's state in SQLite. One requester and one provider for the whole file.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chunkText, mockBackend, mockOutput } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import type { JobResult } from '../src/index.js'
import type { P2PNode } from '../src/node.js'
import { localInit, tempDir } from './helpers.js'

let requester: P2PNode
let provider: P2PNode
let dir: string
const cleanup: Array<() => Promise<unknown>> = []

beforeAll(async () => {
  const root = await tempDir('p2p-ai-jobs-')
  dir = root.path
  cleanup.push(() => root[Symbol.asyncDispose]())
  provider = await createNode({
    ...localInit(join(dir, 'provider')),
    backends: [mockBackend({ worker: false })],
    engine: { concurrency: 4 },
  })
  cleanup.push(() => provider.stop())
  // The requester runs nothing itself: every item crosses the network.
  requester = await createNode(localInit(join(dir, 'requester')))
  cleanup.push(() => requester.stop())
  await requester.connect(provider.getMultiaddrs()[0] as string)
  const deadline = Date.now() + 10_000
  while (requester.peers()[0]?.capabilities === undefined) {
    if (Date.now() > deadline) throw new Error('capabilities did not arrive')
    await new Promise((r) => setTimeout(r, 20))
  }
})

afterAll(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

function jsonl(name: string, lines: string[]): string {
  const path = join(dir, name)
  writeFileSync(path, `${lines.join('\n')}\n`)
  return path
}

function readJsonl(path: string): JobResult[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as JobResult)
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const x of it) all.push(x)
  return all
}

describe('a job over a JSONL file', () => {
  it('writes one result per line in input order, and a malformed line fails only its item, with its line number', async () => {
    const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ text: `doc ${i}` }))
    lines[17] = '{"text": "broken'
    lines[30] = '[1, 2]'
    lines.splice(40, 0, '') // a blank line is no item
    const input = jsonl('docs.jsonl', lines)
    const output = join(dir, 'out.jsonl')
    const job = requester.jobs.submit({ type: 'mock', input, output, allowLocal: false })
    const streamed = await collect(job.results())
    const record = await job.done()

    expect(record).toMatchObject({
      status: 'COMPLETED',
      items: { done: 58, failed: 2, total: 60, inFlight: 0 },
      output,
    })
    const written = readJsonl(output)
    expect(written).toEqual(streamed)
    expect(written.map((r) => r.index)).toEqual(Array.from({ length: 60 }, (_, i) => i))
    expect(written[17]).toEqual({
      index: 17,
      line: 18,
      error: { code: 'ERR_INVALID_INPUT', message: expect.stringMatching(/^line 18 is not JSON/) },
    })
    expect(written[30]?.error?.message).toBe(
      "line 31: expected a JSON object (the task's input) or a string (its text), got an array",
    )
    // Past the blank line, items keep their own line numbers.
    expect(written[45]).toEqual({ index: 45, line: 47, output: mockOutput('doc 45') })
    expect(written[0]).toEqual({ index: 0, line: 1, output: mockOutput('doc 0') })
    expect(requester.jobs.list()[0]).toMatchObject({ id: job.id, status: 'COMPLETED' })
    // Nothing of it shows in the node's own task list: the job keeps its own record.
    expect(requester.tasks.list()).toEqual([])
  })

  it('with failFast, stops at the first item that fails and says which', async () => {
    const input = jsonl('fail-fast.jsonl', ['{"text":"a"}', 'nope', ...Array(50).fill('{"text":"b"}')])
    const job = requester.jobs.submit({ type: 'mock', input, failFast: true, allowLocal: false })
    const record = await job.done()
    expect(record.status).toBe('FAILED')
    expect(record.error).toEqual({
      code: 'ERR_JOB_ITEM_FAILED',
      message: expect.stringMatching(/^item 1 \(line 2\) failed: ERR_INVALID_INPUT: line 2 is not JSON/),
    })
  })

  it('refuses an output file that exists, and an input that does not', () => {
    const input = jsonl('exists.jsonl', ['"x"'])
    expect(() => requester.jobs.submit({ type: 'mock', input, output: input })).toThrow(
      expect.objectContaining({ code: 'ERR_JOB_OUTPUT' }),
    )
    expect(() => requester.jobs.submit({ type: 'mock', input: join(dir, 'missing.jsonl') })).toThrow(
      expect.objectContaining({ code: 'ERR_JOB_INPUT' }),
    )
    expect(() => requester.jobs.submit({ type: 'Not A Type', input })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_JOB' }),
    )
  })
})

describe('a job over a text file split in pieces', () => {
  it('maps every piece, with the same boundaries as the chunk task', async () => {
    const text = Array.from({ length: 40 }, (_, i) => `Paragraph ${i} says something of its own.`).join(
      '\n\n',
    )
    const input = join(dir, 'book.txt')
    writeFileSync(input, text)
    const job = requester.jobs.submit({
      type: 'mock',
      input,
      split: { kind: 'chunk', size: 200, overlap: 0 },
      allowLocal: false,
    })
    const results = await collect(job.results())
    const pieces = chunkText({ text, size: 200, overlap: 0 }).chunks
    expect(results.map((r) => [r.start, r.end, (r.output as { text: string }).text])).toEqual(
      pieces.map((p) => [p.start, p.end, p.text]),
    )
    expect((await job.done()).items).toMatchObject({ done: pieces.length, failed: 0, total: pieces.length })
  })
})

describe('a job over items from code', () => {
  it('yields results as they complete, cancels, and resumes without redoing the items done', async () => {
    const items = Array.from({ length: 24 }, (_, i) => ({
      text: `item ${i}`,
      latencyMs: i % 3 === 0 ? 60 : 5,
    }))
    const job = requester.jobs.submit({ type: 'mock', input: items, order: 'completed', allowLocal: false })
    const seen: number[] = []
    for await (const r of job.results()) {
      seen.push(r.index)
      if (seen.length === 6) job.cancel('enough for now')
    }
    const cancelled = await job.done()
    expect(cancelled.status).toBe('CANCELLED')
    expect(cancelled.error).toEqual({ code: 'ERR_CANCELLED', message: 'enough for now' })
    const before = cancelled.items.done
    expect(before).toBeGreaterThanOrEqual(6)
    expect(before).toBeLessThan(24)

    const ran: number[] = []
    const resumed = requester.jobs.resume(job.id, {
      input: (function* () {
        for (const [i, item] of items.entries()) {
          ran.push(i)
          yield item
        }
      })(),
    })
    const all = await collect(resumed.results())
    expect((await resumed.done()).status).toBe('COMPLETED')
    // Every item exactly once, the first ones from before the cancel among them.
    expect(all.map((r) => r.index).sort((x, y) => x - y)).toEqual(items.map((_, i) => i))
    expect(all.slice(0, seen.length).map((r) => r.index)).toEqual(seen)
    expect(resumed.record().items).toMatchObject({ done: 24, failed: 0 })
    expect(ran).toHaveLength(24)
    expect(() => requester.jobs.resume(job.id)).toThrow(
      expect.objectContaining({ code: 'ERR_JOB_NOT_RESUMABLE' }),
    )
  })
})
