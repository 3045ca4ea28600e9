import { readFileSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanUp, deadPid, run, tempHome } from './helpers.js'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string
}

afterEach(cleanUp)

describe('version and help', () => {
  it('prints the version with --version and -V', async () => {
    const home = await tempHome()
    for (const flag of ['--version', '-V']) {
      const r = await run([flag], { home })
      expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' })
    }
  })

  it('lists every group and command, the exit codes and how to start, with --help', async () => {
    const home = await tempHome()
    const r = await run(['--help'], { home })
    expect(r.code).toBe(0)
    for (const cmd of [
      'node start',
      'node monitor',
      'task submit',
      'task cancel',
      'models pull',
      'demo interactive',
    ]) {
      expect(r.stdout).toContain(cmd)
    }
    expect(r.stdout).toMatch(/Exit codes:[\s\S]*3\s+no node is running/)
    expect(r.stdout).toContain('p2p-ai-agents node start --detach')
  })

  it('shows a command its options and examples with --help, wherever the flag is', async () => {
    const home = await tempHome()
    for (const args of [
      ['task', 'submit', '--help'],
      ['task', 'submit', '--type', 'x', '-h'],
    ]) {
      const r = await run(args, { home })
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('Usage: p2p-ai-agents task submit [options]')
      expect(r.stdout).toContain('--redundancy <k>')
      expect(r.stdout).toContain('Examples:')
      expect(r.stdout).toContain('$ p2p-ai-agents task submit --type mock --input "hello" --wait')
    }
  })

  it('shows a group its commands when given no command', async () => {
    const home = await tempHome()
    const r = await run(['node'], { home })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/Commands:[\s\S]*start[\s\S]*stop[\s\S]*status[\s\S]*peers[\s\S]*monitor/)
  })

  it('writes no colour codes when the output is not a terminal, even with FORCE_COLOR under NO_COLOR', async () => {
    const home = await tempHome()
    const plain = await run(['--help'], { home })
    const forcedOff = await run(['--help'], { home, env: { FORCE_COLOR: '1', NO_COLOR: '1' } })
    const forced = await run(['--help'], { home, env: { FORCE_COLOR: '1' } })
    expect(plain.stdout).not.toContain('\u001b[')
    expect(forcedOff.stdout).not.toContain('\u001b[')
    expect(forced.stdout).toContain('\u001b[1m')
  })
})

describe('usage errors exit 2 and say what to do', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown group', ['nod', 'status'], /unknown command "nod"; did you mean "node"\?/],
    ['an unknown command', ['node', 'stauts'], /unknown command "node stauts"; did you mean "node status"\?/],
    [
      'an unknown option',
      ['task', 'list', '--limt', '5'],
      /unknown option "--limt" for "task list"; did you mean "--limit"\?/,
    ],
    [
      'a value that is not a number',
      ['task', 'list', '--limit', 'ten'],
      /--limit must be an integer between 1 and 1000, got "ten"/,
    ],
    [
      'a value out of range',
      ['node', 'start', '--port', '70000'],
      /--port must be an integer between 0 and 65535/,
    ],
    [
      'a value not among the choices',
      ['task', 'list', '--status', 'DONE'],
      /--status must be one of PENDING, QUEUED, RUNNING, COMPLETED/,
    ],
    [
      "a priority out of the network's range",
      ['task', 'submit', '--type', 'mock', '--input', 'a', '--priority', '10'],
      /--priority must be an integer between 0 and 9, got "10"/,
    ],
    ['a missing argument', ['task', 'status'], /missing <id>/],
    ['an extra argument', ['node', 'status', 'now'], /takes no arguments, got "now"/],
    ['a missing --type', ['task', 'submit', '--input', 'hi'], /--type is required/],
    [
      'two inputs',
      ['task', 'submit', '--type', 'mock', '--input', 'a', '--file', 'b'],
      /only one of --input, --file and --input-json/,
    ],
    ['an option without its value', ['task', 'submit', '--type'], /--type needs a value/],
    [
      'a bad --param',
      ['task', 'submit', '--type', 'mock', '--input', 'a', '--param', 'size'],
      /--param must be key=value/,
    ],
    ['options before the command', ['--json', 'node', 'status'], /a command comes first/],
    [
      '--port with --listen',
      ['node', 'start', '--port', '1', '--listen', '/ip4/127.0.0.1/tcp/0'],
      /--port or --listen, not both/,
    ],
  ]
  for (const [what, args, message] of cases) {
    it(`for ${what}`, async () => {
      const home = await tempHome()
      const r = await run(args, { home })
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toMatch(message)
      expect(r.stderr).toMatch(/^error: /)
      expect(r.stderr).toMatch(/\nhint: |^error: .*\n$/)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    })
  }
})

