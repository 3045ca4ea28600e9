import { describe, expect, it } from 'vitest'
import type { BackendRunOptions } from '../src/backend.js'
import { fnv1a, mockBackend, mockOutput } from '../src/backends/mock.js'
import { InvalidConfigError, MockFailureError } from '../src/errors.js'

const options = (signal = new AbortController().signal): BackendRunOptions => ({ signal })

describe('mockBackend', () => {
  it('returns the same output for the same input, every time', async () => {
    const mock = mockBackend({ worker: false })
    const a = await mock.run({ id: '1', type: 'mock', input: { text: 'the quick brown fox' } }, options())
    const b = await mock.run({ id: '2', type: 'mock', input: { text: 'the quick brown fox' } }, options())
    expect(a).toEqual(b)
    expect(a).toEqual({
      text: 'the quick brown fox',
      length: 19,
      words: 4,
      checksum: fnv1a('the quick brown fox').toString(16).padStart(8, '0'),
    })
    expect(mockOutput('')).toEqual({ text: '', length: 0, words: 0, checksum: '811c9dc5' })
  })

  it('fails a seeded, reproducible share of task ids at the configured rate', async () => {
    const outcomes = async (seed: number) => {
      const mock = mockBackend({ worker: false, failureRate: 0.3, seed })
      const failed: string[] = []
      for (let i = 0; i < 1000; i++) {
        const id = `task-${i}`
        await mock.run({ id, type: 'mock', input: {} }, options()).catch((err: unknown) => {
          expect(err).toBeInstanceOf(MockFailureError)
          failed.push(id)
        })
      }
      return failed
    }
    const first = await outcomes(7)
    expect(await outcomes(7)).toEqual(first)
    expect(first.length).toBeGreaterThan(240)
    expect(first.length).toBeLessThan(360)
    expect(await outcomes(8)).not.toEqual(first)
  })

  it('waits its latency and stops waiting when aborted', async () => {
    const mock = mockBackend({ worker: false, latencyMs: 40 })
    const started = performance.now()
    await mock.run({ id: 'a', type: 'mock', input: {} }, options())
    expect(performance.now() - started).toBeGreaterThanOrEqual(35)
    const controller = new AbortController()
    const run = mock.run({ id: 'b', type: 'mock', input: { latencyMs: 10_000 } }, options(controller.signal))
    controller.abort(new Error('cancelled'))
    await expect(run).rejects.toThrow('cancelled')
  })

  it('burns CPU in slices it can be cancelled between, reporting progress', async () => {
    const mock = mockBackend({ worker: false })
    const fractions: number[] = []
    await mock.run(
      { id: 'c', type: 'mock', input: { cpuMs: 200 } },
      { ...options(), onProgress: (p) => fractions.push(p.fraction) },
    )
    // The spin is measured in wall time, so a loaded machine sees fewer, larger slices:
    // pin the shape of the reports, not their number.
    expect(fractions.length).toBeGreaterThan(1)
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions)
    expect(fractions.at(-1)).toBe(1)
    const controller = new AbortController()
    const run = mock.run({ id: 'd', type: 'mock', input: { cpuMs: 10_000 } }, options(controller.signal))
    setTimeout(() => controller.abort(new Error('enough')), 20)
    await expect(run).rejects.toThrow('enough')
  })

  it('can be renamed, serve another task type and announce models', () => {
    const models = [
      { name: 'fake', sha256: '00'.repeat(32), sizeBytes: 0, taskTypes: ['echo'], loaded: true },
    ]
    const mock = mockBackend({ name: 'mock-2', taskType: 'echo', models, concurrency: 2 })
    expect(mock.name).toBe('mock-2')
    expect(mock.taskTypes.map((t) => t.name)).toEqual(['echo'])
    expect(mock.models?.()).toEqual(models)
    expect(mock.concurrency).toBe(2)
    expect(mock.worker).toMatchObject({ export: 'mockBackend', init: { name: 'mock-2', worker: false } })
    expect(mockBackend({ worker: false }).worker).toBeUndefined()
  })

  it('rejects a bad configuration', () => {
    expect(() => mockBackend({ failureRate: 2 })).toThrow(InvalidConfigError)
    expect(() => mockBackend({ latencyMs: -1 })).toThrow(/latencyMs/)
  })
})

describe('mockBackend: a long task that checkpoints (steps)', () => {
  const run = (input: object, resume?: { state: unknown; fraction: number }) => {
    const reports: Array<{ fraction: number; checkpoint?: unknown }> = []
    const mock = mockBackend({ worker: false })
    const task = { id: 't', type: 'mock', input, ...(resume === undefined ? {} : { resume }) }
    return {
      reports,
      output: mock.run(task, { ...options(), onProgress: (p) => reports.push(p) }) as Promise<{
        steps: { total: number; resumedFrom: number; digest: string }
      }>,
    }
  }

  it('checkpoints after every step and, resumed from one, finishes with the same digest', async () => {
    const whole = run({ text: 'long job', steps: 20 })
    const { steps } = await whole.output
    expect(steps).toMatchObject({ total: 20, resumedFrom: 0 })
    expect(whole.reports).toHaveLength(20)
    const at14 = whole.reports[13]!
    expect(at14.fraction).toBeCloseTo(0.7)
    const resumed = run({ text: 'long job', steps: 20 }, { state: at14.checkpoint, fraction: at14.fraction })
    expect((await resumed.output).steps).toEqual({ ...steps, resumedFrom: 14 })
    // Only the last 6 steps ran again.
    expect(resumed.reports).toHaveLength(6)
  })

  it('starts over from a checkpoint that is not one of its own', async () => {
    const whole = await run({ steps: 5 }).output
    for (const state of [null, 'x', { step: 99, digest: '00000000' }, { step: 2, digest: 'nothex!!' }]) {
      const { steps } = await run({ steps: 5 }, { state, fraction: 0.4 }).output
      expect(steps).toEqual(whole.steps)
    }
  })
})
