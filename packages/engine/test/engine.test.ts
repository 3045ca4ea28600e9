import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { Backend } from '../src/backend.js'
import { mockBackend, mockOutput } from '../src/backends/mock.js'
import { DEFAULT_PRIORITY } from '../src/constants.js'
import { type TaskEngine, taskEngine } from '../src/engine/engine.js'
import {
  BackendConflictError,
  EngineStoppedError,
  InvalidBackendError,
  InvalidConfigError,
  InvalidInputError,
  InvalidRequestError,
  QueueFullError,
  TaskCancelledError,
  TaskIdConflictError,
  TaskNotFoundError,
  TaskTimeoutError,
  UnsupportedTaskTypeError,
} from '../src/errors.js'
import type { TaskRecord } from '../src/types.js'
import { gateBackend, sleep, until } from './engine-helpers.js'

let engine: TaskEngine | undefined
afterEach(async () => {
  await engine?.stop({ timeoutMs: 0 })
  engine = undefined
})

function make(init: Parameters<typeof taskEngine>[0] = {}): TaskEngine {
  engine = taskEngine({ builtins: false, ...init })
  return engine
}

describe('taskEngine: running tasks', () => {
  it('runs a mock task to COMPLETED with its output and ordered timestamps', async () => {
    let clock = 1_000
    const e = make({ backends: [mockBackend({ worker: false })], now: () => clock++ })
    const handle = await e.submit({ type: 'mock', input: { text: 'hello peer world' } })
    const record = await handle.result()
    expect(record).toMatchObject({
      id: handle.id,
      type: 'mock',
      status: 'COMPLETED',
      backend: 'mock',
      // None given: the default, the middle of the network's 0-9.
      priority: DEFAULT_PRIORITY,
      output: mockOutput('hello peer world'),
      progress: { fraction: 1 },
    })
    expect(record.output).toEqual({
      text: 'hello peer world',
      length: 16,
      words: 3,
      checksum: expect.any(String),
    })
    expect(record.queuedAt).toBeLessThanOrEqual(record.startedAt!)
    expect(record.startedAt!).toBeLessThanOrEqual(record.finishedAt!)
    expect(record.error).toBeUndefined()
    expect(handle.status).toBe('COMPLETED')
    expect(e.get(handle.id)).toEqual(record)
  })

  it('moves QUEUED → RUNNING → COMPLETED and emits an event for each step', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const seen: string[] = []
    for (const type of [
      'task:queued',
      'task:started',
      'task:progress',
      'task:completed',
      'task:finished',
    ] as const) {
      e.addEventListener(type, (event) => seen.push(`${type}:${event.detail.status}`))
    }
    const handle = await e.submit({ type: 'gate', input: {} })
    expect(handle.status).toBe('RUNNING')
    await gate.started(1)
    const progress: number[] = []
    handle.addEventListener('progress', (event) => progress.push(event.detail.fraction))
    gate.runs[0]!.options.onProgress?.({ fraction: 0.5, message: 'half' })
    expect(e.get(handle.id)).toMatchObject({
      status: 'RUNNING',
      progress: { fraction: 0.5, message: 'half' },
    })
    gate.runs[0]!.resolve({ done: true })
    await handle.result()
    expect(seen).toEqual([
      'task:queued:QUEUED',
      'task:started:RUNNING',
      'task:progress:RUNNING',
      'task:completed:COMPLETED',
      'task:finished:COMPLETED',
    ])
    expect(progress).toEqual([0.5])
  })

  it('throttles progress events but keeps the latest value in the record', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    let events = 0
    e.addEventListener('task:progress', () => events++)
    const handle = await e.submit({ type: 'gate' })
    await gate.started(1)
    for (let i = 1; i <= 50; i++) gate.runs[0]!.options.onProgress?.({ fraction: i / 100 })
    expect(events).toBe(1)
    expect(handle.record().progress).toEqual({ fraction: 0.5 })
    gate.runs[0]!.options.onProgress?.({ fraction: Number.NaN })
    expect(handle.record().progress).toEqual({ fraction: 0.5 })
    gate.runs[0]!.resolve(null)
    await handle.result()
  })

  it('lets timers run while a caller submits synchronous tasks back to back', async () => {
    const e = make({ backends: [mockBackend({ worker: false })] })
    let fired = false
    setTimeout(() => {
      fired = true
    }, 1)
    let tasks = 0
    // Each completion resumes the caller in a microtask; without a yield the timer never fires.
    while (!fired && tasks < 200_000) {
      await e.run({ type: 'mock', input: {} })
      tasks++
    }
    expect(fired).toBe(true)
  })

  it('lets a user add a backend in a few lines', async () => {
    const upper: Backend = {
      name: 'upper',
      taskTypes: [{ name: 'upper', input: z.object({ text: z.string() }) }],
      async load() {},
      async run(task) {
        return { text: (task.input as { text: string }).text.toUpperCase() }
      },
      async unload() {},
    }
    const e = make()
    e.backends.register(upper)
    expect(await e.run({ type: 'upper', input: { text: 'shout' } })).toEqual({ text: 'SHOUT' })
    expect(e.capabilities().taskTypes).toEqual([{ name: 'upper', backend: 'upper' }])
  })

  it('lists each task type once, even when one backend serves several', () => {
    const text: Backend = {
      name: 'words',
      taskTypes: [
        { name: 'upper', input: z.object({ text: z.string() }) },
        { name: 'lower', input: z.object({ text: z.string() }) },
        { name: 'title', input: z.object({ text: z.string() }) },
      ],
      async load() {},
      async run() {
        return {}
      },
      async unload() {},
    }
    const e = make()
    e.backends.register(text)
    expect(e.capabilities().taskTypes).toEqual([
      { name: 'upper', backend: 'words' },
      { name: 'lower', backend: 'words' },
      { name: 'title', backend: 'words' },
    ])
  })

  it('loads an in-process backend once before its first task and unloads it on stop', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const a = await e.submit({ type: 'gate' })
    const b = await e.submit({ type: 'gate' })
    await gate.started(2)
    for (const run of gate.runs) run.resolve(1)
    await Promise.all([a.result(), b.result()])
    expect(gate.loads).toBe(1)
    await e.stop()
    expect(gate.unloads).toBe(1)
  })

  it('accepts asynchronous schemas and validates before queueing', async () => {
    const slow: Backend = {
      name: 'slow-schema',
      taskTypes: [
        {
          name: 'checked',
          input: z
            .object({ n: z.number() })
            .refine(async (v) => v.n > 0, { message: 'must be positive', path: ['n'] }),
        },
      ],
      async load() {},
      async run(task) {
        return (task.input as { n: number }).n * 2
      },
      async unload() {},
    }
    const e = make({ backends: [slow] })
    expect(await e.run({ type: 'checked', input: { n: 21 } })).toBe(42)
    await expect(e.submit({ type: 'checked', input: { n: -1 } })).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
      issues: [{ path: 'n', message: 'must be positive' }],
    })
    // Two submissions of the same id while the schema is still validating run once.
    const [x, y] = await Promise.all([
      e.submit({ id: 'same', type: 'checked', input: { n: 1 } }),
      e.submit({ id: 'same', type: 'checked', input: { n: 1 } }),
    ])
    expect(x).toBe(y)
  })
})

