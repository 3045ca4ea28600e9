import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type ResultStore, resultStore } from '../src/store/store.js'
import { StoreWriter } from '../src/store/writer.js'
import type { TaskRecord } from '../src/types.js'

const dirs: string[] = []
const stores: ResultStore[] = []
const writers: StoreWriter[] = []
afterEach(async () => {
  for (const writer of writers.splice(0)) await writer.close()
  for (const store of stores.splice(0)) store.close()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A store file with its schema (the store creates it) and a writer thread of its own on it. */
function setup(groupCommitMs?: number): { directory: string; store: ResultStore; writer: StoreWriter } {
  const directory = mkdtempSync(join(tmpdir(), 'p2p-ai-store-writer-'))
  dirs.push(directory)
  const store = resultStore({ directory, purgeIntervalMs: 0, now: () => 2000 })
  stores.push(store)
  const writer = new StoreWriter({
    path: store.path,
    synchronous: 'NORMAL',
    ...(groupCommitMs === undefined ? {} : { groupCommitMs }),
  })
  writers.push(writer)
  return { directory, store, writer }
}

function record(id: string, overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id,
    type: 'mock',
    status: 'COMPLETED',
    priority: 0,
    backend: 'mock',
    queuedAt: 1000,
    startedAt: 1001,
    finishedAt: 1002,
    progress: { fraction: 1 },
    output: { text: id },
    ...overrides,
  }
}

const EXPIRES_AT = 1_000_000
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('the store writer thread (group commit)', () => {
  it('commits writes arriving one per event-loop turn in far fewer transactions than records', async () => {
    // A wide window, so that a slow machine still sees every write arrive within a few windows.
    const { store, writer } = setup(250)
    const writes: Promise<void>[] = []
    for (let i = 0; i < 200; i++) {
      writes.push(writer.write(record(`burst-${i}`), EXPIRES_AT))
      await nextTurn()
    }
    await Promise.all(writes)
    expect(writer.commits).toBeGreaterThanOrEqual(1)
    expect(writer.commits).toBeLessThanOrEqual(20)
    for (let i = 0; i < 200; i++) expect(store.get(`burst-${i}`)).toEqual(record(`burst-${i}`))
  })

  it('groups a burst with the default window too, and keeps every record', async () => {
    const { store, writer } = setup()
    const writes = Array.from({ length: 2000 }, (_, i) => writer.write(record(`many-${i}`), EXPIRES_AT))
    await Promise.all(writes)
    expect(writer.commits).toBeLessThan(2000 / 4)
    expect(store.count()).toBe(2000)
    expect(store.get('many-1999')).toEqual(record('many-1999'))
  })

  it('commits a write to an idle writer at once, in its own transaction', async () => {
    // With a one-minute window, a write that waited for it would time the test out.
    const { store, writer } = setup(60_000)
    await writer.write(record('lone'), EXPIRES_AT)
    expect(writer.commits).toBe(1)
    expect(writer.pending).toBe(0)
    expect(store.get('lone')).toEqual(record('lone'))
  })

  it('commits the writes held for the next window when closed, answering each as before', async () => {
    const { directory, store, writer } = setup(60_000)
    await writer.write(record('first'), EXPIRES_AT) // committed at once; the window opens
    const held = Array.from({ length: 50 }, (_, i) => writer.write(record(`held-${i}`), EXPIRES_AT))
    const notJson = writer.write(record('bigint', { output: { n: 1n } }), EXPIRES_AT)
    const notJsonError = notJson.then(
      () => undefined,
      (err: unknown) => err,
    )
    await new Promise((resolve) => setTimeout(resolve, 100))
    // Held by the window's timer, not lost and not yet committed.
    expect(writer.pending).toBe(51)
    expect(writer.commits).toBe(1)
    await writer.close()
    await Promise.all(held)
    expect(await notJsonError).toBeInstanceOf(TypeError)
    expect(writer.commits).toBe(2)
    store.close()
    const reopened = resultStore({ directory, purgeIntervalMs: 0, now: () => 2000 })
    stores.push(reopened)
    expect(reopened.count()).toBe(51)
    for (let i = 0; i < 50; i++) expect(reopened.get(`held-${i}`)).toEqual(record(`held-${i}`))
    expect(reopened.has('bigint')).toBe(false)
  })
})
