import { DEFAULT_LISTEN } from '@p2p-ai/node'
import { describe, expect, it } from 'vitest'
import { commandHelp } from '../src/args/help.js'
import { parseCommand, resolveCommand } from '../src/args/parse.js'
import { closest, distance } from '../src/args/suggest.js'
import { COMMANDS, GROUPS } from '../src/commands/table.js'
import { applyFlags } from '../src/daemon/config.js'

const cmd = (name: string) => COMMANDS.find((c) => c.name === name)!

describe('argument parsing', () => {
  it('converts numbers, lists and booleans and keeps positionals', () => {
    const p = parseCommand(cmd('node start'), [
      '--port',
      '9000',
      '-b',
      '/ip4/1.2.3.4/tcp/1/p2p/x',
      '--bootstrap=/dns4/a/tcp/2/p2p/y',
      '--detach',
    ])
    expect(p.options).toMatchObject({
      port: 9000,
      bootstrap: ['/ip4/1.2.3.4/tcp/1/p2p/x', '/dns4/a/tcp/2/p2p/y'],
      detach: true,
    })
    const r = parseCommand(cmd('task result'), ['abc', '--format', 'json'])
    expect(r.args).toEqual(['abc'])
  })

  it('--port sets the TCP and QUIC ports of the default listen addresses, WebSockets keeps its own', () => {
    const config = {
      dataDir: '/tmp/x',
      network: {
        listen: [...DEFAULT_LISTEN],
        bootstrap: [],
        announce: [],
        mdns: { enabled: true, interface: 'auto' },
      },
      log: { level: 'info', format: 'text' },
      limits: { cpu: 100, idleOnly: false },
      metrics: { enabled: false, port: 9100 },
      dashboard: { enabled: false, port: 8080 },
    }
    const { options } = parseCommand(cmd('node start'), ['--port', '4001'])
    expect(applyFlags(config, options, false).network.listen).toEqual([
      '/ip4/0.0.0.0/tcp/4001',
      '/ip4/0.0.0.0/tcp/0/ws',
      '/ip4/0.0.0.0/udp/4001/quic-v1',
    ])
    const limited = parseCommand(cmd('node start'), ['--cpu-limit', '50', '--idle-only']).options
    expect(applyFlags(config, limited, false).limits).toEqual({ cpu: 50, idleOnly: true })
    // --metrics-port turns metrics on, on that port.
    const metrics = parseCommand(cmd('node start'), ['--metrics-port', '0']).options
    expect(applyFlags(config, metrics, false).metrics).toEqual({ enabled: true, port: 0 })
    expect(config.metrics.enabled).toBe(false)
    // --dashboard-port likewise turns the dashboard on, on that port.
    const dashboard = parseCommand(cmd('node start'), ['--dashboard-port', '0']).options
    expect(applyFlags(config, dashboard, false).dashboard).toEqual({ enabled: true, port: 0 })
    expect(
      applyFlags(config, parseCommand(cmd('node start'), ['--dashboard']).options, false).dashboard,
    ).toEqual({
      enabled: true,
      port: 8080,
    })
  })

  it('--announce adds public addresses to the configured ones, and --bootstrap peers to dial', () => {
    const config = {
      dataDir: '/tmp/x',
      network: {
        listen: [...DEFAULT_LISTEN],
        bootstrap: [],
        announce: ['/ip4/203.0.113.7/tcp/4001'],
        mdns: { enabled: true, interface: 'auto' },
      },
      log: { level: 'info', format: 'text' },
      limits: { cpu: 100, idleOnly: false },
      metrics: { enabled: false, port: 9100 },
      dashboard: { enabled: false, port: 8080 },
    }
    const { options } = parseCommand(cmd('node start'), [
      '--announce',
      '/ip4/203.0.113.7/udp/4001/quic-v1',
      '--bootstrap',
      '/ip4/203.0.113.9/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN',
    ])
    const applied = applyFlags(config, options, false)
    expect(applied.network.announce).toEqual([
      '/ip4/203.0.113.7/tcp/4001',
      '/ip4/203.0.113.7/udp/4001/quic-v1',
    ])
    expect(applied.network.bootstrap).toHaveLength(1)
  })

  it('takes option values from their environment variable when absent', () => {
    const p = parseCommand(cmd('models pull'), ['acme/x'], { HF_ENDPOINT: 'http://127.0.0.1:1' })
    expect(p.options.endpoint).toBe('http://127.0.0.1:1')
  })

  it('resolves groups and commands, and suggests the closest on a typo', () => {
    expect(resolveCommand(['task', 'list', '--json'], GROUPS, COMMANDS)).toMatchObject({
      kind: 'command',
      rest: ['--json'],
    })
    expect(resolveCommand(['demo'], GROUPS, COMMANDS)).toMatchObject({ kind: 'group' })
    expect(() => resolveCommand(['task', 'lsit'], GROUPS, COMMANDS)).toThrow(/did you mean "task list"/)
    expect(distance('stauts', 'status')).toBe(1)
    expect(closest('xyz', ['status', 'start'])).toBeUndefined()
  })

  it('lists every option of a command in its help, with defaults and choices', () => {
    const help = commandHelp(cmd('task list')).replace(/\s+/g, ' ')
    expect(help).toContain('--limit <n>')
    expect(help).toContain('(default: 20)')
    expect(help).toContain('one of: PENDING, QUEUED, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED')
  })
})