describe('taskEngine: rejecting bad work', () => {
  it('rejects an unknown task type with ERR_UNSUPPORTED_TASK_TYPE naming what it runs', async () => {
    const e = make({ backends: [mockBackend({ worker: false })] })
    const err = await e.submit({ type: 'translate', input: {} }).catch((x: unknown) => x)
    expect(err).toBeInstanceOf(UnsupportedTaskTypeError)
    expect(err).toMatchObject({ code: 'ERR_UNSUPPORTED_TASK_TYPE', name: 'UnsupportedTaskTypeError' })
    expect((err as Error).message).toContain('mock')
  })

  it('rejects bad input before it reaches a backend, with every field path', async () => {
    const gate = gateBackend()
    const e = make({ backends: [mockBackend({ worker: false }), gate.backend] })
    const err = (await e
      .submit({ type: 'mock', input: { text: 42, cpuMs: -1, extra: true } })
      .catch((x: unknown) => x)) as InvalidInputError
    expect(err).toBeInstanceOf(InvalidInputError)
    expect(err.code).toBe('ERR_INVALID_INPUT')
    expect(err.issues.map((i) => i.path)).toEqual(['text', 'cpuMs', ''])
    expect(err.message).toMatch(/text: .*cpuMs: /)
    await expect(e.submit({ type: 'gate', input: { n: 'one' } })).rejects.toMatchObject({
      code: 'ERR_INVALID_INPUT',
      issues: [{ path: 'n' }],
    })
    expect(gate.runs).toHaveLength(0)
    expect(e.list()).toEqual([])
  })

  it('keeps the error short for an input with thousands of problems', async () => {
    const e = make({
      backends: [
        {
          name: 'many',
          taskTypes: [{ name: 'many', input: z.array(z.string()) }],
          async load() {},
          async run() {
            return null
          },
          async unload() {},
        },
      ],
    })
    const err = (await e
      .submit({ type: 'many', input: Array.from({ length: 5000 }, () => 1) })
      .catch((x: unknown) => x)) as InvalidInputError
    expect(err.issues).toHaveLength(20)
    expect(err.issues[19]?.path).toBe('[19]')
    expect(err.message).toMatch(/; and 4980 more$/)
  })

  it('rejects malformed requests with ERR_INVALID_REQUEST naming the field', async () => {
    const e = make({ backends: [mockBackend({ worker: false })] })
    const cases: Array<[unknown, string]> = [
      [{ type: 'mock', input: {}, id: 'has space' }, 'id:'],
      [{ type: 'mock', input: {}, id: 'x'.repeat(129) }, 'id:'],
      [{ type: '', input: {} }, 'type:'],
      [{ type: 'X'.repeat(100_000), input: {} }, 'type:'],
      [{ type: 'mock', input: {}, priority: 1.5 }, 'priority:'],
      [{ type: 'mock', input: {}, timeoutMs: 0 }, 'timeoutMs:'],
      [{ type: 'mock', input: {}, timeoutMs: 10_000_000 }, 'timeoutMs:'],
      [{ type: 'mock', input: {}, meta: { peer: 5 } }, 'meta.peer:'],
      [null, 'object'],
    ]
    for (const [request, field] of cases) {
      const err = await e.submit(request as never).catch((x: unknown) => x)
      expect(err, JSON.stringify(request)).toBeInstanceOf(InvalidRequestError)
      expect((err as Error).message).toContain(field)
    }
  })

  it('rejects with ERR_QUEUE_FULL once maxQueueLength tasks wait, and never grows past it', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 1, maxQueueLength: 3 })
    const handles = [await e.submit({ type: 'gate' })]
    for (let i = 0; i < 3; i++) handles.push(await e.submit({ type: 'gate' }))
    await expect(e.submit({ type: 'gate' })).rejects.toBeInstanceOf(QueueFullError)
    await expect(e.submit({ type: 'gate' })).rejects.toMatchObject({ code: 'ERR_QUEUE_FULL' })
    expect(e.capabilities()).toMatchObject({ running: 1, queued: 3, load: 4 })
    expect(e.health()).toMatchObject({ status: 'degraded', detail: 'queue 3/3' })
    gate.runs[0]!.resolve(1)
    await handles[0]!.result()
    // A slot freed, a queued task started, and there is room for one more.
    await e.submit({ type: 'gate' })
  })

  it('validates its own init and the backends it is given', () => {
    expect(() => taskEngine({ concurrency: 0 })).toThrow(InvalidConfigError)
    expect(() => taskEngine({ maxQueueLength: -1 })).toThrow(/maxQueueLength/)
    expect(() => taskEngine({ timeoutMs: 1.5 })).toThrow(/timeoutMs/)
    const e = make()
    expect(() => e.backends.register({ name: 'Bad Name' } as Backend)).toThrow(InvalidBackendError)
    expect(() => e.backends.register({ ...gateBackend().backend, taskTypes: [] })).toThrow(
      /at least one task type/,
    )
    expect(() =>
      e.backends.register({ ...gateBackend().backend, taskTypes: [{ name: 'x', input: {} as never }] }),
    ).toThrow(/Standard Schema/)
    e.backends.register(gateBackend().backend)
    expect(() => e.backends.register(gateBackend().backend)).toThrow(BackendConflictError)
    expect(() => e.backends.register(gateBackend({ name: 'other' }).backend)).toThrow(
      /already served by backend "gate"/,
    )
    expect(() =>
      e.backends.register(gateBackend({ name: 'g2', type: 'g2' }).backend, { placement: 'worker' }),
    ).toThrow(/no `worker` recipe/)
  })
})

