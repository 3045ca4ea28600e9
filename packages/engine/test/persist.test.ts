import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Backend } from '../src/backend.js'
import { mockBackend } from '../src/backends/mock.js'
import { type TaskEngine, taskEngine } from '../src/engine/engine.js'
import { InvalidRequestError } from '../src/errors.js'
import { type ResultStore, resultStore } from '../src/store/store.js'
import type { TaskRecord } from '../src/types.js'
import { until } from './engine-helpers.js'

const dirs: string[] = []
const stores: ResultStore[] = []
const engines: TaskEngine[] = []
const holds: Array<() => void> = []
afterEach(async () => {
  // A failed test may leave writes held; stop() would wait for them forever.
  for (const release of holds.splice(0)) release()
  for (const engine of engines.splice(0)) await engine.stop({ timeoutMs: 0 })
  for (const store of stores.splice(0)) store.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'p2p-ai-persist-'))
  dirs.push(dir)
  return dir
}

function open(directory: string): ResultStore {
  const store = resultStore({ directory })
  stores.push(store)
  return store
}

function make(store: ResultStore, backends: Backend[] = [mockBackend({ worker: false })]): TaskEngine {
  const engine = taskEngine({ builtins: false, backends, store })
  engines.push(engine)
  return engine
}

/**
 * Holds every `putAsync` of a real file store until `release()`, so a test sees the moment between
 * the engine handing a record to the store and the store committing it.
 */
function holdWrites(store: ResultStore) {
  const putAsync = store.putAsync.bind(store)
  const held: Array<() => void> = []
  store.putAsync = (record) => new Promise<void>((resolve) => held.push(resolve)).then(() => putAsync(record))
  const release = (): void => {
    for (const go of held.splice(0)) go()
  }
  holds.push(release)
  return {
    get held(): number {
      return held.length
    },
    release,
  }
}

/** What the store and the engine answer for `id` at the moment `task:finished` fires. */
function atFinish(engine: TaskEngine, store: ResultStore, id: string) {
  const seen: { store?: TaskRecord | undefined; engine?: TaskRecord | undefined; events: number } = {
    events: 0,
  }
  engine.addEventListener('task:finished', (event) => {
    if (event.detail.id !== id) return
    seen.events++
    seen.store = store.get(id)
    seen.engine = engine.get(id)
  })
  return seen
}

const nonJson: Backend = {
  name: 'bigint',
  taskTypes: [{ name: 'bigint', input: mockBackend().taskTypes[0]!.input }],
  async load() {},
  async run() {
    return { n: 10n }
  },
  async unload() {},
}

describe("TaskRequest.persist: 'background'", () => {
  it('announces the result before the store commits it, and serves the record meanwhile', async () => {
    const directory = tempDir()
    const store = open(directory)
    const writes = holdWrites(store)
    const e = make(store)
    const seen = atFinish(e, store, 'bg')
    let started = 0
    e.addEventListener('task:started', () => started++)

    const handle = await e.submit({ id: 'bg', type: 'mock', input: { text: 'x' }, persist: 'background' })
    const done = await handle.result()

    expect(done.status).toBe('COMPLETED')
    expect(writes.held).toBe(1)
    expect(seen.store).toBeUndefined()
    expect(seen.engine).toEqual(done)
    expect(store.get('bg')).toBeUndefined()
    expect(e.get('bg')).toEqual(done)
    expect(e.get('bg', { output: false })?.output).toBeUndefined()
    expect(e.list().map((r) => r.id)).toEqual(['bg'])
    // A retry while the write is in flight is answered from memory and runs nothing.
    const retry = await e.submit({ id: 'bg', type: 'mock', input: { text: 'x' } })
    expect(await retry.result()).toEqual(done)
    expect(retry.cancel()).toBe(false)
    expect(started).toBe(1)

    writes.release()
    // stop() waits for the writes in flight before closing the store.
    await e.stop()
    expect(open(directory).get('bg')).toEqual(done)
  })

  it('keeps the announced COMPLETED result but stores FAILED for an output that is not JSON', async () => {
    const directory = tempDir()
    const store = open(directory)
    const e = make(store, [nonJson])
    const seen = atFinish(e, store, 'b')

    const handle = await e.submit({ id: 'b', type: 'bigint', input: {}, persist: 'background' })
    const done = await handle.result()
    expect(done).toMatchObject({ status: 'COMPLETED', output: { n: 10n } })
    expect(await handle.output()).toEqual({ n: 10n })

    await until(() => e.get('b')?.status === 'FAILED')
    expect(handle.status).toBe('FAILED')
    expect(seen.events).toBe(1)
    await e.stop()
    const kept = open(directory).get('b')
    expect(kept).toMatchObject({ status: 'FAILED', error: { code: 'ERR_BACKEND_FAILED' } })
    expect(kept?.error?.message).toMatch(/not JSON-serialisable/)
    expect(kept?.output).toBeUndefined()
  })
})

