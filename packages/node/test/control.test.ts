/**
 * `@p2p-ai/node/control`: the node's facts for programs that drive a node from outside, without
 * the node itself. Each is the same value the node uses, not a copy.
 */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEFAULT_PRIORITY as ENGINE_DEFAULT_PRIORITY, mockBackend, taskEngine } from '@p2p-ai/engine'
import * as protocol from '@p2p-ai/protocol'
import { describe, expect, it } from 'vitest'
import * as control from '../src/control.js'
import * as node from '../src/index.js'

describe('the control entry point', () => {
  it("gives the node's own paths, log levels and task bounds", () => {
    expect(control.defaultDataDir).toBe(node.defaultDataDir)
    expect(control.defaultConfigFile).toBe(node.defaultConfigFile)
    expect(control.LOG_LEVELS).toBe(node.LOG_LEVELS)
    expect(control.DEFAULT_SHUTDOWN_DEADLINE_MS).toBe(node.DEFAULT_SHUTDOWN_DEADLINE_MS)
    expect({
      DEFAULT_PRIORITY: control.DEFAULT_PRIORITY,
      MIN_PRIORITY: control.MIN_PRIORITY,
      MAX_PRIORITY: control.MAX_PRIORITY,
      MIN_TIMEOUT_MS: control.MIN_TIMEOUT_MS,
      MAX_TIMEOUT_MS: control.MAX_TIMEOUT_MS,
      DEFAULT_TIMEOUT_MS: control.DEFAULT_TIMEOUT_MS,
    }).toEqual({
      DEFAULT_PRIORITY: protocol.DEFAULT_PRIORITY,
      MIN_PRIORITY: protocol.MIN_PRIORITY,
      MAX_PRIORITY: protocol.MAX_PRIORITY,
      MIN_TIMEOUT_MS: protocol.MIN_TIMEOUT_MS,
      MAX_TIMEOUT_MS: protocol.MAX_TIMEOUT_MS,
      DEFAULT_TIMEOUT_MS: protocol.DEFAULT_TIMEOUT_MS,
    })
  })

  it('has one default priority: a task given none runs at 5 in the engine, as on the wire', async () => {
    expect(control.DEFAULT_PRIORITY).toBe(5)
    expect(ENGINE_DEFAULT_PRIORITY).toBe(control.DEFAULT_PRIORITY)
    const engine = taskEngine({ builtins: false, workers: false, backends: [mockBackend({ worker: false })] })
    try {
      const handle = await engine.submit({ type: 'mock', input: { text: 'x' } })
      expect((await handle.result()).priority).toBe(control.DEFAULT_PRIORITY)
    } finally {
      await engine.stop()
    }
  })

  it("loads nothing of the node but itself, its paths and constants, and the protocol's constants", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'p2p-ai-control-'))
    try {
      const file = join(dir, 'modules.txt')
      // Every module the import resolves, recorded by a resolve hook.
      const hooks = `import { appendFileSync } from 'node:fs'
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  appendFileSync(${JSON.stringify(file)}, result.url + '\\n')
  return result
}`
      const script = `import { register } from 'node:module'
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hooks)}))
await import('@p2p-ai/node/control')`
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
      })
      const loaded = (await readFile(file, 'utf8'))
        .trim()
        .split('\n')
        .filter((url) => url.startsWith('file:'))
        .map((url) => fileURLToPath(url).replace(/^.*\/packages\//, ''))
      expect([...new Set(loaded)].sort()).toEqual(
        [
          'node/dist/config/paths.js',
          'node/dist/config/types.js',
          'node/dist/constants.js',
          'node/dist/control.js',
          // Words for why a node is paused: a table, importing nothing.
          'node/dist/resources/pause-reasons.js',
          'protocol/dist/constants.js',
        ].sort(),
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
