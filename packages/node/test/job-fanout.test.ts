/**
 * How a job fans its items out, against an exchange that answers in the test's own time: the
 * tasks there is room for leave in one turn (so those bound for one provider share a write and a
 * batch signature), and a job of short tasks queues deeper at each provider than
 * `jobs.queuePerPeer`, by the run time its results report, while long tasks keep that depth.
 */
import { join } from 'node:path'
import { mockOutput } from '@p2p-ai/engine'
import { afterEach, describe, expect, it } from 'vitest'
import { JOB_MAX_QUEUE_PER_PEER, JOB_QUEUED_WORK_MS } from '../src/jobs/constants.js'
import type { JobContext } from '../src/jobs/job.js'
import { JobManager } from '../src/jobs/manager.js'
import { JobStore } from '../src/jobs/store.js'
import { createLogger } from '../src/logger.js'
import { tempDir } from './helpers.js'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

/**
 * An exchange with `slots` places at `concurrency + depth` per provider over `peers` providers;
 * `answer()` completes every task out, each reporting `runMs`.
 */
function fakeExchange(peers: number, concurrency: number) {
  const out: Array<{ id: string; text: string; resolve: (record: unknown) => void }> = []
  const bursts: number[] = []
  const depths: number[] = []
  let turn = 0
  let burstTurn = -1
  const exchange: JobContext['exchange'] = {
    capacity(_task, depth) {
      depths.push(depth)
      return { free: Math.max(0, peers * (concurrency + depth) - out.length), reachable: true }
    },
    submit(task) {
      // Submissions in the same turn of the event loop form one burst.
      if (burstTurn !== turn) {
        burstTurn = turn
        bursts.push(0)
        setImmediate(() => turn++)
      }
      bursts[bursts.length - 1]! += 1
      let resolve!: (record: unknown) => void
      const result = new Promise((r) => {
        resolve = r
      })
      out.push({ id: task.id as string, text: (task.input as { text: string }).text, resolve })
      return { id: task.id, result: () => result, cancel: () => true } as never
    },
  }
  return {
    exchange,
    bursts,
    depths,
    get out() {
      return out.length
    },
    answer(runMs: number): void {
      for (const t of out.splice(0)) {
        t.resolve({
          id: t.id,
          status: 'COMPLETED',
          output: mockOutput(t.text),
          timings: { queuedMs: 0, runMs, totalMs: runMs },
        })
      }
    },
  }
}

async function jobWith(peers: number, concurrency: number, queuePerPeer: number) {
  const dir = await tempDir('p2p-ai-job-fanout-')
  cleanup.push(() => dir[Symbol.asyncDispose]())
  const store = new JobStore({ directory: join(dir.path, 'store'), ttlMs: 60_000 })
  cleanup.push(() => store.close())
  const fake = fakeExchange(peers, concurrency)
  const jobs = new JobManager({
    exchange: fake.exchange,
    store,
    log: createLogger({ level: 'silent' }),
    settings: { maxInFlight: 1000, queuePerPeer, itemAttempts: 3 },
    onPeersChanged: () => () => {},
    resumeOnStart: false,
  })
  return { jobs, fake }
}

/** Lets the job run until it has `n` tasks out (or a few turns passed). */
async function until(fake: { readonly out: number }, n: number): Promise<void> {
  for (let i = 0; i < 50 && fake.out < n; i++) await new Promise((r) => setImmediate(r))
}

describe('a job fanning out', () => {
  it('sends every task there is room for in one turn, not one a turn', async () => {
    const { jobs, fake } = await jobWith(4, 2, 1)
    const job = jobs.submit({ type: 'mock', input: Array.from({ length: 100 }, (_, i) => `item ${i}`) })
    await until(fake, 12)
    // 4 providers × (2 slots + 1 queued) = 12 places, filled in one burst.
    expect(fake.bursts[0]).toBe(12)
    fake.answer(500)
    await until(fake, 12)
    expect(fake.bursts[1]).toBe(12)
    job.cancel()
    await job.done()
  })

  it('queues deeper at each provider while the tasks are short, and keeps jobs.queuePerPeer for long ones', async () => {
    const short = await jobWith(2, 2, 1)
    const quick = short.jobs.submit({ type: 'mock', input: Array.from({ length: 500 }, (_, i) => `q ${i}`) })
    await until(short.fake, 6)
    // Before any run time is known: the configured depth.
    expect(short.fake.depths[0]).toBe(1)
    for (let round = 0; round < 3; round++) {
      short.fake.answer(0)
      await until(short.fake, 2 * (2 + JOB_MAX_QUEUE_PER_PEER))
    }
    expect(short.fake.depths.at(-1)).toBe(JOB_MAX_QUEUE_PER_PEER)
    expect(short.fake.out).toBe(2 * (2 + JOB_MAX_QUEUE_PER_PEER))
    quick.cancel()
    await quick.done()

    const long = await jobWith(2, 2, 1)
    const slow = long.jobs.submit({ type: 'mock', input: Array.from({ length: 100 }, (_, i) => `s ${i}`) })
    for (let round = 0; round < 3; round++) {
      await until(long.fake, 6)
      long.fake.answer(JOB_QUEUED_WORK_MS * 10)
    }
    await until(long.fake, 6)
    expect(long.fake.depths.at(-1)).toBe(1)
    expect(long.fake.out).toBe(6)
    slow.cancel()
    await slow.done()
  })
})
