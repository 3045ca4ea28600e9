/**
 * A job survives its requester being killed: the job store (SQLite) says which items have a
 * result, the output file is cut back to what it committed, and a node started again on the same
 * data directory finishes the job by itself, running only the items that had no result.
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BackendTask, mockBackend, mockOutput } from '@p2p-ai/engine'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import type { JobResult } from '../src/index.js'
import { JOB_STORE_DIR_NAME, JOB_STORE_FILE_NAME } from '../src/jobs/constants.js'
import { Host, localInit, tempDir } from './helpers.js'

const JOB_HOST = fileURLToPath(new URL('./fixtures/job-host.mjs', import.meta.url))
const ITEMS = 80

describe('a job whose requester is killed with SIGKILL', () => {
  it('resumes when the node starts again, without redoing the items that had a result', async () => {
    await using root = await tempDir('p2p-ai-jobs-kill-')
    const dataDir = join(root.path, 'node')
    const input = join(root.path, 'docs.jsonl')
    const output = join(root.path, 'out.jsonl')
    writeFileSync(
      input,
      `${Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ text: `doc ${i}`, latencyMs: 25 })).join('\n')}\n`,
    )
    const init = localInit(dataDir, { engine: { concurrency: 4 } })
    const host = new Host(
      spawn(
        process.execPath,
        [
          JOB_HOST,
          JSON.stringify(init),
          JSON.stringify({ type: 'mock', input, output, id: 'killed-job-01' }),
        ],
        { stdio: 'pipe' },
      ),
    )
    try {
      await host.waitFor((e) => e.event === 'progress' && (e.done as number) >= 20, 30_000, '20 items done')
      host.proc.kill('SIGKILL')
      await host.exited
    } finally {
      await host[Symbol.asyncDispose]()
    }

    // What the store holds as done when the process died: exactly those must not run again.
    const db = new Database(join(dataDir, 'store', JOB_STORE_DIR_NAME, JOB_STORE_FILE_NAME), {
      readonly: true,
    })
    const stored = new Set(
      (
        db.prepare('SELECT idx FROM items WHERE job_id = ?').all('killed-job-01') as Array<{ idx: number }>
      ).map((r) => r.idx),
    )
    const status = (
      db.prepare('SELECT status FROM jobs WHERE id = ?').get('killed-job-01') as { status: string }
    ).status
    db.close()
    expect(status).toBe('RUNNING')
    expect(stored.size).toBeGreaterThanOrEqual(20)
    expect(stored.size).toBeLessThan(ITEMS)

    const ran: number[] = []
    const base = mockBackend({ worker: false })
    const counting = {
      ...base,
      run: (task: BackendTask, options: Parameters<typeof base.run>[1]) => {
        ran.push(Number(String((task.input as { text: string }).text).slice(4)))
        return base.run(task, options)
      },
    }
    const node = await createNode({ ...init, backends: [counting] })
    try {
      const job = node.jobs.handle('killed-job-01')
      expect(job).toBeDefined()
      const record = await job!.done()
      expect(record).toMatchObject({ status: 'COMPLETED', items: { done: ITEMS, failed: 0, total: ITEMS } })
      expect(ran.filter((i) => stored.has(i))).toEqual([])
      expect(ran.length).toBe(ITEMS - stored.size)
    } finally {
      await node.stop()
    }
    const lines = readFileSync(output, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
    const results = lines.map((l) => JSON.parse(l) as JobResult)
    expect(results).toEqual(
      Array.from({ length: ITEMS }, (_, i) => ({ index: i, line: i + 1, output: mockOutput(`doc ${i}`) })),
    )
  })

  it('a node stopped gracefully leaves the job INTERRUPTED; without resumeOnStart it waits for resume', async () => {
    await using root = await tempDir('p2p-ai-jobs-stop-')
    const input = join(root.path, 'docs.jsonl')
    const output = join(root.path, 'out.jsonl')
    writeFileSync(
      input,
      `${Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `doc ${i}`, latencyMs: 20 })).join('\n')}\n`,
    )
    const init = localInit(join(root.path, 'node'), { engine: { concurrency: 2 } })
    const first = await createNode({ ...init, backends: [mockBackend({ worker: false })] })
    const job = first.jobs.submit({ type: 'mock', input, output, id: 'stopped-job-01' })
    await new Promise<void>((resolve) =>
      job.addEventListener('progress', (e) => e.detail.items.done >= 6 && resolve()),
    )
    await first.stop()
    const interrupted = await job.done()
    expect(interrupted.status).toBe('INTERRUPTED')
    expect(interrupted.items.done).toBeLessThan(40)

    const again = await createNode({
      ...init,
      jobs: { resumeOnStart: false },
      backends: [mockBackend({ worker: false })],
    })
    try {
      expect(again.jobs.list({ status: 'INTERRUPTED' }).map((j) => j.id)).toEqual(['stopped-job-01'])
      const resumed = again.jobs.resume('stopped-job-01')
      expect(await resumed.done()).toMatchObject({ status: 'COMPLETED', items: { done: 40, failed: 0 } })
      const indices: number[] = []
      for await (const r of resumed.results()) indices.push(r.index)
      expect(indices).toEqual(Array.from({ length: 40 }, (_, i) => i))
    } finally {
      await again.stop()
    }
    expect(readFileSync(output, 'utf8').trim().split('\n')).toHaveLength(40)
  })
})