describe('taskEngine: queue order and concurrency', () => {
  it('ranks a task without a priority at DEFAULT_PRIORITY, 5: below a higher one, above a lower one', async () => {
    expect(DEFAULT_PRIORITY).toBe(5)
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 1 })
    await e.submit({ id: 'first', type: 'gate' })
    await e.submit({ id: 'low', type: 'gate', priority: 4 })
    await e.submit({ id: 'plain', type: 'gate' })
    await e.submit({ id: 'high', type: 'gate', priority: 6 })
    expect(e.get('plain')?.priority).toBe(5)
    expect(e.list({ status: 'QUEUED' }).map((r) => r.id)).toEqual(['high', 'plain', 'low'])
  })

  it('never runs more than `concurrency` tasks and starts higher priorities first, FIFO among equals', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 2 })
    const started: string[] = []
    e.addEventListener('task:started', (event) => started.push(event.detail.id))
    await e.submit({ id: 'a', type: 'gate' })
    await e.submit({ id: 'b', type: 'gate' })
    await e.submit({ id: 'low', type: 'gate', priority: -1 })
    await e.submit({ id: 'n1', type: 'gate' })
    await e.submit({ id: 'high', type: 'gate', priority: DEFAULT_PRIORITY + 1 })
    await e.submit({ id: 'n2', type: 'gate' })
    expect(e.capabilities()).toMatchObject({ running: 2, queued: 4 })
    expect(e.list({ status: 'QUEUED' }).map((r) => r.id)).toEqual(['n2', 'high', 'n1', 'low'])
    let finished = 0
    while (finished < 6) {
      await until(() => gate.runs.length > finished)
      expect(e.capabilities().running).toBeLessThanOrEqual(2)
      gate.runs[finished]!.resolve(finished)
      finished++
    }
    await until(() => e.list({ status: 'COMPLETED' }).length === 6)
    expect(started).toEqual(['a', 'b', 'high', 'n1', 'n2', 'low'])
  })

  it('caps each backend at its own concurrency while others use the free slots', async () => {
    const single = gateBackend({ name: 'single', type: 'single', concurrency: 1 })
    const multi = gateBackend({ name: 'multi', type: 'multi' })
    const e = make({ backends: [single.backend, multi.backend], concurrency: 3 })
    await e.submit({ type: 'single' })
    await e.submit({ type: 'single' })
    await e.submit({ type: 'multi' })
    await e.submit({ type: 'multi' })
    expect(single.runs).toHaveLength(1)
    expect(multi.runs).toHaveLength(2)
    expect(e.backends.list().map((b) => [b.name, b.running, b.queued, b.concurrency])).toEqual([
      ['single', 1, 1, 1],
      ['multi', 2, 0, 3],
    ])
  })
})

