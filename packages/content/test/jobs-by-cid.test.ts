// A job's durable state keeps large results as content by CID (docs/jobs.md): on a node with
// content, a result whose line is larger than `content.inlineMaxBytes` is stored as blocks, and
// the job store (SQLite) holds its reference, never its bytes; `results()` reads it back.
import { readFileSync } from 'node:fs'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode, type JobResult, type P2PNode } from '@p2p-ai/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { heliaContent } from '../src/index.js'

let dir: string
let node: P2PNode

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-jobs-cid-'))
  node = await createNode({
    dataDir: join(dir, 'node'),
    network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
    engineOptions: { workers: false },
    content: { enabled: true, inlineMaxBytes: 1024 },
    contentStore: heliaContent({ stallTimeoutMs: 2_000, shareModels: false }),
  })
  await node.start()
  node.registerTask({
    name: 'text.repeat',
    input: z.object({ text: z.string(), times: z.number().int().min(1) }),
    run: ({ text, times }) => ({ text: text.repeat(times) }),
  })
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
