/**
 * Cold start of the `p2p-ai-agents` command: a whole process, from spawn to exit, as a person or
 * a script runs it. Client commands (`node status`) talk to the node's control API and must not
 * load the network stack; the `import @p2p-ai/node` case shows what they would pay if they did.
 * Nodes stay on 127.0.0.1 without mDNS; each suite run has its own temporary HOME.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI_BIN as BIN, NODE_ENTRY } from '../repo-paths.js'
import { defineSuite, measure } from '../runner.js'

interface State {
  home: string
  dataDir: string
  env: NodeJS.ProcessEnv
}

function exec(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

/** Wall time of one process run, checking its exit code. */
async function timed(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  expectCode: number,
): Promise<{ wallMs: number }> {
  const t0 = performance.now()
  const r = await exec(args, env)
  const wallMs = performance.now() - t0
  if (r.code !== expectCode)
    throw new Error(`${args.join(' ')} exited ${r.code}, expected ${expectCode}: ${r.stderr}`)
  return { wallMs }
}

export default defineSuite<State>({
  name: 'cli',
  description: 'cold start of p2p-ai-agents commands (spawn to exit), with a node running on 127.0.0.1',
  setup: async () => {
    const home = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-cli-'))
    const dataDir = join(home, 'node')
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CONFIG_HOME: join(home, 'config'),
      NO_COLOR: '1',
    }
    const started = await exec(
      [
        BIN,
        'node',
        'start',
        '--detach',
        '--data-dir',
        dataDir,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--no-mdns',
      ],
      env,
    )
    if (started.code !== 0) throw new Error(`node start failed: ${started.stderr}`)
    return { home, dataDir, env }
  },
  teardown: async (s) => {
    await exec([BIN, 'node', 'stop', '--data-dir', s.dataDir], s.env)
    await rm(s.home, { recursive: true, force: true })
  },
  cases: (s) => [
    measure('node (bare ES module process)', () => timed(['--input-type=module', '-e', ''], s.env, 0), {
      rounds: 10,
      description: 'an empty ES module: the floor every command stands on',
    }),
    measure('--version', () => timed([BIN, '--version'], s.env, 0), { rounds: 10 }),
    measure(
      'node status (running node)',
      () => timed([BIN, 'node', 'status', '--data-dir', s.dataDir], s.env, 0),
      {
        rounds: 10,
        description: 'reads control.json and the token, one HTTP request to 127.0.0.1, prints',
      },
    ),
    measure(
      'node status --json (running node)',
      () => timed([BIN, 'node', 'status', '--json', '--data-dir', s.dataDir], s.env, 0),
      {
        rounds: 10,
      },
    ),
    measure(
      'node status (no node: exit 3)',
      () => timed([BIN, 'node', 'status', '--data-dir', join(s.home, 'none')], s.env, 3),
      {
        rounds: 10,
      },
    ),
    measure(
      'import @p2p-ai/node (what status avoids)',
      () => timed(['--input-type=module', '-e', `await import(${JSON.stringify(NODE_ENTRY)})`], s.env, 0),
      {
        rounds: 10,
        description: 'a process that only loads the node package (libp2p, engine, SQLite driver)',
      },
    ),
  ],
})
