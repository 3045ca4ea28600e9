import { type ChildProcess, spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BIN, cleanUp, cliEnv, LOCAL_NODE, run, tempHome } from './helpers.js'

const children: ChildProcess[] = []
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL')
  await cleanUp()
})

/** Starts `node start` in the foreground and resolves once it printed its banner. */
async function foreground(home: string, dataDir: string) {
  const child = spawn(
    process.execPath,
    [BIN, 'node', 'start', '--data-dir', dataDir, ...LOCAL_NODE, '--log-level', 'warn'],
    {
      env: cliEnv(home),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString()
  })
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + 60_000
  while (!stdout.includes('Press Ctrl-C to stop.')) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`node start did not come up: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { child, exited, out: () => stdout, err: () => stderr }
}

describe('node start in the foreground', () => {
  it('prints its identity and addresses, and Ctrl-C (SIGINT) shuts it down gracefully', async () => {
    const home = await tempHome()
    const dataDir = join(home, 'node-a')
    const node = await foreground(home, dataDir)
    expect(node.out()).toMatch(/✔ node 12D3KooW\S+ is running \(pid \d+\)/)
    expect(node.out()).toMatch(/listening {2}\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
    const status = await run(['node', 'status', '--json', '--data-dir', dataDir], { home })
    expect(JSON.parse(status.stdout)).toMatchObject({ pid: node.child.pid, state: 'ACTIVE' })
    node.child.kill('SIGINT')
    expect(await node.exited).toBe(0)
    expect(node.err()).toMatch(/✔ stopped in \d+ ms: 0 tasks finished, 0 cancelled, 0 peers told goodbye/)
    for (const file of ['node.pid', 'control.json', 'control.token']) {
      await expect(stat(join(dataDir, file)), file).rejects.toThrow(/ENOENT/)
    }
  }, 90_000)

  it('takes the task input from stdin with --file -', async () => {
    const home = await tempHome()
    const dataDir = join(home, 'node-a')
    await foreground(home, dataDir)
    const r = await run(
      ['task', 'submit', '--type', 'mock', '--file', '-', '--wait', '--json', '--data-dir', dataDir],
      {
        home,
        input: 'from standard input',
      },
    )
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({
      status: 'COMPLETED',
      output: { text: 'from standard input', words: 3 },
    })
  }, 90_000)
})

describe('node start with a bad configuration', () => {
  it('exits 2 with every problem listed, in the foreground and with --detach, and leaves no files', async () => {
    const home = await tempHome()
    const { writeFile } = await import('node:fs/promises')
    const config = join(home, 'bad.yaml')
    await writeFile(config, 'network:\n  maxConnections: -1\nengine:\n  concurency: 2\n')
    const dataDir = join(home, 'node-a')
    for (const extra of [[], ['--detach']]) {
      const r = await run(
        ['node', 'start', '--config', config, '--data-dir', dataDir, ...LOCAL_NODE, ...extra],
        { home },
      )
      expect(r.code, extra.join(' ')).toBe(2)
      expect(r.stderr).toContain(`error: invalid configuration (${config}): 2 problems`)
      expect(r.stderr).toContain('network.maxConnections')
      expect(r.stderr).toMatch(/concurency.*did you mean.*concurrency/)
      expect(r.stderr).toContain('hint: see docs/configuration.md')
      await expect(stat(join(dataDir, 'node.pid'))).rejects.toThrow(/ENOENT/)
    }
    const typo = await run(['node', 'start', '--data-dir', dataDir, ...LOCAL_NODE], {
      home,
      env: { P2P_AI_NETWORK__MAX_CONECTIONS: '3' },
    })
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('P2P_AI_NETWORK__MAX_CONECTIONS')
  }, 90_000)

  it('exits 2 for an mDNS interface that does not exist, and leaves no data directory behind', async () => {
    const home = await tempHome()
    const { readdir, mkdir, writeFile } = await import('node:fs/promises')
    const fresh = join(home, 'node-a')
    for (const extra of [[], ['--detach']]) {
      const r = await run(
        [
          'node',
          'start',
          '--data-dir',
          fresh,
          '--listen',
          '/ip4/127.0.0.1/tcp/0',
          '--mdns-interface',
          'nosuchif0',
          ...extra,
        ],
        { home },
      )
      expect(r.code, extra.join(' ')).toBe(2)
      expect(r.stderr).toContain('unknown network interface "nosuchif0"')
      expect(r.stderr).toMatch(/hint: give lan, loopback, auto/)
      await expect(stat(fresh), extra.join(' ')).rejects.toThrow(/ENOENT/)
    }
    // A directory that was there keeps what it had, and gets nothing new.
    const existing = join(home, 'node-b')
    await mkdir(existing, { mode: 0o700 })
    await writeFile(join(existing, 'notes.txt'), 'mine')
    const r = await run(
      [
        'node',
        'start',
        '--data-dir',
        existing,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--mdns-interface',
        'nosuchif0',
        '--detach',
      ],
      { home },
    )
    expect(r.code).toBe(2)
    expect(await readdir(existing)).toEqual(['notes.txt'])
  }, 90_000)
})
