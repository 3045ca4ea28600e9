// Streamed text (a language model's tokens) rides on progress reports as `delta`s. The engine
// throttles progress to one report per task per PROGRESS_INTERVAL_MS, but a delta is output, not a
// status: these tests pin down that none is ever lost, reordered or delivered after the end.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { TaskProgress } from '../src/backend.js'
import { fnv1a, type MockOutput, mockBackend } from '../src/backends/mock.js'
import { PROGRESS_INTERVAL_MS } from '../src/constants.js'
import { type TaskEngine, taskEngine } from '../src/engine/engine.js'
import type { TaskHandle } from '../src/engine/task.js'
import { gateBackend } from './engine-helpers.js'

let engine: TaskEngine | undefined

beforeEach(() => {
  // The throttle reads performance.now() and flushes with a timer: both on the fake clock.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
})

afterEach(async () => {
  vi.useRealTimers()
  await engine?.stop({ timeoutMs: 0 })
  engine = undefined
})

async function started() {
  const gate = gateBackend()
  engine = taskEngine({ builtins: false, backends: [gate.backend] })
  const handle = await engine.submit({ type: 'gate' })
  await gate.started(1)
  const run = gate.runs[0]!
  const report = (progress: TaskProgress): void => run.options.onProgress?.(progress)
  return { handle, run, report }
}

/** Everything the handle's listeners see, in order: progress reports and status changes. */
function watch(handle: TaskHandle) {
  const seen: Array<{ delta?: string; fraction?: number; status?: string }> = []
  handle.addEventListener('progress', (event) => {
    const { fraction, delta } = event.detail
    seen.push(delta === undefined ? { fraction } : { fraction, delta })
  })
  handle.addEventListener('status', (event) => seen.push({ status: event.detail.status }))
  const streamed = (): string => seen.map((s) => s.delta ?? '').join('')
  return { seen, streamed }
}

describe('text deltas on progress reports', () => {
  it('forwards the first delta at once and coalesces the ones a throttle window holds back, in order', async () => {
    const { handle, report, run } = await started()
    const { seen } = watch(handle)
    report({ fraction: 0.1, delta: 'Hel' })
    report({ fraction: 0.2, delta: 'lo' })
    report({ fraction: 0.3, delta: ', ' })
    expect(seen).toEqual([{ fraction: 0.1, delta: 'Hel' }])

    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS)
    expect(seen).toEqual([
      { fraction: 0.1, delta: 'Hel' },
      { fraction: 0.3, delta: 'lo, ' },
    ])
    run.resolve({ text: 'Hello, ' })
    await handle.result()
  })

  it('lets a final report (fraction 1) through the throttle with the deltas it held back', async () => {
    const { handle, report, run } = await started()
    const { seen } = watch(handle)
    report({ fraction: 0.1, delta: 'a' })
    report({ fraction: 0.5, delta: 'b' })
    report({ fraction: 1, delta: 'c' })
    expect(seen).toEqual([
      { fraction: 0.1, delta: 'a' },
      { fraction: 1, delta: 'bc' },
    ])
    // Nothing is pending any more, so the window ends quietly.
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS * 5)
    expect(seen).toHaveLength(2)
    run.resolve(null)
    await handle.result()
  })

  it('flushes the pending delta before the final status, so the stream is whole when the task ends', async () => {
    const { handle, report, run } = await started()
    const { seen, streamed } = watch(handle)
    const tokens = ['The', ' quick', ' brown', ' fox', '.']
    for (const [i, delta] of tokens.entries()) report({ fraction: (i + 1) / 10, delta })
    run.resolve({ text: tokens.join('') })
    const record = await handle.result()
    expect(record.status).toBe('COMPLETED')
    expect(streamed()).toBe(tokens.join(''))
    expect(seen).toEqual([
      { fraction: 0.1, delta: 'The' },
      { fraction: 0.5, delta: ' quick brown fox.' },
      { status: 'COMPLETED' },
    ])
    // The flush timer went with the flush.
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS * 2)
    expect(seen).toHaveLength(3)
  })

  it('flushes the pending delta before CANCELLED too, and takes none after', async () => {
    const { handle, report } = await started()
    const { seen, streamed } = watch(handle)
    report({ fraction: 0.1, delta: 'partial' })
    report({ fraction: 0.2, delta: ' answer' })
    handle.cancel()
    report({ fraction: 0.3, delta: ' too late' })
    expect((await handle.result()).status).toBe('CANCELLED')
    expect(streamed()).toBe('partial answer')
    expect(seen.at(-1)).toEqual({ status: 'CANCELLED' })
  })

  it('never drops a delta whatever the rate: 10,000 tokens in 1 ms steps arrive whole, ~one report per window', async () => {
    const { handle, report, run } = await started()
    const { seen, streamed } = watch(handle)
    let text = ''
    for (let i = 0; i < 10_000; i++) {
      const delta = ` t${i}`
      text += delta
      report({ fraction: i / 10_000, delta })
      vi.advanceTimersByTime(1)
    }
    run.resolve({ text })
    await handle.result()
    expect(streamed()).toBe(text)
    const reports = seen.filter((s) => s.status === undefined).length
    expect(reports).toBeGreaterThanOrEqual(10_000 / PROGRESS_INTERVAL_MS)
    expect(reports).toBeLessThanOrEqual(10_000 / PROGRESS_INTERVAL_MS + 2)
  })

  it('takes a delta reported without a usable fraction, keeping the last fraction', async () => {
    const { handle, report, run } = await started()
    const { seen, streamed } = watch(handle)
    report({ fraction: 0.4, delta: 'x' })
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS)
    report({ fraction: Number.NaN, delta: 'y' })
    expect(seen).toEqual([
      { fraction: 0.4, delta: 'x' },
      { fraction: 0.4, delta: 'y' },
    ])
    run.resolve(null)
    await handle.result()
    expect(streamed()).toBe('xy')
  })

  it('keeps deltas out of the task record, whose progress is a snapshot', async () => {
    const { handle, report, run } = await started()
    report({ fraction: 0.5, message: 'half', delta: 'tokens' })
    expect(handle.record().progress).toEqual({ fraction: 0.5, message: 'half' })
    expect(engine!.get(handle.id)?.progress).toEqual({ fraction: 0.5, message: 'half' })
    run.resolve(null)
    expect((await handle.result()).progress).toEqual({ fraction: 1 })
  })
})

