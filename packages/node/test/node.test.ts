import { existsSync, readdirSync, readlinkSync } from 'node:fs'
import { chmod, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { mockBackend } from '@p2p-ai/engine'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createNode } from '../src/create.js'
import { ConfigValidationError, InvalidStateTransitionError } from '../src/errors.js'
import type { StateChange } from '../src/lifecycle.js'
import { VERSION } from '../src/metadata.js'
import { localInit, tempDir } from './helpers.js'

describe('node lifecycle', () => {
  it('goes INITIALIZING → REGISTERING → ACTIVE → SHUTTING_DOWN → STOPPED, observable as events', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const node = await createNode({ ...localInit(dir.path), start: false })
    const changes: StateChange[] = []
    node.addEventListener('state:change', (evt) => changes.push(evt.detail))
    expect(node.state).toBe('INITIALIZING')
    expect(node.isReady()).toBe(false)
    await node.start()
    expect(node.state).toBe('ACTIVE')
    expect(node.isReady()).toBe(true)
    await node.start() // already ACTIVE: nothing happens
    const report = await node.stop()
    expect(node.state).toBe('STOPPED')
    expect(node.isReady()).toBe(false)
    expect(changes.map((c) => c.to)).toEqual(['REGISTERING', 'ACTIVE', 'SHUTTING_DOWN', 'STOPPED'])
    expect(report.withinDeadline).toBe(true)
    expect(report.storeClosed).toBe(true)
    expect(await node.stop()).toBe(report)
  })

  it('refuses to start again once stopped, with a coded error', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const node = await createNode(localInit(dir.path))
    await node.stop()
    const err = await node.start().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(InvalidStateTransitionError)
    expect(err).toMatchObject({ code: 'ERR_INVALID_STATE_TRANSITION', from: 'STOPPED', to: 'REGISTERING' })
    expect(node.state).toBe('STOPPED')
  })

  it('can be stopped before it was started', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const node = await createNode({ ...localInit(dir.path), start: false })
    const report = await node.stop()
    expect(node.state).toBe('STOPPED')
    expect(report.storeClosed).toBe(true)
  })

  it('aborts a start when stop() is called meanwhile, and ends STOPPED', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const node = await createNode({ ...localInit(dir.path), start: false })
    const starting = node.start()
    const stopping = node.stop()
    await expect(starting).rejects.toMatchObject({ code: 'ERR_START_ABORTED' })
    await stopping
    expect(node.state).toBe('STOPPED')
  })

  it('keeps its PeerId across restarts (the key lives in the data directory)', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const first = await createNode(localInit(dir.path))
    const peerId = first.peerId
    await first.stop()
    expect(existsSync(join(dir.path, 'identity.json'))).toBe(true)
    const second = await createNode(localInit(dir.path))
    expect(second.peerId).toBe(peerId)
    expect(second.metadata().peerId).toBe(peerId)
    await second.stop()
  })

  it('rejects a bad configuration before touching the disk', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const dataDir = join(dir.path, 'never-created')
    const err = await createNode({
      ...localInit(dataDir),
      heartbeat: { intervalMs: 10, timeoutMs: 5 },
      log: { level: 'loud' as never },
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigValidationError)
    expect((err as ConfigValidationError).issues.map((i) => i.path)).toEqual([
      'heartbeat.intervalMs',
      'heartbeat.timeoutMs',
      'log.level',
    ])
    expect(existsSync(dataDir)).toBe(false)
  })
})

