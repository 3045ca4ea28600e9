// Worker-hosted fixtures run the compiled `dist/` of this package: `pnpm build` first.
import { afterEach, describe, expect, it } from 'vitest'
import type { Backend, BackendSettings } from '../src/backend.js'
import { type TaskEngine, taskEngine } from '../src/engine/engine.js'
import { InvalidConfigError, ModelTooLargeError, QueueFullError } from '../src/errors.js'
import { memoryBudget } from '../src/memory/budget.js'
import { gateBackend, until } from './engine-helpers.js'
import { loader } from './fixtures/engine/backends.mjs'

const MIB = 1024 * 1024

let engine: TaskEngine | undefined
afterEach(async () => {
  await engine?.stop({ timeoutMs: 0 })
  engine = undefined
})

function make(init: Parameters<typeof taskEngine>[0] = {}): TaskEngine {
  engine = taskEngine({ builtins: false, ...init })
  return engine
}

describe('engine limits', () => {
  it('starts at most `slots` tasks at once, reports them as its concurrency, and starts more when raised', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 4 })
    e.setLimits({ slots: 1 })
    expect(e.capabilities().concurrency).toBe(1)
    expect(e.load()).toMatchObject({ concurrency: 1 })
    const handles = await Promise.all([1, 2, 3].map(() => e.submit({ type: 'gate' })))
    await gate.started(1)
    expect(e.load()).toMatchObject({ running: 1, queued: 2 })
    e.setLimits({ slots: 3 })
    await gate.started(3)
    expect(e.load()).toMatchObject({ running: 3, queued: 0 })
    for (const run of gate.runs) run.resolve({ ok: true })
    await Promise.all(handles.map((h) => h.result()))
    // More than the engine's concurrency counts as that.
    expect(e.setLimits({ slots: 99 }).slots).toBe(4)
  })

  it('holds queued tasks while `hold` is set and lets the running one finish', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend], concurrency: 2 })
    const first = await e.submit({ type: 'gate' })
    await gate.started(1)
    e.setLimits({ hold: true })
    const second = await e.submit({ type: 'gate' })
    gate.runs[0]?.resolve({ n: 1 })
    expect((await first.result()).status).toBe('COMPLETED')
    expect(second.status).toBe('QUEUED')
    // Holding is not announced: the concurrency stays.
    expect(e.capabilities().concurrency).toBe(2)
    e.setLimits({ hold: false })
    await gate.started(2)
    gate.runs[1]?.resolve({ n: 2 })
    expect((await second.result()).status).toBe('COMPLETED')
  })

  it('refuses bad limits and changes nothing', () => {
    const e = make({ backends: [gateBackend().backend] })
    expect(() => e.setLimits({ slots: 0 })).toThrow(InvalidConfigError)
    expect(() => e.setLimits({ cores: -1 })).toThrow(InvalidConfigError)
    expect(() => e.setLimits({ memoryBytes: 0 })).toThrow(InvalidConfigError)
    expect(e.limits).toMatchObject({ slots: 4, cores: undefined, hold: false })
  })

  it('records the reason a task was cancelled with, or forgets it so that its id runs anew', async () => {
    const gate = gateBackend()
    const e = make({ backends: [gate.backend] })
    const handle = await e.submit({ type: 'gate', id: 'handed-back' })
    await gate.started(1)
    e.cancel(handle.id, { reason: new QueueFullError('handed back: this node paused'), forget: true })
    expect((await handle.result()).error).toEqual({
      code: 'ERR_QUEUE_FULL',
      message: 'handed back: this node paused',
    })
    expect(e.get('handed-back')).toBeUndefined()
    const again = await e.submit({ type: 'gate', id: 'handed-back' })
    await gate.started(2)
    gate.runs[1]?.resolve({ ok: true })
    expect((await again.result()).status).toBe('COMPLETED')
  })

  it('spreads `cores` over each backend as threads per task, in-process and in worker threads', async () => {
    const seen: BackendSettings[] = []
    const inProcess: Backend = {
      ...gateBackend({ name: 'pair', type: 'pair', concurrency: 2 }).backend,
      configure: (settings) => void seen.push(settings),
    }
    const e = make({ backends: [inProcess, loader()], concurrency: 4 })
    e.setLimits({ cores: 6 })
    // `pair` runs 2 tasks at once: 3 threads each; the loader runs 4 (the engine's concurrency).
    expect(seen.at(-1)).toEqual({ threads: 3 })
    expect(await e.run({ type: 'loader', input: {} })).toMatchObject({ threads: 1 })
    e.setLimits({ slots: 1 })
    expect(seen.at(-1)).toEqual({ threads: 6 })
    // The running worker hears of it by message, before the next task it runs.
    expect(await e.run({ type: 'loader', input: {} })).toMatchObject({ threads: 6 })
    e.setLimits({ cores: undefined })
    expect(seen.at(-1)).toEqual({})
  })
})

