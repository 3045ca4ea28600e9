import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { envName, FIELDS } from '../src/config/fields.js'
import { loadConfig, resolveNodeConfig } from '../src/config/load.js'
import { defaultConfigFile, defaultDataDir } from '../src/config/paths.js'
import type { NodeConfig } from '../src/config/types.js'
import {
  DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
  DEFAULT_HEALTH_INTERVAL_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_DEADLINE_MS,
} from '../src/constants.js'
import { ConfigReadError, ConfigSyntaxError, ConfigValidationError } from '../src/errors.js'
import { LIVENESS_IDLE_MS, LIVENESS_PING_TIMEOUT_MS } from '../src/exchange/constants.js'

let dir: string
const HOME_ENV = (): Record<string, string> => ({ HOME: join(dir, 'home') })

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2p-ai-config-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function file(text: string, name = 'config.yaml'): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

async function validationError(promise: Promise<unknown>): Promise<ConfigValidationError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConfigValidationError)
  return err as ConfigValidationError
}

function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix]
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix === '' ? k : `${prefix}.${k}`))
}

const run = promisify(execFile)

describe('defaults', () => {
  it('gives a complete configuration with no file and no environment', async () => {
    const config = await loadConfig({ env: HOME_ENV(), platform: 'linux' })
    expect(config.dataDir).toBe(join(dir, 'home', '.local/share/p2p-ai'))
    expect(config.identity.keyFile).toBe(join(dir, 'home', '.local/share/p2p-ai', 'identity.json'))
    expect(config.heartbeat).toEqual({ intervalMs: 10_000, timeoutMs: 3_000 })
    expect(config.health).toEqual({ intervalMs: 30_000, checkTimeoutMs: 2_000 })
    expect(config.shutdown.deadlineMs).toBe(8_000)
    expect(config.network.maxConnections).toBe(32)
    expect(config.network.mdns).toEqual({ enabled: true, interface: 'auto', serviceTag: '_p2p._udp.local' })
    expect(config.network.bootstrap).toEqual([])
    expect(config.log).toEqual({
      level: 'info',
      format: 'auto',
      rotate: { maxBytes: 100 * 1024 * 1024, maxAgeDays: 7 },
    })
    expect(config.supervisor).toEqual({
      restartDelayMs: 1_000,
      maxRestartDelayMs: 60_000,
      maxCrashes: 5,
      crashWindowMs: 60_000,
    })
  })

  it('has the documented default timings', () => {
    expect(DEFAULT_HEARTBEAT_INTERVAL_MS).toBe(10_000)
    expect(DEFAULT_HEARTBEAT_TIMEOUT_MS).toBe(3_000)
    expect(DEFAULT_HEALTH_INTERVAL_MS).toBe(30_000)
    expect(DEFAULT_HEALTH_CHECK_TIMEOUT_MS).toBe(2_000)
    expect(DEFAULT_SHUTDOWN_DEADLINE_MS).toBe(8_000)
  })

  it('lists exactly the fields of NodeConfig in its field table', () => {
    const config: NodeConfig = resolveNodeConfig({}, { env: HOME_ENV() })
    expect(leafPaths(config).sort()).toEqual(FIELDS.map((f) => f.path).sort())
  })

  it('puts the data directory under XDG_DATA_HOME on Linux and ~/.p2p-ai elsewhere', () => {
    expect(defaultDataDir({ HOME: '/home/a', XDG_DATA_HOME: '/xdg/data' }, 'linux')).toBe('/xdg/data/p2p-ai')
    expect(defaultDataDir({ HOME: '/home/a', XDG_DATA_HOME: 'relative' }, 'linux')).toBe(
      '/home/a/.local/share/p2p-ai',
    )
    expect(defaultDataDir({ HOME: '/Users/a' }, 'darwin')).toBe('/Users/a/.p2p-ai')
    expect(defaultConfigFile({ HOME: '/home/a' }, 'linux')).toBe('/home/a/.config/p2p-ai/config.yaml')
    expect(defaultConfigFile({ HOME: '/Users/a' }, 'darwin')).toBe('/Users/a/.p2p-ai/config.yaml')
  })
})