describe('node metadata and health', () => {
  it('answers metadata from its cache: version, PeerId, addresses, uptime, state, capabilities', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const node = await createNode({ ...localInit(dir.path), backends: [mockBackend({ worker: false })] })
    const m = node.metadata()
    expect(m).toMatchObject({
      version: VERSION,
      agentVersion: `p2p-ai/${VERSION}`,
      peerId: node.peerId,
      state: 'ACTIVE',
    })
    expect(m.addresses.length).toBeGreaterThan(0)
    expect(
      m.addresses.every((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.endsWith(`/p2p/${node.peerId}`)),
    ).toBe(true)
    expect(m.capabilities.taskTypes).toEqual(expect.arrayContaining(['mock', 'chunk']))
    expect(m.capabilities.concurrency).toBe(2)
    await new Promise((r) => setTimeout(r, 20))
    expect(node.metadata().uptimeMs).toBeGreaterThanOrEqual(15)
    await node.stop()
    expect(node.metadata().state).toBe('STOPPED')
  })

  it('reports every component, time-boxed, and bases readiness on local components only', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const node = await createNode({
      ...localInit(dir.path),
      health: { checkTimeoutMs: 200, intervalMs: 60_000 },
      network: {
        bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'],
      },
    })
    const report = await node.checkHealth()
    const byName = Object.fromEntries(report.components.map((c) => [c.name, c]))
    expect(Object.keys(byName).sort()).toEqual([
      'engine',
      'identity',
      'models',
      'network',
      'resources',
      'store',
    ])
    expect(byName.models).toMatchObject({ status: 'healthy', detail: 'no models' })
    expect(byName.identity?.status).toBe('healthy')
    expect(byName.resources).toMatchObject({ status: 'healthy', local: false })
    expect(byName.engine?.status).toBe('healthy')
    expect(byName.store?.status).toBe('healthy')
    // The only bootstrap peer is unreachable: the network is degraded, but the node can still work.
    expect(byName.network).toMatchObject({ status: 'degraded', local: false })
    expect(node.isReady()).toBe(true)

    const changes: string[] = []
    node.addEventListener('health:change', (evt) => changes.push(evt.detail.status))
    node.registerHealthCheck('model-cache', () => new Promise(() => {}))
    const started = Date.now()
    const second = await node.checkHealth()
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(second.components.find((c) => c.name === 'model-cache')).toMatchObject({ status: 'unhealthy' })
    expect(node.isReady()).toBe(false)
    expect(changes).toEqual(['unhealthy'])
    await node.stop()
  })

  it('stays silent by default and logs JSON with peerId and component through a given logger', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    const node = await createNode({ ...localInit(dir.path), logger })
    await node.stop()
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(records.some((r) => r.component === 'node' && r.msg === 'state ACTIVE')).toBe(true)
    expect(records.every((r) => r.peerId === node.peerId)).toBe(true)
  })
})

/** Files under `dir` this process holds open (Linux: /proc/self/fd). */
function openFilesUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`)
      } catch {
        return ''
      }
    })
    .filter((target) => target.startsWith(dir))
}

describe('node construction failures', () => {
  it('closes the store again when the engine refuses its options', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    await expect(
      createNode({ ...localInit(dir.path), engineOptions: { workers: false, cancelGraceMs: -1 } }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
    expect(openFilesUnder(dir.path)).toEqual([])
  })

  it('refuses a damaged or world-readable key file with the identity error, and opens nothing', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    const first = await createNode(localInit(dir.path))
    const peerId = first.peerId
    await first.stop()
    const keyFile = join(dir.path, 'identity.json')
    await chmod(keyFile, 0o644)
    await expect(createNode(localInit(dir.path))).rejects.toMatchObject({
      code: 'ERR_KEY_FILE_INSECURE_PERMISSIONS',
    })
    await chmod(keyFile, 0o600)
    const original = await readFile(keyFile)
    await writeFile(keyFile, '{"not": "a key"}', { mode: 0o600 })
    await expect(createNode(localInit(dir.path))).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_KEY_FILE_/),
    })
    expect(openFilesUnder(dir.path)).toEqual([])
    // The key was not replaced: restoring it restores the PeerId.
    await writeFile(keyFile, original, { mode: 0o600 })
    const again = await createNode(localInit(dir.path))
    expect(again.peerId).toBe(peerId)
    await again.stop()
  })

  it('fails with the transport error and leaves nothing open for a bad listen address', async () => {
    await using dir = await tempDir('p2p-ai-node-')
    await expect(
      createNode({ ...localInit(dir.path), network: { listen: ['/ip4/999.0.0.1/tcp/0'] } }),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_LISTEN_ADDRESS' })
    expect(openFilesUnder(dir.path)).toEqual([])
  })
})
