import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { NodeConfig } from '../src/config/types.js'
import { type ConfigWatcher, watchConfig } from '../src/config/watch.js'

let dir: string
let watcher: ConfigWatcher | undefined

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-watch-'))
})
afterEach(async () => {
  watcher?.close()
  await rm(dir, { recursive: true, force: true })
})

function next<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('watchConfig', () => {
  it('reloads within 5 s when the file is rewritten, and reports a broken file without applying it', async () => {
    const file = join(dir, 'config.yaml')
    await writeFile(file, 'log:\n  level: info\n')
    let change = next<NodeConfig>()
    let failure = next<Error>()
    watcher = watchConfig({
      file,
      env: {},
      debounceMs: 50,
      pollIntervalMs: 1_000,
      onChange: (c) => change.resolve(c),
      onError: (e) => failure.resolve(e),
    })
    await writeFile(file, 'log:\n  level: debug\n')
    const started = Date.now()
    const config = await change.promise
    expect(config.log.level).toBe('debug')
    expect(Date.now() - started).toBeLessThan(5_000)

    change = next()
    await writeFile(file, 'log:\n  level: chatty\n')
    const err = await failure.promise
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID' })

    failure = next()
    await writeFile(file, 'log:\n  level: warn\n')
    expect((await change.promise).log.level).toBe('warn')
  })

  it('follows editors that replace the file by renaming a new one over it', async () => {
    const file = join(dir, 'config.yaml')
    await writeFile(file, 'network:\n  maxConnections: 4\n')
    const change = next<NodeConfig>()
    watcher = watchConfig({
      file,
      env: {},
      debounceMs: 50,
      onChange: (c) => change.resolve(c),
      onError: () => {},
    })
    await writeFile(join(dir, '.config.yaml.swp'), 'network:\n  maxConnections: 9\n')
    await rename(join(dir, '.config.yaml.swp'), file)
    expect((await change.promise).network.maxConnections).toBe(9)
  })
})

describe('watchConfig without fs.watch', () => {
  it('still sees changes by polling', async () => {
    const file = join(dir, 'config.yaml')
    await writeFile(file, 'log:\n  level: info\n')
    const change = next<NodeConfig>()
    watcher = watchConfig({
      file,
      env: {},
      fsWatch: false,
      debounceMs: 20,
      pollIntervalMs: 100,
      onChange: (c) => change.resolve(c),
      onError: () => {},
    })
    // Let the first poll record the original fingerprint, then change size and mtime.
    await new Promise((r) => setTimeout(r, 150))
    await writeFile(file, 'log:\n  level: error\n# changed\n')
    expect((await change.promise).log.level).toBe('error')
  })
})