describe('taskEngine: ids and idempotency', () => {
  it('returns the existing task for a duplicate id instead of running it twice', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const first = await e.submit({ id: 'req-1', type: 'gate' })
    const again = await e.submit({ id: 'req-1', type: 'gate' })
    expect(again).toBe(first)
    gate.runs[0]!.resolve('once')
    await first.result()
    const afterwards = await e.submit({ id: 'req-1', type: 'gate' })
    expect(afterwards.status).toBe('COMPLETED')
    expect((await afterwards.result()).output).toBe('once')
    expect(await afterwards.output()).toBe('once')
    expect(gate.runs).toHaveLength(1)
  })

  it('refuses a known id with another task type (ERR_TASK_ID_CONFLICT)', async () => {
    const e = make({ backends: [mockBackend({ worker: false }), gateBackend().backend] })
    await e.run({ id: 'shared', type: 'mock', input: {} })
    await expect(e.submit({ id: 'shared', type: 'gate' })).rejects.toBeInstanceOf(TaskIdConflictError)
  })

  it('runs the id of a cancelled task anew: a cancelled run has no result to answer a retry with', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const first = await e.submit({ id: 'req-cancelled', type: 'gate' })
    expect(first.cancel()).toBe(true)
    expect((await first.result()).status).toBe('CANCELLED')
    const again = await e.submit({ id: 'req-cancelled', type: 'gate' })
    expect(again).not.toBe(first)
    await until(() => gate.runs.length === 2)
    gate.runs[1]!.resolve('second run')
    expect(await again.output()).toBe('second run')
    expect(e.get('req-cancelled')).toMatchObject({ status: 'COMPLETED', output: 'second run' })
  })

  it('generates distinct ids when none is given', async () => {
    const e = make({ backends: [mockBackend({ worker: false })] })
    const ids = new Set<string>()
    for (let i = 0; i < 50; i++) ids.add((await e.submit({ type: 'mock', input: {} })).id)
    expect(ids.size).toBe(50)
  })
})

