import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { InvalidTestnetOptionError } from '../src/errors.js'
import { assertTestnetAvailable, ip } from '../src/ip.js'
import { sweepStaleNamespaces } from '../src/sweep.js'
import { createTestnet } from '../src/testnet.js'
import { hostNetworkSnapshot, namespaces, tcpReachable, tcpServer } from './helpers.js'

// Root and iproute2 are required (CI runs as root); without them these tests fail up front with a
// TestnetUnavailableError that says why, rather than passing vacuously.
describe('testnet of network namespaces (needs root and iproute2)', () => {
  beforeAll(async () => {
    await assertTestnetAvailable()
  })

  it('builds hosts on a private bridge, connects them, and leaves the machine untouched', async () => {
    const before = await hostNetworkSnapshot()
    let names: string[]
    {
      await using net = await createTestnet({ hosts: 3 })
      names = net.namespaces
      expect(await namespaces()).toEqual(expect.arrayContaining(names))
      expect(await hostNetworkSnapshot()).toBe(before)

      const [a, b, c] = net.hosts
      if (a === undefined || b === undefined || c === undefined) throw new Error('three hosts expected')
      expect(new Set(net.hosts.map((h) => h.address)).size).toBe(3)
      for (const host of net.hosts) {
        expect(host.address.startsWith('10.231.')).toBe(true)
        const routes = await ip(['-n', host.namespace, 'route', 'show'])
        expect(routes).toContain('224.0.0.0/4 dev tn0')
        expect(routes).not.toContain('default')
        const link = await ip(['-n', host.namespace, 'link', 'show', 'tn0'])
        expect(link).toContain('MULTICAST')
      }
      const bridge = await ip(['-n', net.bridgeNamespace, 'link', 'show', 'master', 'br0'])
      expect(bridge.match(/\bh\d+@/g)).toHaveLength(3)

      const stopServer = await tcpServer(c, 7000)
      expect(await tcpReachable(a, c, 7000)).toBe(true)
      expect(await tcpReachable(b, c, 7000)).toBe(true)
      stopServer()
    }
    expect(await namespaces()).not.toEqual(expect.arrayContaining([names[0]]))
    for (const name of names) {
      expect(await namespaces()).not.toContain(name)
    }
    expect(await hostNetworkSnapshot()).toBe(before)
  })

  it('cut() takes a host off the bridge and restore() brings it back', async () => {
    await using net = await createTestnet({ hosts: 2 })
    const [a, b] = net.hosts
    if (a === undefined || b === undefined) throw new Error('two hosts expected')
    const stopServer = await tcpServer(b, 7001)
    expect(await tcpReachable(a, b, 7001)).toBe(true)
    await b.cut()
    expect(await ip(['-n', b.namespace, 'link', 'show', 'tn0'])).toContain('NO-CARRIER')
    expect(await tcpReachable(a, b, 7001)).toBe(false)
    await b.restore()
    expect(await tcpReachable(a, b, 7001, 3_000)).toBe(true)
    stopServer()
  })

  it('tears down when the test body throws', async () => {
    let names: string[] = []
    const body = async (): Promise<void> => {
      await using net = await createTestnet({ hosts: 2 })
      names = net.namespaces
      net.hosts[0]?.spawn('sleep', ['60'])
      throw new Error('test failure')
    }
    await expect(body()).rejects.toThrow('test failure')
    expect(names).toHaveLength(3)
    const left = await namespaces()
    for (const name of names) {
      expect(left).not.toContain(name)
    }
  })

  it('tears down when the process is terminated by a signal', async () => {
    const script = fileURLToPath(new URL('./fixtures/signal-child.mjs', import.meta.url))
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const names = await new Promise<string[]>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.toString()) as string[]))
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)))
    })
    expect(await namespaces()).toEqual(expect.arrayContaining(names))
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    )
    child.kill('SIGTERM')
    expect(await exited).toBe('SIGTERM')
    const left = await namespaces()
    for (const name of names) {
      expect(left).not.toContain(name)
    }
  })

  it('sweeps namespaces left by dead runs and spares those of live ones', async () => {
    // A pid that certainly belongs to no live process: one of a child that has exited.
    const dead = spawn('true')
    await new Promise((resolve) => dead.once('exit', resolve))
    const stale = `p2pt-${dead.pid}-abcdef-h0`
    const alive = `p2pt-${process.ppid}-abcdef-h0`
    await ip(['netns', 'add', stale])
    await ip(['netns', 'add', alive])
    try {
      const swept = await sweepStaleNamespaces('p2pt')
      expect(swept).toContain(stale)
      expect(swept).not.toContain(alive)
      expect(await namespaces()).not.toContain(stale)
      expect(await namespaces()).toContain(alive)
    } finally {
      await ip(['netns', 'del', alive]).catch(() => {})
      await ip(['netns', 'del', stale]).catch(() => {})
    }
  })

  it('rejects bad options with a coded error', async () => {
    for (const init of [
      { hosts: 0 },
      { hosts: 1.5 },
      { hosts: 1000 },
      { prefix: 'Bad-Prefix' },
      { subnet: 255 },
    ]) {
      await expect(createTestnet(init)).rejects.toBeInstanceOf(InvalidTestnetOptionError)
    }
  })
})