describe('YAML file', () => {
  it('reads settings and resolves relative paths against the file', async () => {
    const path = await file(`
dataDir: ./data
network:
  listen: ['/ip4/127.0.0.1/tcp/0']
  maxConnections: 8
  mdns:
    enabled: false
heartbeat:
  intervalMs: 500
  timeoutMs: 300
log:
  level: debug
`)
    const config = await loadConfig({ file: path, env: HOME_ENV() })
    expect(config.dataDir).toBe(join(dir, 'data'))
    expect(config.identity.keyFile).toBe(join(dir, 'data', 'identity.json'))
    expect(config.network.listen).toEqual(['/ip4/127.0.0.1/tcp/0'])
    expect(config.network.maxConnections).toBe(8)
    expect(config.network.mdns).toMatchObject({ enabled: false, interface: 'auto' })
    expect(config.heartbeat).toEqual({ intervalMs: 500, timeoutMs: 300 })
    expect(config.log.level).toBe('debug')
  })

  it('expands ~ in paths', async () => {
    const path = await file('identity:\n  keyFile: ~/keys/node.key\n')
    const config = await loadConfig({ file: path, env: HOME_ENV() })
    expect(config.identity.keyFile).toBe(join(dir, 'home', 'keys', 'node.key'))
  })

  it('treats an empty file, a comment-only file and empty keys as defaults', async () => {
    const defaults = await loadConfig({ env: HOME_ENV() })
    expect(await loadConfig({ file: await file(''), env: HOME_ENV() })).toEqual(defaults)
    expect(await loadConfig({ file: await file('# nothing yet\n'), env: HOME_ENV() })).toEqual(defaults)
    expect(await loadConfig({ file: await file('network:\n  bootstrap:\n'), env: HOME_ENV() })).toEqual(
      defaults,
    )
  })

  it('takes the file from P2P_AI_CONFIG when none is given', async () => {
    const path = await file('network:\n  maxConnections: 5\n')
    const config = await loadConfig({ env: { ...HOME_ENV(), P2P_AI_CONFIG: path } })
    expect(config.network.maxConnections).toBe(5)
  })

  it('reports YAML syntax errors with line and column', async () => {
    const path = await file(
      'network:\n  maxConnections: 8\n  listen: [/ip4/127.0.0.1/tcp/0\nlog:\n  level: info\n',
    )
    const err = await loadConfig({ file: path, env: {} }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigSyntaxError)
    const e = err as ConfigSyntaxError
    expect(e.code).toBe('ERR_CONFIG_SYNTAX')
    expect(e.line).toBe(4)
    expect(e.column).toBe(1)
    expect(e.message).toContain(`${path}:4:1`)
  })

  it('reports duplicate keys and tabs as syntax errors', async () => {
    const dup = await loadConfig({
      file: await file('log:\n  level: info\n  level: debug\n'),
      env: {},
    }).catch((e: unknown) => e)
    expect(dup).toMatchObject({ code: 'ERR_CONFIG_SYNTAX', line: 3, column: 3 })
    const alias = await loadConfig({ file: await file('log:\n  level: *nowhere\n'), env: {} }).catch(
      (e: unknown) => e,
    )
    expect(alias).toMatchObject({ code: 'ERR_CONFIG_SYNTAX', line: 2 })
  })

  it('reports a missing file or a directory with a coded error', async () => {
    await expect(loadConfig({ file: join(dir, 'nope.yaml'), env: {} })).rejects.toMatchObject({
      code: ConfigReadError.code,
      message: expect.stringContaining('no such file'),
    })
    await expect(loadConfig({ file: dir, env: {} })).rejects.toMatchObject({ code: 'ERR_CONFIG_READ' })
  })

  it('loads the YAML parser with the first config file, not before', async () => {
    // In a process of its own (the published build), where nothing else has loaded it yet.
    await writeFile(join(dir, 'broken.yaml'), 'log: [oops')
    const script = `
      import { createRequire } from 'node:module'
      const { loadConfig } = await import('@p2p-ai/node')
      const cache = createRequire(process.cwd() + '/').cache
      const loaded = () => Object.keys(cache).some((k) => /[\\\\/]yaml[\\\\/]dist[\\\\/]/.test(k))
      const config = await loadConfig({ env: {}, cwd: ${JSON.stringify(dir)} })
      const before = loaded()
      const err = await loadConfig({ env: {}, file: ${JSON.stringify(join(dir, 'broken.yaml'))} }).catch((e) => e)
      console.log(JSON.stringify({ dataDir: config.dataDir, before, after: loaded(), code: err.code, line: err.line }))`
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    })
    const seen = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>
    expect(seen).toMatchObject({ before: false, after: true, code: 'ERR_CONFIG_SYNTAX', line: 1 })
    expect(seen.dataDir).toEqual(expect.any(String))
  })
})