describe('taskEngine: failures, timeouts and cancellation', () => {
  it('turns an uncoded backend error into FAILED with ERR_BACKEND_FAILED and its message', async () => {
    const e = make({
      backends: [
        {
          name: 'buggy',
          taskTypes: [{ name: 'buggy', input: z.unknown() }],
          async load() {},
          async run() {
            throw new TypeError("Cannot read properties of undefined (reading 'x')")
          },
          async unload() {},
        },
      ],
    })
    const record = await (await e.submit({ type: 'buggy', input: null })).result()
    expect(record).toMatchObject({
      status: 'FAILED',
      error: { code: 'ERR_BACKEND_FAILED', message: "Cannot read properties of undefined (reading 'x')" },
    })
    expect(record.output).toBeUndefined()
    await expect(e.run({ type: 'buggy', input: 1 })).rejects.toMatchObject({ code: 'ERR_BACKEND_FAILED' })
    expect(e.health().status).toBe('healthy')
  })

  it('copes with a JavaScript backend whose run returns a plain value or throws synchronously', async () => {
    const e = make({
      backends: [
        {
          name: 'plain',
          taskTypes: [{ name: 'plain', input: z.object({ fail: z.boolean() }) }],
          async load() {},
          run: ((task: { input: { fail: boolean } }) => {
            if (task.input.fail) throw new Error('sync throw')
            return 'plain value'
          }) as unknown as Backend['run'],
          async unload() {},
        },
      ],
    })
    expect(await e.run({ type: 'plain', input: { fail: false } })).toBe('plain value')
    await expect(e.run({ type: 'plain', input: { fail: true } })).rejects.toMatchObject({
      code: 'ERR_BACKEND_FAILED',
      message: 'sync throw',
    })
  })

  it('keeps a coded backend error as it is', async () => {
    const e = make({ backends: [mockBackend({ worker: false })] })
    const record = await (await e.submit({ type: 'mock', input: { fail: true } })).result()
    expect(record.error).toEqual({ code: 'ERR_MOCK_FAILURE', message: `mock failure for task ${record.id}` })
    await expect(e.run({ type: 'mock', input: { fail: true } })).rejects.toMatchObject({
      code: 'ERR_MOCK_FAILURE',
      name: 'MockFailureError',
    })
  })

  it('fails a task whose backend fails to load, and retries the load for the next task', async () => {
    let attempts = 0
    const e = make({
      backends: [
        {
          name: 'flaky',
          taskTypes: [{ name: 'flaky', input: z.unknown() }],
          async load() {
            attempts++
            if (attempts === 1)
              throw Object.assign(new Error('model file missing'), { code: 'ERR_MODEL_NOT_FOUND' })
          },
          async run() {
            return 'ran'
          },
          async unload() {},
        },
      ],
    })
    const first = await (await e.submit({ type: 'flaky', input: 0 })).result()
    expect(first.error).toEqual({ code: 'ERR_MODEL_NOT_FOUND', message: 'model file missing' })
    expect(e.health()).toMatchObject({ status: 'degraded' })
    expect(e.health().detail).toContain('backend flaky failed to load: ERR_MODEL_NOT_FOUND')
    expect(await e.run({ type: 'flaky', input: 0 })).toBe('ran')
    expect(e.health().status).toBe('healthy')
  })

  it('times a running task out with TIMEOUT and aborts its signal', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const handle = await e.submit({ type: 'gate', timeoutMs: 30 })
    await gate.started(1)
    const record = await handle.result()
    expect(record.status).toBe('TIMEOUT')
    expect(record.error?.code).toBe('ERR_TASK_TIMEOUT')
    expect(gate.runs[0]!.options.signal.aborted).toBe(true)
    expect(gate.runs[0]!.options.signal.reason).toBeInstanceOf(TaskTimeoutError)
    expect(record.finishedAt! - record.startedAt!).toBeGreaterThanOrEqual(25)
    await expect(handle.output()).rejects.toBeInstanceOf(TaskTimeoutError)
  })

  it('uses the default timeout of 30 s', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const handle = await e.submit({ type: 'gate' })
    await gate.started(1)
    await sleep(20)
    expect(handle.status).toBe('RUNNING')
    expect(e.capabilities().running).toBe(1)
  })

  it('cancels a queued task at once: it never starts', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 1 })
    const running = await e.submit({ type: 'gate' })
    const queued = await e.submit({ type: 'gate' })
    expect(queued.cancel()).toBe(true)
    expect(queued.cancel()).toBe(false)
    expect(await queued.result()).toMatchObject({
      status: 'CANCELLED',
      error: { code: 'ERR_TASK_CANCELLED' },
    })
    expect(e.capabilities().queued).toBe(0)
    gate.runs[0]!.resolve(1)
    await running.result()
    await sleep(5)
    expect(gate.runs).toHaveLength(1)
  })

  it('cancels a running task: CANCELLED at once, signal aborted, slot back when the backend stops', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 1 })
    const handle = await e.submit({ type: 'gate' })
    const next = await e.submit({ type: 'gate' })
    await gate.started(1)
    expect(e.cancel(handle.id)).toBe(true)
    expect(handle.status).toBe('CANCELLED')
    expect(gate.runs[0]!.options.signal.reason).toBeInstanceOf(TaskCancelledError)
    await expect(handle.output()).rejects.toMatchObject({ code: 'ERR_TASK_CANCELLED' })
    await gate.started(2)
    expect(next.status).toBe('RUNNING')
    expect(e.cancel(handle.id)).toBe(false)
    expect(() => e.cancel('never-submitted')).toThrow(TaskNotFoundError)
  })

  it('takes the slot back after the grace period from a backend that ignores its signal', async () => {
    const gate = gateBackend({ ignoreAbort: true })
    const e = make({ backends: [gate.backend], concurrency: 1, cancelGraceMs: 50 })
    const handle = await e.submit({ type: 'gate' })
    const next = await e.submit({ type: 'gate' })
    await gate.started(1)
    handle.cancel()
    expect(next.status).toBe('QUEUED')
    await gate.started(2)
    expect(next.status).toBe('RUNNING')
    expect(e.health()).toMatchObject({ status: 'degraded', checks: { abandonedRuns: 1 } })
    // The abandoned run returns eventually; its late output is ignored.
    gate.runs[0]!.resolve('late')
    await until(() => e.health().checks.abandonedRuns === 0)
    expect(handle.record()).toMatchObject({ status: 'CANCELLED' })
    expect(handle.record().output).toBeUndefined()
  })

  it('cancels through the signal given to run()', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const controller = new AbortController()
    const result = e.run({ id: 'r', type: 'gate' }, { signal: controller.signal })
    await gate.started(1)
    controller.abort()
    await expect(result).rejects.toMatchObject({ code: 'ERR_TASK_CANCELLED' })
    expect(e.get('r')?.status).toBe('CANCELLED')
  })
})