describe('memory budget', () => {
  it('refuses what exceeds the whole budget, at once', async () => {
    const budget = memoryBudget(10 * MIB)
    const err = await budget
      .account('a')
      .reserve(11 * MIB, { what: 'model big' })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ModelTooLargeError)
    expect(err).toMatchObject({
      code: 'ERR_MODEL_TOO_LARGE',
      requiredBytes: 11 * MIB,
      budgetBytes: 10 * MIB,
      message: expect.stringMatching(
        /^model big needs about 11\.0 MiB, more than the memory budget of 10\.0 MiB/,
      ),
    })
  })

  it("makes room by unloading idle models, the reserving holder's own first, then others'", async () => {
    const budget = memoryBudget(10 * MIB)
    const asked: string[] = []
    const holder = (name: string) => {
      const account = budget.account(name)
      const held: Array<{ bytes: number; release(): void }> = []
      account.onPressure((bytes) => {
        asked.push(name)
        let freed = 0
        while (freed < bytes && held.length > 0) {
          const r = held.shift()!
          r.release()
          freed += r.bytes
        }
        return freed
      })
      return { account, held }
    }
    const a = holder('a')
    const b = holder('b')
    b.held.push(await b.account.reserve(6 * MIB))
    a.held.push(await a.account.reserve(3 * MIB))
    a.held.push(await a.account.reserve(5 * MIB))
    // a had 3 MiB idle, which was not enough: then b was asked.
    expect(asked).toEqual(['a', 'b'])
    expect(budget.usage()).toMatchObject({ usedBytes: 5 * MIB, holders: [{ holder: 'a', bytes: 5 * MIB }] })
  })

  it('waits for models in use to be released, and a lower limit sheds idle ones', async () => {
    const budget = memoryBudget(10 * MIB)
    const busy = await budget.account('busy').reserve(8 * MIB)
    let granted = false
    const next = budget.account('next')
    const waiting = next.reserve(4 * MIB).then((r) => {
      granted = true
      return r
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(granted).toBe(false)
    busy.release()
    const r = await waiting
    expect(budget.usedBytes).toBe(4 * MIB)

    next.onPressure(() => {
      r.release()
      return r.bytes
    })
    budget.setLimit(2 * MIB)
    await until(() => budget.usedBytes === 0)
  })

  it('gives up waiting when its signal aborts', async () => {
    const budget = memoryBudget(2 * MIB)
    await budget.account('busy').reserve(2 * MIB)
    const controller = new AbortController()
    const waiting = budget.account('next').reserve(MIB, { signal: controller.signal })
    controller.abort(new Error('task cancelled'))
    await expect(waiting).rejects.toThrow('task cancelled')
  })

  it('serves backends in worker threads: a model that does not fit unloads an idle one, a larger one is refused', async () => {
    const e = make({ backends: [loader()], concurrency: 1, memoryLimitBytes: 3 * MIB })
    expect(await e.run({ type: 'loader', input: { mode: 'a', count: 2 } })).toMatchObject({ models: ['a'] })
    expect(e.memory()).toMatchObject({
      usedBytes: 2 * MIB,
      holders: [{ holder: 'loader#0', bytes: 2 * MIB }],
    })
    expect(await e.run({ type: 'loader', input: { mode: 'b', count: 2 } })).toMatchObject({ models: ['b'] })
    const record = await (await e.submit({ type: 'loader', input: { mode: 'c', count: 4 } })).result()
    expect(record.error).toMatchObject({ code: 'ERR_MODEL_TOO_LARGE' })
    await e.stop()
    expect(e.memory().usedBytes).toBe(0)
  })
})