describe('environment overrides', () => {
  it('override the file, parsed by the type of each setting', async () => {
    const path = await file('network:\n  maxConnections: 8\nlog:\n  level: debug\n')
    const config = await loadConfig({
      file: path,
      env: {
        ...HOME_ENV(),
        P2P_AI_NETWORK__MAX_CONNECTIONS: '12',
        P2P_AI_NETWORK__MDNS__ENABLED: 'off',
        P2P_AI_NETWORK__MDNS__INTERFACE: 'loopback',
        P2P_AI_NETWORK__LISTEN: '/ip4/127.0.0.1/tcp/4001, /ip4/127.0.0.1/tcp/4002/ws',
        P2P_AI_DATA_DIR: '/srv/p2p-ai',
        P2P_AI_HEARTBEAT__INTERVAL_MS: '5000',
      },
    })
    expect(config.network.maxConnections).toBe(12)
    expect(config.network.mdns).toMatchObject({ enabled: false, interface: 'loopback' })
    expect(config.network.listen).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/127.0.0.1/tcp/4002/ws'])
    expect(config.dataDir).toBe('/srv/p2p-ai')
    expect(config.identity.keyFile).toBe('/srv/p2p-ai/identity.json')
    expect(config.heartbeat.intervalMs).toBe(5000)
    expect(config.log.level).toBe('debug')
  })

  it('accepts a JSON array for lists and an empty value for the empty list', async () => {
    const peer = '/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
    const config = await loadConfig({
      env: { ...HOME_ENV(), P2P_AI_NETWORK__BOOTSTRAP: JSON.stringify([peer]), P2P_AI_NETWORK__LISTEN: '' },
    })
    expect(config.network.bootstrap).toEqual([peer])
    expect(config.network.listen).toEqual([])
  })

  it('names every variable after its path', () => {
    expect(envName('network.maxConnections')).toBe('P2P_AI_NETWORK__MAX_CONNECTIONS')
    expect(envName('dataDir')).toBe('P2P_AI_DATA_DIR')
    expect(envName('network.mdns.interface')).toBe('P2P_AI_NETWORK__MDNS__INTERFACE')
  })

  it('rejects unknown P2P_AI_ variables with a suggestion, unless ignored', async () => {
    const err = await validationError(loadConfig({ env: { ...HOME_ENV(), P2P_AI_LOG__LEVLE: 'debug' } }))
    expect(err.issues).toHaveLength(1)
    expect(err.issues[0]).toMatchObject({ source: 'env', envVar: 'P2P_AI_LOG__LEVLE' })
    expect(err.issues[0]?.message).toContain('did you mean P2P_AI_LOG__LEVEL?')
    const config = await loadConfig({
      env: { ...HOME_ENV(), P2P_AI_CLI_THING: 'x' },
      ignoreEnv: ['P2P_AI_CLI_THING'],
    })
    expect(config.log.level).toBe('info')
  })
})

describe('validation', () => {
  it('reports every problem at once, with path, value found and what was expected', async () => {
    const path = await file(`
network:
  maxConnections: 0
  listen: ['/ip4/127.0.0.1/tcp/0', 'localhost:4001']
  bootstrap: ['/ip4/10.0.0.1/tcp/4001']
  mdns:
    enabled: 'yes please'
heartbeat:
  intervalMs: fast
log:
  level: verbose
  colour: true
`)
    const err = await validationError(
      loadConfig({ file: path, env: { ...HOME_ENV(), P2P_AI_HEALTH__INTERVAL_MS: 'soon' } }),
    )
    expect(err.code).toBe('ERR_CONFIG_INVALID')
    const byPath = new Map(err.issues.map((i) => [i.path, i]))
    expect([...byPath.keys()].sort()).toEqual(
      [
        'health.intervalMs',
        'heartbeat.intervalMs',
        'log.colour',
        'log.level',
        'network.bootstrap[0]',
        'network.listen[1]',
        'network.maxConnections',
        'network.mdns.enabled',
      ].sort(),
    )
    expect(byPath.get('network.maxConnections')).toMatchObject({
      value: 0,
      expected: 'an integer between 1 and 10000',
      source: 'file',
    })
    // File problems come in file order, each with its position; environment problems after them.
    expect(err.issues.map((i) => i.line ?? 'env')).toEqual([3, 4, 5, 7, 9, 11, 12, 'env'])
    expect(byPath.get('network.maxConnections')).toMatchObject({ line: 3, column: 19 })
    expect(byPath.get('network.maxConnections')?.message).toBe(
      'network.maxConnections: expected an integer between 1 and 10000, found 0 (line 3, column 19)',
    )
    expect(byPath.get('network.listen[1]')).toMatchObject({ value: 'localhost:4001' })
    expect(byPath.get('network.bootstrap[0]')?.expected).toContain('/p2p/<peerId>')
    expect(byPath.get('log.level')?.expected).toBe('one of trace, debug, info, warn, error, fatal, silent')
    expect(byPath.get('log.colour')?.expected).toContain(
      'a known setting (known keys here: level, format, rotate)',
    )
    expect(byPath.get('health.intervalMs')).toMatchObject({
      source: 'env',
      envVar: 'P2P_AI_HEALTH__INTERVAL_MS',
      value: 'soon',
    })
    expect(err.message).toContain('8 problems')
    expect(err.file).toBe(path)
  })

  it('suggests the right spelling of a misspelt or snake_case key', async () => {
    const path = await file(
      'network:\n  max_connections: 3\nhealth:\n  intervalMS: 5000\nlog:\n  levle: debug\n',
    )
    const err = await validationError(loadConfig({ file: path, env: {} }))
    expect(err.issues.map((i) => i.expected)).toEqual([
      'a known setting (did you mean maxConnections?)',
      'a known setting (did you mean intervalMs?)',
      'a known setting (did you mean level?)',
    ])
  })

  it('checks pairs of settings against each other', async () => {
    const path = await file(
      'heartbeat:\n  intervalMs: 1000\n  timeoutMs: 1000\nreconnect:\n  maxDelayMs: 100\n',
    )
    const err = await validationError(loadConfig({ file: path, env: {} }))
    expect(err.issues.map((i) => i.path)).toEqual(['heartbeat.timeoutMs', 'reconnect.maxDelayMs'])
    expect(err.issues[0]?.expected).toBe('a value less than heartbeat.intervalMs (1000)')
  })

  it('rejects a document or group that is not a mapping', async () => {
    const err = await validationError(loadConfig({ file: await file('- a\n- b\n'), env: {} }))
    expect(err.issues[0]).toMatchObject({ path: '', expected: 'a mapping of settings' })
    const err2 = await validationError(loadConfig({ file: await file('network: 5\n'), env: {} }))
    expect(err2.issues[0]).toMatchObject({ path: 'network', value: 5 })
  })

  it('validates createNode init the same way', () => {
    expect(() =>
      resolveNodeConfig({ network: { maxConnections: -1 } } as never, { env: HOME_ENV() }),
    ).toThrow(/network.maxConnections: expected an integer between 1 and 10000, found -1 \(createNode init\)/)
  })
})

