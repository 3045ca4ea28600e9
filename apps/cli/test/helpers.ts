import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The built binary: tests run the CLI as a person does, in its own process. */
export const BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url))

export interface RunResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Directories made by `tempHome`, and the node processes that may run from them. */
const homes: string[] = []

/**
 * A fresh HOME for one test, with its own XDG directories, so nothing touches the real user's
 * data directory or config file. Every node started under it is killed by `cleanUp`.
 */
export async function tempHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'p2p-ai-cli-test-'))
  homes.push(home)
  return home
}

/** An environment for the CLI: the temp HOME, no colour, no P2P_AI_* from the caller. */
export function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('P2P_AI_') && k !== 'FORCE_COLOR' && k !== 'NO_COLOR') env[k] = v
  }
  return {
    ...env,
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
    ...extra,
  }
}

/** Runs `p2p-ai-agents <args>` and collects its output and exit code. */
export function run(
  args: readonly string[],
  options: { home: string; env?: Record<string, string>; timeoutMs?: number; input?: string },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: cliEnv(options.home, options.env), cwd: options.home, timeout: options.timeoutMs ?? 60_000 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
        resolve({ code, stdout, stderr })
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

/** Node options that keep a test node on 127.0.0.1, without multicast. */
export const LOCAL_NODE = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/** Kills every node started under a temp HOME (also when the test failed) and removes the HOMEs. */
export async function cleanUp(): Promise<void> {
  for (const home of homes.splice(0)) {
    for (const pid of await pidsUnder(home)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    await rm(home, { recursive: true, force: true })
  }
}

/**
 * Pids named in pid, control and watchdog files anywhere below `dir` (nodes, their watchdogs and
 * demo nodes), watchdogs first: a node killed before its watchdog would be restarted.
 */
async function pidsUnder(dir: string): Promise<number[]> {
  const { readdir } = await import('node:fs/promises')
  const pids: number[] = []
  let entries: string[]
  try {
    entries = (await readdir(dir, { recursive: true })) as string[]
  } catch {
    return pids
  }
  for (const rel of entries) {
    if (!rel.endsWith('node.pid') && !rel.endsWith('control.json') && !rel.endsWith('supervisor.json'))
      continue
    try {
      const text = await readFile(join(dir, rel), 'utf8')
      const pid = rel.endsWith('node.pid')
        ? Number.parseInt(text, 10)
        : (JSON.parse(text) as { pid: number }).pid
      if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) continue
      if (rel.endsWith('supervisor.json')) pids.unshift(pid)
      else pids.push(pid)
    } catch {
      // Half-written or removed meanwhile.
    }
  }
  return pids
}

/** Whether a process runs (an exited one waiting to be reaped does not count). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return process.platform !== 'linux'
  }
}

/** A pid that is surely not running: a child that has exited. */
export async function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['-e', ''], () => resolve(child.pid!))
  })
}