describe('taskEngine: queries', () => {
  it('lists newest first with status, type, limit and offset', async () => {
    let clock = 0
    const gate = gateBackend()
    const e = make({ backends: [mockBackend({ worker: false }), gate.backend], now: () => clock++ })
    for (let i = 0; i < 5; i++) await e.run({ id: `m${i}`, type: 'mock', input: {} })
    await e.submit({ id: 'g0', type: 'gate' })
    expect(e.list().map((r) => r.id)).toEqual(['g0', 'm4', 'm3', 'm2', 'm1', 'm0'])
    expect(e.list({ limit: 2, offset: 1 }).map((r) => r.id)).toEqual(['m4', 'm3'])
    expect(e.list({ status: 'RUNNING' }).map((r) => r.id)).toEqual(['g0'])
    expect(e.list({ type: 'mock', limit: 1 }).map((r) => r.id)).toEqual(['m4'])
    expect(e.list({ status: 'FAILED' })).toEqual([])
    expect(() => e.list({ limit: 0 })).toThrow(InvalidRequestError)
    expect(() => e.list({ status: 'DONE' as never })).toThrow(/status/)
    expect(() => e.list({ offset: -1 })).toThrow(/offset/)
    expect(e.get('nope')).toBeUndefined()
  })

  it('answers status queries without the output when asked to', async () => {
    const e = make({ backends: [mockBackend({ worker: false })] })
    const done = await (await e.submit({ id: 'out', type: 'mock', input: { text: 'result' } })).result()
    const { output, ...status } = done
    expect(output).toMatchObject({ text: 'result' })
    expect(e.get('out', { output: false })).toEqual(status)
    expect(e.list({ output: false })).toEqual([status])
    expect(e.get('out')).toEqual(done)
  })

  it('keeps at most historyLimit finished records in memory without a store', async () => {
    const e = make({ backends: [mockBackend({ worker: false })], historyLimit: 3 })
    for (let i = 0; i < 5; i++) await e.run({ id: `t${i}`, type: 'mock', input: {} })
    expect(e.list().map((r) => r.id)).toEqual(['t4', 't3', 't2'])
    expect(e.get('t0')).toBeUndefined()
  })

  it('evicts the oldest records once their outputs pass historyMaxBytes, keeping the newest', async () => {
    const e = make({ backends: [mockBackend({ worker: false })], historyMaxBytes: 50_000 })
    const text = 'x'.repeat(15_000) // ~30 KB per output (UTF-16)
    for (let i = 0; i < 3; i++) await e.run({ id: `big${i}`, type: 'mock', input: { text } })
    expect(e.list().map((r) => r.id)).toEqual(['big2'])
    await e.stop()
    const huge = make({ backends: [mockBackend({ worker: false })], historyMaxBytes: 1 })
    await huge.run({ id: 'only', type: 'mock', input: { text } })
    expect(huge.get('only')?.status).toBe('COMPLETED')
  })

  it('describes its capabilities for peers', async () => {
    const models = [
      { name: 'echo', sha256: 'ab'.repeat(32), sizeBytes: 1, taskTypes: ['mock'], loaded: true },
    ]
    engine = taskEngine({
      backends: [mockBackend({ worker: false, models })],
      concurrency: 2,
      maxQueueLength: 10,
    })
    expect(engine.capabilities()).toEqual({
      taskTypes: [
        { name: 'mock', description: expect.any(String), backend: 'mock' },
        { name: 'chunk', description: expect.any(String), backend: 'text' },
      ],
      models,
      concurrency: 2,
      running: 0,
      queued: 0,
      maxQueueLength: 10,
      load: 0,
    })
  })

  it('reports degraded health without backends and unhealthy once stopped', async () => {
    const e = make()
    expect(e.health()).toMatchObject({ status: 'degraded', detail: 'no backends registered' })
    await e.stop()
    expect(e.health().status).toBe('unhealthy')
  })
})