describe('task inputs', () => {
  it('refuses a file too large for the node by its size, before reading it or reaching the node', async () => {
    const home = await tempHome()
    const { open } = await import('node:fs/promises')
    // Sparse: 23 MB that take no disk and no time to write.
    const big = await open(join(home, 'big.txt'), 'w')
    await big.truncate(23_000_000)
    await big.close()
    const r = await run(['task', 'submit', '--type', 'chunk', '--file', 'big.txt'], { home })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`${join(home, 'big.txt')} is 21.9 MB: a task's input can be at most 16.0 MB`)
    expect(r.stderr).toContain('hint: split it into several tasks')
    // An image travels as base64: 4 bytes for every 3.
    const image = await open(join(home, 'page.png'), 'w')
    await image.truncate(13_000_000)
    await image.close()
    const ocr = await run(['task', 'submit', '--type', 'ocr', '--file', 'page.png'], { home })
    expect(ocr.code).toBe(2)
    expect(ocr.stderr).toContain("is 12.4 MB: a task's input can be at most 12.0 MB")
  })
})

describe('when no node is running', () => {
  it('node status exits 3 and says how to start one', async () => {
    const home = await tempHome()
    const r = await run(['node', 'status'], { home })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(
      `error: no node is running on this machine for data directory ${join(home, 'data', 'p2p-ai')}`,
    )
    expect(r.stderr).toContain('hint: start one with `p2p-ai-agents node start`')
  })

  it('every client command exits 3 the same way', async () => {
    const home = await tempHome()
    for (const args of [
      ['node', 'peers', '--json'],
      ['node', 'stop'],
      ['task', 'list'],
      ['task', 'status', 'x'],
      ['node', 'monitor'],
    ]) {
      const r = await run(args, { home })
      expect(r.code, args.join(' ')).toBe(3)
      expect(r.stderr).toContain('no node is running')
    }
  })

  it('a stale pid file (of a dead process) is reported, removed, and still exits 3', async () => {
    const home = await tempHome()
    const dataDir = join(home, 'node-a')
    await mkdir(dataDir, { recursive: true })
    const pid = await deadPid()
    await writeFile(join(dataDir, 'node.pid'), `${pid}\n`)
    await writeFile(
      join(dataDir, 'control.json'),
      JSON.stringify({ pid, url: 'http://127.0.0.1:1', startedAt: 0, version: '0', peerId: 'x' }),
    )
    const r = await run(['node', 'status', '--data-dir', dataDir], { home })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain(`removed stale files of pid ${pid}, which is not running`)
    await expect(readFile(join(dataDir, 'node.pid'))).rejects.toThrow(/ENOENT/)
    await expect(readFile(join(dataDir, 'control.json'))).rejects.toThrow(/ENOENT/)
  })

  it('finds the data directory from P2P_AI_DATA_DIR and from the config file', async () => {
    const home = await tempHome()
    const fromEnv = await run(['node', 'status'], { home, env: { P2P_AI_DATA_DIR: join(home, 'env-dir') } })
    expect(fromEnv.stderr).toContain(`data directory ${join(home, 'env-dir')}`)
    await mkdir(join(home, 'config', 'p2p-ai'), { recursive: true })
    await writeFile(
      join(home, 'config', 'p2p-ai', 'config.yaml'),
      'dataDir: ./from-file\nlog:\n  level: warn\n',
    )
    const fromFile = await run(['node', 'status'], { home })
    expect(fromFile.stderr).toContain(`data directory ${join(home, 'config', 'p2p-ai', 'from-file')}`)
    const missing = await run(['node', 'status', '--config', 'nope.yaml'], { home })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain(`config file ${join(home, 'nope.yaml')} does not exist`)
    // A directory is not a missing file: say what it is and what to give instead.
    const directory = await run(['node', 'status', '--config', 'config'], { home })
    expect(directory.code).toBe(2)
    expect(directory.stderr).toContain(`error: config file ${join(home, 'config')} is a directory`)
    expect(directory.stderr).toContain(
      `hint: give the YAML file itself, such as ${join(home, 'config', 'config.yaml')}`,
    )
  })
})
