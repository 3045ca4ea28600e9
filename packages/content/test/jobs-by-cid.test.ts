// A job's durable state keeps large results as content by CID (docs/jobs.md): on a node with
// content, a result whose line is larger than `content.inlineMaxBytes` is stored as blocks, and
// the job store (SQLite) holds its reference, never its bytes; `results()` reads it back. Once the
// line is in the output file, its blocks go: a result is on disk once.
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type JobResult, type NodeInit, type P2PNode } from '@p2p-ai/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { heliaContent } from '../src/index.js'
import { usage } from './fixtures/nodes.js'

let dir: string
let node: P2PNode
/** Runs of `text.repeat` by text, on every node of this file. */
const runs = new Map<string, number>()
/** Opened by a test: until then, a `text.repeat` with `wait` waits (or its node stops). */
let gate = newGate()

function newGate(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

function init(name: string): NodeInit {
  return {
    dataDir: join(dir, name),
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    engineOptions: { workers: false },
    content: { enabled: true, inlineMaxBytes: 1024 },
    contentStore: heliaContent({ stallTimeoutMs: 2_000, shareModels: false }),
  }
}

function register(on: P2PNode): void {
  on.registerTask({
    name: 'text.repeat',
    input: z.object({ text: z.string(), times: z.number().int().min(1), wait: z.boolean().optional() }),
    run: async ({ text, times, wait }, context) => {
      runs.set(text, (runs.get(text) ?? 0) + 1)
      if (wait === true) {
        await new Promise<void>((resolve, reject) => {
          void gate.promise.then(resolve)
          context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true })
        })
      }
      return { text: text.repeat(times) }
    },
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-jobs-cid-'))
  node = await createNode(init('node'))
  await node.start()
  register(node)
}, 30_000)

afterAll(async () => {
  await node?.stop({ signal: AbortSignal.abort() })
  await rm(dir, { recursive: true, force: true })
})

/** Everything the job store's SQLite files hold, as text. */
async function storeBytes(): Promise<string> {
  const jobsDir = join(dir, 'node', 'store', 'jobs')
  const files = await readdir(jobsDir)
  return files.map((f) => readFileSync(join(jobsDir, f)).toString('latin1')).join('')
}

describe('a job without an output file', () => {
  it('keeps a result larger than content.inlineMaxBytes by CID, and a small one in the store', async () => {
    const job = node.jobs.submit({
      type: 'text.repeat',
      input: [
        { text: 'LARGE-RESULT-MARK-', times: 200 }, // 3,600 characters: over the 1,024-byte threshold
        { text: 'small-result-mark', times: 1 },
      ],
    })
    const record = await job.done()
    expect(record.status).toBe('COMPLETED')
    expect(record.items).toMatchObject({ done: 2, failed: 0 })

    const results: JobResult[] = []
    for await (const r of job.results()) results.push(r)
    expect(results.map((r) => (r.output as { text: string }).text)).toEqual([
      'LARGE-RESULT-MARK-'.repeat(200),
      'small-result-mark',
    ])

    const held = await storeBytes()
    expect(held).toContain('small-result-mark')
    expect(held).not.toContain('LARGE-RESULT-MARK-LARGE-RESULT-MARK-')
    expect(held).toMatch(/bafkrei[a-z2-7]{52}/)
  })
})

