/**
 * `demo run`, what `npm run demo` runs, as a newcomer runs it: the built binary in its own
 * process, its agents `node start` processes on 127.0.0.1 with mDNS on the loopback interface.
 * Small (3 agents, 8 tasks: two of each type) but complete: discovery, verified results, a
 * SIGKILL mid-task and its failover.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { DemoReport } from '../src/demo/run/report.js'
import { alive, BIN, cliEnv } from './helpers.js'

const children: ChildProcess[] = []
const dirs: string[] = []

afterEach(async () => {
  // Killing the demo closes its agents' channel to it, and each agent then stops by itself.
  for (const child of children.splice(0)) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** `p2p-ai-agents demo run <args>`. */
function demo(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, 'demo', 'run', ...args], {
    env: { ...cliEnv(tmpdir()), NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s
  })
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s
  })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('demo run', () => {
  it('runs 3 agents that find each other, verifies every task, and survives a SIGKILL mid-task (--json)', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'p2p-ai-demo-test-'))
    dirs.push(tmp)
    const r = await demo(['--nodes', '3', '--tasks', '8', '--json'], { TMPDIR: tmp })
    // --json: the report and nothing else on stdout.
    const report = JSON.parse(r.stdout) as DemoReport
    expect(report.failures).toEqual([])
    expect(r.code).toBe(0)
    expect(report.ok).toBe(true)

    const names = ['agent-1', 'agent-2', 'agent-3']
    expect(report.agents.map((a) => a.name)).toEqual(names)
    for (const a of report.agents) {
      expect(a.address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
      expect(alive(a.pid!)).toBe(false)
    }

    // Discovery: 3 agents and the requester, every pair connected.
    expect(report.discovery).toMatchObject({ complete: true, connections: 6, expectedConnections: 6 })
    expect(report.discovery.meshMs).toBeGreaterThanOrEqual(0)
    expect(report.discovery.pairs).toHaveLength(6)

    // Every task: completed by an agent (one hop away), signed, and its output checked.
    expect(report.tasks.map((t) => t.type)).toEqual([
      'mock',
      'chunk',
      'embed',
      'ocr',
      'mock',
      'chunk',
      'embed',
      'ocr',
    ])
    for (const t of report.tasks) {
      expect(t).toMatchObject({ status: 'COMPLETED', hops: 1, signed: true, outputChecked: true })
      expect(names).toContain(t.ranOn)
    }
    expect(report.tasks.find((t) => t.type === 'ocr')?.check).toContain('read "Hello, P2P world!"')

    // Failover: the agent running the chosen mock task died of SIGKILL; its tasks completed elsewhere.
    const f = report.failover
    expect(f.observed).toBe(true)
    expect(f.exitSignal).toBe('SIGKILL')
    expect(f.runningAtKill.length).toBeGreaterThan(0)
    expect(report.agents.find((a) => a.name === f.victim)?.end).toBe('killed by the failover')
    // The task it was killed in the middle of, and any other it held (unless it had just finished
    // it), failed there with a peer error and completed on another agent.
    expect(f.runningAtKill).toContain(f.trigger)
    for (const n of f.runningAtKill.filter((x) => !f.finishedThere.includes(x))) {
      const t = report.tasks[n - 1]!
      expect(t.ranOn).not.toBe(f.victim)
      expect(t.attempts.find((a) => a.ranOn === f.victim)?.error?.code).toMatch(/^ERR_PEER_/)
      expect(f.recovered.map((x) => x.number)).toContain(n)
    }
    expect(f.noticedBy.map((x) => x.name)).toContain('requester')
    for (const a of report.agents.filter((x) => x.name !== f.victim)) expect(a.end).toBe('stopped')

    expect(report.summary).toMatchObject({
      agents: 3,
      agentsRunningAtEnd: 2,
      tasks: 8,
      verified: 8,
      successRate: 1,
    })
    expect(report.summary.latencyMs?.p50).toBeGreaterThan(0)
    // Nothing of the demo's left on disk. (ONNX Runtime, which the demo loads to check embeddings,
    // leaves an empty mat-debug-<pid>.log and a .ses file in the temporary directory of a process.)
    expect((await readdir(tmp)).filter((f) => !/^mat-debug-\d+\.log$|^\.ses$/.test(f))).toEqual([])
    expect((await readdir(tmp)).filter((f) => f.startsWith('mat-debug-')).length).toBeLessThanOrEqual(1)
  }, 240_000)

  it('narrates in numbered steps, without colour under NO_COLOR', async () => {
    const r = await demo(['--nodes', '1', '--tasks', '1', '--types', 'chunk', '--no-failover'])
    expect(r.code).toBe(0)
    for (const step of [
      '1. Starting 1 agent and a requester',
      '2. Discovering peers',
      '3. Sending 1 task',
      '4. Stopping',
      '5. Summary',
    ])
      expect(r.stdout).toContain(step)
    expect(r.stdout).toMatch(/✔ #1 +chunk .* → agent-1 +1 hop/)
    expect(r.stdout).toContain('Demo complete')
    expect(r.stdout).not.toContain('\x1b[')
  }, 240_000)

  it('exits 2 with a helpful message for a bad option', async () => {
    const unknown = await demo(['--nodez', '3'])
    expect(unknown.code).toBe(2)
    expect(unknown.stdout).toBe('')
    expect(unknown.stderr).toBe(
      'error: unknown option "--nodez" for "demo run"; did you mean "--nodes"?\nhint: run `p2p-ai-agents demo run --help` for its options\n',
    )

    const range = await demo(['--nodes', '0'])
    expect(range.code).toBe(2)
    expect(range.stderr).toContain('--nodes must be an integer between 1 and 10, got "0"')

    const type = await demo(['--types', 'mock,translate'])
    expect(type.code).toBe(2)
    expect(type.stderr).toContain(
      'unknown task type "translate"; choose from mock, chunk, embed, ocr, tokenize',
    )
  }, 60_000)

  it('prints its options with --help', async () => {
    const r = await demo(['--help'])
    expect(r.code).toBe(0)
    for (const option of ['--nodes <n>', '--tasks <n>', '--types <list>', '--no-failover', '--json'])
      expect(r.stdout).toContain(option)
  }, 60_000)
})
