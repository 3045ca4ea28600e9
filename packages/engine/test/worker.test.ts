// Worker threads run the compiled `dist/` of this package (Node.js 20 cannot load TypeScript), so
// these tests need `pnpm build` first, like every test that imports a sibling package.
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { threadId } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { mockBackend } from '../src/backends/mock.js'
import { type TaskEngine, taskEngine } from '../src/engine/engine.js'
import { runnableModuleUrl } from '../src/worker/module-url.js'
import { until } from './engine-helpers.js'
import {
  catalog,
  crashing,
  failing_load,
  guarded,
  sloppy,
  streaming,
  stuck,
  threaded,
} from './fixtures/engine/backends.mjs'

const run = promisify(execFile)

let engine: TaskEngine | undefined
let tmp: string | undefined
afterEach(async () => {
  await engine?.stop({ timeoutMs: 0 })
  engine = undefined
  if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true })
  tmp = undefined
})

/** A temporary directory for this test, removed after it. */
function dir(): string {
  tmp ??= mkdtempSync(join(tmpdir(), 'p2p-ai-worker-'))
  return tmp
}

function make(init: Parameters<typeof taskEngine>[0] = {}): TaskEngine {
  engine = taskEngine({ builtins: false, ...init })
  return engine
}

describe('worker pool', () => {
  it('runs hosted backends off the main thread, reusing at most `concurrency` threads', async () => {
    const e = make({ backends: [await threaded()], concurrency: 2 })
    const outputs = await Promise.all(
      Array.from({ length: 6 }, () => e.run<{ threadId: number }>({ type: 'threaded', input: { ms: 5 } })),
    )
    const threads = new Set(outputs.map((o) => o.threadId))
    expect(threads.has(threadId)).toBe(false)
    expect(threads.size).toBeGreaterThanOrEqual(1)
    expect(threads.size).toBeLessThanOrEqual(2)
    expect(e.backends.list()).toMatchObject([
      { name: 'threaded', placement: 'worker', threads: threads.size },
    ])
  })

  it('forwards progress reports from the worker', async () => {
    const e = make({ backends: [await threaded()] })
    const handle = await e.submit({ type: 'threaded', input: { ms: 120 } })
    const fractions: number[] = []
    handle.addEventListener('progress', (event) => fractions.push(event.detail.fraction))
    await handle.result()
    expect(fractions.length).toBeGreaterThanOrEqual(2)
    expect(fractions.at(-1)).toBe(1)
  })

  it('forwards every text delta from a worker, however fast they come', async () => {
    const e = make({ backends: [streaming()] })
    const handle = await e.submit({ type: 'streaming', input: { count: 500 } })
    let streamed = ''
    handle.addEventListener('progress', (event) => {
      streamed += event.detail.delta ?? ''
    })
    const output = (await handle.output()) as { text: string }
    expect(output.text).toHaveLength(500)
    expect(streamed).toBe(output.text)
  })

  it('renews the workers of a hosted backend on reload, from its init as it is now, letting a running task finish', async () => {
    const backend = await catalog({ models: ['a'] })
    const e = make({ backends: [backend], concurrency: 1 })
    const run = async (ms = 0) => (await e.submit({ type: 'catalog', input: { ms } })).output()
    const first = (await run()) as { models: string[]; threadId: number }
    expect(first.models).toEqual(['a'])
    const running = await e.submit({ type: 'catalog', input: { ms: 200 } })
    await until(() => running.status === 'RUNNING')
    backend.add('b')
    e.backends.reload('catalog')
    // Announced at once, from the backend object, before any new worker exists.
    expect(e.capabilities().models.map((m) => m.name)).toEqual(['a', 'b'])
    expect(((await running.output()) as { models: string[] }).models).toEqual(['a'])
    const next = (await run()) as { models: string[]; threadId: number }
    expect(next.models).toEqual(['a', 'b'])
    expect(next.threadId).not.toBe(first.threadId)
    expect(e.capabilities().models.map((m) => m.name)).toEqual(['a', 'b'])
    expect(() => e.backends.reload('nope')).toThrow(
      expect.objectContaining({ code: 'ERR_BACKEND_NOT_FOUND' }),
    )
  })

  it('starts every worker up front with backends.load()', async () => {
    const e = make({ backends: [await threaded()], concurrency: 3 })
    await e.backends.load('threaded')
    expect(e.backends.list()[0]?.threads).toBe(3)
    await expect(e.backends.load('nope')).rejects.toMatchObject({ code: 'ERR_BACKEND_NOT_FOUND' })
  })

  it('keeps the process alive while backends.load() starts the workers', async () => {
    const script = fileURLToPath(new URL('./fixtures/engine/warm.mjs', import.meta.url))
    const { stdout } = await run(process.execPath, [script])
    expect(stdout).toBe('loaded 2\nstopped\n')
  })

  it('fails only the task whose worker crashed, and replaces the worker', async () => {
    const e = make({ backends: [crashing()], concurrency: 2 })
    const healthy = e.run({ type: 'crashing', input: { mode: 'ok' } })
    const exited = await (await e.submit({ type: 'crashing', input: { mode: 'exit' } })).result()
    expect(exited).toMatchObject({ status: 'FAILED', error: { code: 'ERR_WORKER_CRASHED' } })
    expect(exited.error?.message).toMatch(/exited with code 3 while running task/)
    const thrown = await (await e.submit({ type: 'crashing', input: { mode: 'throw-async' } })).result()
    expect(thrown).toMatchObject({ status: 'FAILED', error: { code: 'ERR_WORKER_CRASHED' } })
    expect(thrown.error?.message).toContain('boom from a timer')
    expect(await healthy).toEqual({ ok: true })
    expect(await e.run({ type: 'crashing', input: { mode: 'ok' } })).toEqual({ ok: true })
    expect(e.health().checks.workerCrashes).toBe(2)
  })

  it('terminates a worker stuck in a CPU loop on cancel, within 2 s, and keeps serving', async () => {
    const e = make({ backends: [stuck()], concurrency: 1 })
    const spinning = await e.submit({ type: 'stuck', input: {} })
    const next = await e.submit({ type: 'stuck', input: { mode: 'ok' } })
    await until(() => spinning.record().progress?.message === 'spinning')
    const cancelledAt = performance.now()
    expect(spinning.cancel()).toBe(true)
    expect(spinning.status).toBe('CANCELLED')
    expect(await next.output()).toEqual({ ok: true })
    // The slot came back only once the stuck thread was terminated (default grace: 1 s).
    expect(performance.now() - cancelledAt).toBeLessThan(2000)
    expect(e.health().checks.workerCrashes).toBe(0)
  })

  it("never terminates a cancelled task's worker inside a native call: it waits for the call to return", async () => {
    // With cancelGraceMs 1 the worker is terminated as soon as it may be, and replaced.
    const e = make({ backends: [await guarded()], concurrency: 1, cancelGraceMs: 1 })
    const log = join(dir(), 'native.log')
    const before = (await e.run({ type: 'guarded', input: { ms: 1, log } })) as { threadId: number }
    const busy = await e.submit({ type: 'guarded', input: { ms: 600, log } })
    await new Promise((resolve) => busy.addEventListener('progress', resolve, { once: true }))
    await busy.cancel()
    expect((await busy.result()).status).toBe('CANCELLED')
    const after = (await e.run({ type: 'guarded', input: { ms: 1, log } })) as { threadId: number }
    // The cancelled call ran to its end (a thread terminated mid-call would not have logged it),
    // and only then was its thread terminated: the next task ran on a new one.
    expect(readFileSync(log, 'utf8')).toBe('returned\nreturned\nreturned\n')
    expect(after.threadId).not.toBe(before.threadId)
  })

  it('makes process.exit() wait for native calls in its workers instead of cutting them short', async () => {
    const log = join(dir(), 'exit.log')
    const child = await run(process.execPath, [
      fileURLToPath(new URL('./fixtures/engine/exit-in-native.mjs', import.meta.url)),
      log,
    ])
    expect(child.stderr).toBe('')
    // The process decided to exit while the call ran, and the call still returned.
    expect(readFileSync(log, 'utf8')).toBe('exiting\nreturned\n')
  })

  it('times out a stuck worker task with TIMEOUT', async () => {
    const e = make({ backends: [stuck()], cancelGraceMs: 100 })
    const record = await (await e.submit({ type: 'stuck', input: {}, timeoutMs: 100 })).result()
    expect(record).toMatchObject({ status: 'TIMEOUT', error: { code: 'ERR_TASK_TIMEOUT' } })
    expect(await e.run({ type: 'stuck', input: { mode: 'ok' } })).toEqual({ ok: true })
  })

  it('reports a backend that cannot load with its own code, without taking the engine down', async () => {
    const e = make({ backends: [failing_load(), mockBackend()] })
    const err = await e.run({ type: 'failing-load', input: {} }).catch((x: unknown) => x)
    expect(err).toMatchObject({
      code: 'ERR_MODEL_NOT_FOUND',
      name: 'ModelNotFoundError',
      message: 'model "nope" is not in the model directory',
    })
    expect(e.health()).toMatchObject({ status: 'degraded' })
    expect(e.health().detail).toContain('backend failing-load failed to load: ERR_MODEL_NOT_FOUND')
    expect(await e.run({ type: 'mock', input: { text: 'still here' } })).toMatchObject({ text: 'still here' })
  })

  it('maps uncoded errors and unserialisable outputs from workers to ERR_BACKEND_FAILED', async () => {
    const e = make({ backends: [sloppy()] })
    const result = async (mode: string) => (await e.submit({ type: 'sloppy', input: { mode } })).result()
    expect((await result('type-error')).error).toEqual({
      code: 'ERR_BACKEND_FAILED',
      message: 'cannot read properties of undefined',
    })
    expect((await result('string')).error).toEqual({ code: 'ERR_BACKEND_FAILED', message: 'a thrown string' })
    expect((await result('function')).error?.message).toMatch(/^output is not serialisable/)
  })

  it('keeps the main thread responsive while every worker is busy', async () => {
    const e = make({ backends: [stuck()], concurrency: 2, cancelGraceMs: 100 })
    const busy = [await e.submit({ type: 'stuck', input: {} }), await e.submit({ type: 'stuck', input: {} })]
    await until(() => busy.every((h) => h.record().progress?.message === 'spinning'))
    // Both workers spin forever; a timer on the main thread still fires, and queries still answer.
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(busy.map((h) => e.get(h.id)?.status)).toEqual(['RUNNING', 'RUNNING'])
    expect(e.capabilities()).toMatchObject({ running: 2, queued: 0 })
    for (const h of busy) h.cancel()
  })

  it('ends every worker thread on stop', async () => {
    const e = make({ backends: [await threaded()], concurrency: 2 })
    await e.backends.load('threaded')
    await e.stop()
    expect(e.backends.list()[0]?.threads).toBe(0)
  })

  it('runs everything in-process when workers are disabled', async () => {
    engine = taskEngine({ workers: false })
    expect(engine.backends.list()).toMatchObject([{ name: 'text', placement: 'main', threads: 0 }])
    const out = await engine.run<{ chunks: unknown[] }>({
      type: 'chunk',
      input: { text: 'One. Two.', size: 5 },
    })
    expect(out.chunks).toHaveLength(2)
  })

  it('runs the built-in chunk task in the pool by default', async () => {
    engine = taskEngine()
    const out = await engine.run<{ chunks: Array<{ text: string }> }>({
      type: 'chunk',
      input: { text: 'First sentence here. Second sentence here.', size: 25, overlap: 0 },
    })
    expect(out.chunks.map((c) => c.text)).toEqual(['First sentence here.', 'Second sentence here.'])
    expect(engine.backends.list()).toMatchObject([{ name: 'text', placement: 'worker', threads: 1 }])
    // CPU-bound: one core stays free for the main thread.
    expect(engine.backends.list()[0]?.concurrency).toBe(Math.min(4, Math.max(1, availableParallelism() - 1)))
  })
})