describe("TaskRequest.persist: 'before-result' (the default)", () => {
  it('resolves the result only once the store has committed the record', async () => {
    const store = open(tempDir())
    const writes = holdWrites(store)
    const e = make(store)
    const seen = atFinish(e, store, 'fg')

    const handle = await e.submit({ id: 'fg', type: 'mock', input: { text: 'x' } })
    let finished = false
    void handle.result().then(() => {
      finished = true
    })
    await until(() => writes.held === 1)
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
    expect(finished).toBe(false)
    expect(e.get('fg')?.status).toBe('COMPLETED')

    writes.release()
    const done = await handle.result()
    expect(seen.store).toEqual(done)
    expect(seen.engine).toEqual(done)
    expect(store.get('fg')).toEqual(done)
  })

  it("commits before resolving when asked explicitly with 'before-result'", async () => {
    const store = open(tempDir())
    const e = make(store)
    const seen = atFinish(e, store, 'explicit')
    const done = await (
      await e.submit({ id: 'explicit', type: 'mock', input: { text: 'x' }, persist: 'before-result' })
    ).result()
    expect(done.status).toBe('COMPLETED')
    expect(seen.store).toEqual(done)
  })
})

describe("TaskRequest.persist: 'memory'", () => {
  it('keeps the record in memory only: never written to the store, found again by id and in the list', async () => {
    const dir = tempDir()
    const store = open(dir)
    const e = make(store)
    let writes = 0
    const putAsync = store.putAsync.bind(store)
    store.putAsync = (record) => {
      writes++
      return putAsync(record)
    }
    const handle = await e.submit({ id: 'mem-1', type: 'mock', input: { text: 'x' }, persist: 'memory' })
    const done = await handle.result()
    expect(done.status).toBe('COMPLETED')
    expect(e.get('mem-1')).toEqual(done)
    expect(e.list().map((r) => r.id)).toContain('mem-1')
    // A retry of the same id joins the kept record and runs nothing.
    const retry = await e.submit({ id: 'mem-1', type: 'mock', input: { text: 'x' }, persist: 'memory' })
    expect(await retry.result()).toEqual(done)
    expect(writes).toBe(0)
    expect(store.get('mem-1')).toBeUndefined()
    // A stored task next to it still goes to the store.
    await (await e.submit({ id: 'disk-1', type: 'mock', input: { text: 'y' } })).result()
    expect(writes).toBe(1)
    expect(store.get('disk-1')?.status).toBe('COMPLETED')
  })

  it('does not consult the store for a memory-only id, so a stored record of an older run is not joined', async () => {
    const store = open(tempDir())
    const e = make(store)
    const first = await (await e.submit({ id: 'old', type: 'mock', input: { text: 'stored' } })).result()
    expect(store.get('old')).toEqual(first)
    // The default looks in the store and joins the stored record...
    const joined = await e.submit({ id: 'old', type: 'mock', input: { text: 'stored' } })
    expect(await joined.result()).toEqual(first)
    // ...a memory-only submission does not know it, and runs (task ids make re-running harmless).
    const again = await (
      await e.submit({ id: 'old', type: 'mock', input: { text: 'again' }, persist: 'memory' })
    ).result()
    expect(again.status).toBe('COMPLETED')
    expect(again.output).toMatchObject({ text: 'again' })
  })
})

describe('TaskRequest.persist: validation', () => {
  it('refuses an unknown value with ERR_INVALID_REQUEST naming the field and the choices', async () => {
    const store = open(tempDir())
    const e = make(store)
    const cases: Array<[unknown, string]> = [
      ['later', '"later"'],
      [true, 'true'],
      [1, '1'],
      [null, 'null'],
    ]
    for (const [persist, shown] of cases) {
      const err = await e.submit({ type: 'mock', input: {}, persist } as never).catch((x: unknown) => x)
      expect(err, shown).toBeInstanceOf(InvalidRequestError)
      expect(err).toMatchObject({ code: 'ERR_INVALID_REQUEST', name: 'InvalidRequestError' })
      expect((err as Error).message).toBe(
        `persist: must be 'before-result', 'background' or 'memory', got ${shown}`,
      )
    }
    expect(e.list()).toEqual([])
  })
})