describe('a job with an output file, in input order', () => {
  it('keeps a large result by CID only while it waits for an earlier item, then the file is its one copy', async () => {
    gate = newGate()
    const output = join(dir, 'waits.jsonl')
    const before = usage(node)
    const large = 'WAITING-LARGE-'.repeat(300) // 4,200 characters: over the 1,024-byte threshold
    const job = node.jobs.submit({
      type: 'text.repeat',
      input: [
        { text: 'slow-first', times: 1, wait: true },
        { text: 'WAITING-LARGE-', times: 300 },
      ],
      output,
    })
    // Item 1's result arrived first: kept as content by CID while item 0 holds the output back.
    await expect.poll(() => job.record().items.done, { interval: 10 }).toBe(1)
    expect(usage(node).roots).toBe(before.roots + 1)
    expect(usage(node).dataBytes).toBeGreaterThan(before.dataBytes + large.length)

    gate.resolve()
    expect((await job.done()).status).toBe('COMPLETED')
    const lines = readFileSync(output, 'utf8').trim().split('\n')
    expect(lines.map((l) => (JSON.parse(l) as JobResult<{ text: string }>).output?.text)).toEqual([
      'slow-first',
      large,
    ])
    // Written to the file: its blocks are released and deleted, not kept for content.ttlMs.
    await expect.poll(() => usage(node).roots, { interval: 10 }).toBe(before.roots)
    expect(usage(node).dataBytes).toBe(before.dataBytes)
  })

  it('a large result written at once (as completed) is in the output file only: not as content, nor in the engine store', async () => {
    const before = usage(node)
    const job = node.jobs.submit({
      type: 'text.repeat',
      input: [{ text: 'AT-ONCE-LARGE-', times: 300 }],
      output: join(dir, 'at-once.jsonl'),
      order: 'completed',
    })
    expect((await job.done()).status).toBe('COMPLETED')
    expect(readFileSync(join(dir, 'at-once.jsonl'), 'utf8')).toContain('AT-ONCE-LARGE-'.repeat(300))
    expect(usage(node)).toEqual(before)
    // Nor in the engine's store of the tasks run here (the item ran on this node): the output file
    // is its one copy on disk.
    const stores = join(dir, 'node', 'store')
    const files = (await readdir(stores, { recursive: true })).map((f) => join(stores, f))
    const held = files.map((f) => (statSync(f).isFile() ? readFileSync(f).toString('latin1') : '')).join('')
    expect(held).not.toContain('AT-ONCE-LARGE-AT-ONCE-LARGE-')
  })
})

describe('a job resumed while a large result waits for an earlier item', () => {
  it('finishes without running the done items again, and the output holds the large result whole', async () => {
    gate = newGate()
    const input = join(dir, 'resume.jsonl')
    const output = join(dir, 'resume.out.jsonl')
    const large = 'RESUMED-LARGE-'.repeat(300)
    writeFileSync(
      input,
      `${[
        { text: 'resume-first', times: 1, wait: true },
        { text: 'RESUMED-LARGE-', times: 300 },
        { text: 'resume-third', times: 1 },
      ]
        .map((i) => JSON.stringify(i))
        .join('\n')}\n`,
    )
    const first = await createNode(init('resumed'))
    await first.start()
    register(first)
    const job = first.jobs.submit({ type: 'text.repeat', input, output, id: 'resume-with-a-large-result' })
    // Items 1 and 2 have their results (item 1's kept by CID); item 0 is still running. The stop
    // commits them to the store before the job is INTERRUPTED.
    await expect.poll(() => job.record().items.done, { interval: 10 }).toBe(2)
    await first.stop()
    expect((await job.done()).status).toBe('INTERRUPTED')
    expect(readFileSync(output, 'utf8')).toBe('')

    gate.resolve()
    const again = await createNode({ ...init('resumed'), jobs: { resumeOnStart: false } })
    try {
      await again.start()
      register(again)
      const record = await again.jobs.resume('resume-with-a-large-result').done()
      expect(record.error).toBeUndefined()
      expect(record).toMatchObject({ status: 'COMPLETED', items: { done: 3, failed: 0, total: 3 } })
      expect(Object.fromEntries(runs)).toMatchObject({
        'resume-first': 2, // interrupted, then run again
        'RESUMED-LARGE-': 1,
        'resume-third': 1,
      })
      const results = readFileSync(output, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as JobResult<{ text: string }>)
      expect(results.map((r) => [r.index, r.output?.text])).toEqual([
        [0, 'resume-first'],
        [1, large],
        [2, 'resume-third'],
      ])
      // The large result's blocks, held across the restart, went once it was written.
      await expect.poll(() => usage(again).roots, { interval: 10 }).toBe(0)
    } finally {
      await again.stop({ signal: AbortSignal.abort() })
    }
  })
})