describe('runnableModuleUrl', () => {
  it("maps this package's sources to their compiled twins and leaves other modules alone", () => {
    const root = new URL('../', import.meta.url).href
    expect(runnableModuleUrl(`${root}src/backends/mock.ts`)).toBe(`${root}dist/backends/mock.js`)
    expect(runnableModuleUrl(`${root}dist/backends/mock.js`)).toBe(`${root}dist/backends/mock.js`)
    expect(runnableModuleUrl(`${root}test/fixtures/engine/backends.mjs`)).toBe(
      `${root}test/fixtures/engine/backends.mjs`,
    )
    expect(runnableModuleUrl('file:///elsewhere/src/x.ts')).toBe('file:///elsewhere/src/x.ts')
    expect(runnableModuleUrl('some-package/backend')).toBe('some-package/backend')
  })

  it("maps a plug-in package's sources the same way, once the plug-in is built", () => {
    const plugin = dir()
    writeFileSync(join(plugin, 'package.json'), '{"name":"plugin","type":"module"}')
    mkdirSync(join(plugin, 'src', 'backend'), { recursive: true })
    writeFileSync(join(plugin, 'src', 'backend', 'x.ts'), '')
    const source = pathToFileURL(join(plugin, 'src', 'backend', 'x.ts')).href
    // Not built yet: left alone, so the worker's import error names the real file.
    expect(runnableModuleUrl(source)).toBe(source)
    mkdirSync(join(plugin, 'dist', 'backend'), { recursive: true })
    writeFileSync(join(plugin, 'dist', 'backend', 'x.js'), '')
    expect(runnableModuleUrl(source)).toBe(pathToFileURL(join(plugin, 'dist', 'backend', 'x.js')).href)
  })
})
