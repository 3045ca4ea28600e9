import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config/load.js'
import type { ConfigChange } from '../src/config/reconfigure.js'
import { createNode } from '../src/create.js'
import { nextEvent, tempDir } from './helpers.js'

function yaml(dataDir: string, level: string, port = 0): string {
  return `dataDir: ${dataDir}
network:
  listen: ['/ip4/127.0.0.1/tcp/${port}']
  mdns:
    enabled: false
log:
  level: ${level}
`
}

describe('configuration reload', () => {
  it('applies a new log level within 5 s of the file changing; other settings need a restart', async () => {
    await using dir = await tempDir('p2p-ai-reload-')
    const file = join(dir.path, 'config.yaml')
    await writeFile(file, yaml(join(dir.path, 'data'), 'info'))
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    const config = await loadConfig({ file, env: {} })
    const node = await createNode({
      ...config,
      logger,
      engineOptions: { workers: false },
      watch: { file, env: {}, debounceMs: 50 },
    })
    try {
      expect(node.logger.level).toBe('info')
      const changed = nextEvent<ConfigChange>(node, 'config:change', () => true, 5_000)
      await writeFile(file, yaml(join(dir.path, 'data'), 'debug'))
      const change = await changed
      expect(change.applied).toEqual(['log.level'])
      expect(change.restartRequired).toEqual([])
      expect(node.config.log.level).toBe('debug')
      expect(node.logger.level).toBe('debug')

      const restart = nextEvent<ConfigChange>(node, 'config:change', () => true, 5_000)
      await writeFile(file, yaml(join(dir.path, 'data'), 'debug', 4999))
      const second = await restart
      expect(second.applied).toEqual([])
      expect(second.restartRequired).toEqual(['network.listen'])
      expect(node.config.network.listen).toEqual(['/ip4/127.0.0.1/tcp/0'])
      const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r.level === 40)
      expect(warning).toMatchObject({ fields: ['network.listen'], component: 'node' })

      const broken = nextEvent<Error>(node, 'config:error', () => true, 5_000)
      await writeFile(file, `${yaml(join(dir.path, 'data'), 'debug')}heartbeat:\n  intervalMs: -1\n`)
      expect(await broken).toMatchObject({ code: 'ERR_CONFIG_INVALID' })
      expect(node.config.log.level).toBe('debug')
    } finally {
      await node.stop()
    }
  })

  it('changes heartbeat timing and the connection limit at run time', async () => {
    await using dir = await tempDir('p2p-ai-reload-')
    const node = await createNode({
      dataDir: dir.path,
      network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } },
      engineOptions: { workers: false },
    })
    try {
      const change = node.reconfigure({
        heartbeat: { intervalMs: 2_000, timeoutMs: 500 },
        network: { maxConnections: 4 },
      })
      expect([...change.applied].sort()).toEqual([
        'heartbeat.intervalMs',
        'heartbeat.timeoutMs',
        'network.maxConnections',
      ])
      expect(node.config.heartbeat).toEqual({ intervalMs: 2_000, timeoutMs: 500 })
      expect(node.config.network.maxConnections).toBe(4)
      // The new limit reaches libp2p's connection manager (which prunes above it).
      const manager = (
        node.transport as unknown as { components: { connectionManager: { getMaxConnections(): number } } }
      ).components.connectionManager
      expect(manager.getMaxConnections()).toBe(4)
      expect(() => node.reconfigure({ heartbeat: { timeoutMs: 5_000 } })).toThrow(/heartbeat.timeoutMs/)
      expect(node.config.heartbeat.timeoutMs).toBe(500)
    } finally {
      await node.stop()
    }
  })
})