describe('checkpoints on progress reports', () => {
  it('forwards the newest checkpoint a throttle window held back, never an older one after it', async () => {
    const { handle, report, run } = await started()
    const seen: Array<{ fraction: number; checkpoint?: unknown }> = []
    handle.addEventListener('progress', (event) => {
      const { fraction, checkpoint } = event.detail
      seen.push(checkpoint === undefined ? { fraction } : { fraction, checkpoint })
    })
    report({ fraction: 0.1, checkpoint: { step: 1 } })
    report({ fraction: 0.2, checkpoint: { step: 2 } })
    report({ fraction: 0.3, checkpoint: { step: 3 } })
    report({ fraction: 0.35 })
    expect(seen).toEqual([{ fraction: 0.1, checkpoint: { step: 1 } }])
    vi.advanceTimersByTime(PROGRESS_INTERVAL_MS)
    // Forwarded at the end of the window with the latest fraction; the checkpoint is step 3's.
    expect(seen.at(-1)).toEqual({ fraction: 0.35, checkpoint: { step: 3 } })
    expect(seen).toHaveLength(2)
    // The record keeps fraction and message only: a checkpoint may be large.
    expect(handle.record().progress).toEqual({ fraction: 0.35 })
    run.resolve(null)
    await handle.result()
  })

  it('hands the checkpoint a task is submitted with to its backend, in-process and in a worker', async () => {
    vi.useRealTimers()
    const gate = gateBackend()
    engine = taskEngine({ builtins: false, backends: [gate.backend] })
    const resume = { state: { step: 7, digest: '0000abcd' }, fraction: 0.7 }
    const handle = await engine.submit({ type: 'gate', resume })
    await gate.started(1)
    expect(gate.runs[0]?.task.resume).toEqual(resume)
    gate.runs[0]?.resolve(null)
    await handle.result()
    await expect(engine.submit({ type: 'gate', resume: { state: 1, fraction: 2 } })).rejects.toMatchObject({
      code: 'ERR_INVALID_REQUEST',
    })

    const pooled = taskEngine({ builtins: false, backends: [mockBackend({ concurrency: 1 })] })
    try {
      const steps = await pooled.submit({ type: 'mock', input: { text: 'x', steps: 10 } })
      const whole = (await steps.output()) as MockOutput
      const resumed = await pooled.submit({
        type: 'mock',
        input: { text: 'x', steps: 10 },
        resume: { state: { step: 6, digest: checkpointAt(6) }, fraction: 0.6 },
      })
      expect(((await resumed.output()) as MockOutput).steps).toEqual({ ...whole.steps, resumedFrom: 6 })
    } finally {
      await pooled.stop({ timeoutMs: 0 })
    }
  })
})

/** The digest a `mock` task with text 'x' carries in its checkpoint before `step`. */
function checkpointAt(step: number): string {
  let digest = fnv1a('x').toString(16).padStart(8, '0')
  for (let i = 0; i < step; i++) digest = fnv1a(`${digest}:${i}`).toString(16).padStart(8, '0')
  return digest
}