describe('liveness', () => {
  it('defaults to the exchange constants', async () => {
    const config = await loadConfig({ env: HOME_ENV() })
    expect(config.liveness).toEqual({ idleMs: LIVENESS_IDLE_MS, timeoutMs: LIVENESS_PING_TIMEOUT_MS })
    expect(config.liveness).toEqual({ idleMs: 1_500, timeoutMs: 1_500 })
  })

  it('takes the idle time and ping timeout from the file, the environment and createNode init', async () => {
    const path = await file('liveness:\n  idleMs: 5000\n  timeoutMs: 20000\n')
    expect((await loadConfig({ file: path, env: HOME_ENV() })).liveness).toEqual({
      idleMs: 5_000,
      timeoutMs: 20_000,
    })
    const fromEnv = await loadConfig({
      file: path,
      env: { ...HOME_ENV(), P2P_AI_LIVENESS__TIMEOUT_MS: '600000', P2P_AI_LIVENESS__IDLE_MS: '100' },
    })
    expect(fromEnv.liveness).toEqual({ idleMs: 100, timeoutMs: 600_000 })
    expect(resolveNodeConfig({ liveness: { timeoutMs: 9_000 } }, { env: HOME_ENV() }).liveness).toEqual({
      idleMs: 1_500,
      timeoutMs: 9_000,
    })
  })

  it('refuses values outside 100 ms to 10 minutes, naming the setting', async () => {
    const path = await file('liveness:\n  idleMs: 50\n')
    const err = await validationError(
      loadConfig({ file: path, env: { ...HOME_ENV(), P2P_AI_LIVENESS__TIMEOUT_MS: '1h' } }),
    )
    expect(err.issues.map((i) => i.path)).toEqual(['liveness.idleMs', 'liveness.timeoutMs'])
    expect(err.issues[0]?.message).toBe(
      'liveness.idleMs: expected an integer between 100 and 600000, found 50 (line 2, column 11)',
    )
    expect(err.issues[1]).toMatchObject({ source: 'env', envVar: 'P2P_AI_LIVENESS__TIMEOUT_MS', value: '1h' })
    expect(() => resolveNodeConfig({ liveness: { timeoutMs: 600_001 } }, { env: HOME_ENV() })).toThrow(
      /liveness.timeoutMs: expected an integer between 100 and 600000, found 600001 \(createNode init\)/,
    )
  })
})

describe('docs/configuration.md', () => {
  it('documents every setting with its environment variable and reload behaviour', async () => {
    const { readFile } = await import('node:fs/promises')
    const docs = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')
    for (const field of FIELDS) {
      const row = docs.split('\n').find((line) => line.startsWith(`| \`${field.path}\` |`))
      expect(row, field.path).toBeDefined()
      expect(row).toContain(`\`${envName(field.path)}\``)
      expect(row).toContain(`| ${field.reload} |`)
    }
  })
})