describe('taskEngine: backends come and go', () => {
  it('unregisters a backend after its admitted tasks finish', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const handle = await e.submit({ type: 'gate' })
    await gate.started(1)
    let unregistered = false
    const removal = e.backends.unregister('gate').then(() => {
      unregistered = true
    })
    await expect(e.submit({ type: 'gate' })).rejects.toBeInstanceOf(UnsupportedTaskTypeError)
    await sleep(5)
    expect(unregistered).toBe(false)
    gate.runs[0]!.resolve('finished anyway')
    await removal
    expect((await handle.result()).output).toBe('finished anyway')
    expect(gate.unloads).toBe(1)
    expect(e.backends.list()).toEqual([])
    await expect(e.backends.unregister('gate')).rejects.toMatchObject({ code: 'ERR_BACKEND_NOT_FOUND' })
  })
})

describe('taskEngine: stop', () => {
  it('cancels queued tasks, lets running ones finish, then refuses work', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 1 })
    const running = await e.submit({ type: 'gate' })
    const queued = await e.submit({ type: 'gate' })
    await gate.started(1)
    const stopping = e.stop({ timeoutMs: 5000 })
    expect(await queued.result()).toMatchObject({
      status: 'CANCELLED',
      error: { code: 'ERR_ENGINE_STOPPED' },
    })
    await expect(e.submit({ type: 'gate' })).rejects.toBeInstanceOf(EngineStoppedError)
    gate.runs[0]!.resolve('done in time')
    await stopping
    expect(await running.result()).toMatchObject({ status: 'COMPLETED', output: 'done in time' })
    expect(e.stopped).toBe(true)
    expect(e.stop()).toBe(stopping)
  })

  it('cancels running tasks that outlive the stop timeout', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const handle = await e.submit({ type: 'gate' })
    await gate.started(1)
    await e.stop({ timeoutMs: 20 })
    const record: TaskRecord = await handle.result()
    expect(record).toMatchObject({ status: 'CANCELLED', error: { code: 'ERR_ENGINE_STOPPED' } })
  })

  it('stops waiting when the stop signal aborts', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const handle = await e.submit({ type: 'gate' })
    await gate.started(1)
    await e.stop({ timeoutMs: 60_000, signal: AbortSignal.timeout(20) })
    expect(handle.status).toBe('CANCELLED')
  })
})
