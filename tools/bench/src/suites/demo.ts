/**
 * The MVP's success criteria, measured on the real demo (`p2p-ai-agents demo run`, what
 * `npm run demo` runs) as a newcomer runs it: each round is one whole `demo run --json` process (4 agent processes on 127.0.0.1, mDNS on the loopback
 * interface, 20 tasks of every type, one agent killed with SIGKILL mid-task). 20 rounds, as the
 * MVP counts them ("19/20 demo runs succeed"); `--quick` runs 2.
 *
 * A round succeeds when the demo exits 0, which it does only when everything it claims happened:
 * the full mesh, every task's verified result, the failover. Figures: docs/benchmarks/demo.md.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { defineSuite, measure } from '../runner.js'

/** The built CLI (tools/bench/dist/suites → apps/cli/dist/bin.js), which runs the demo. */
const BIN = fileURLToPath(new URL('../../../../apps/cli/dist/bin.js', import.meta.url))
/** One demo run may take this long on a loaded machine before the round counts as failed. */
const RUN_TIMEOUT_MS = 300_000

/** The fields of the demo's report this suite reads (apps/cli/src/demo/run/report.ts). */
interface Report {
  ok: boolean
  failures: string[]
  agents: Array<{ startMs: number | null }>
  discovery: { meshMs: number | null; pairs: Array<{ ms: number }> }
  summary: { latencyMs: { p50: number; p99: number; max: number } | null; verified: number; tasks: number }
  failover: { recovered: Array<{ detectedMs: number; recoveredMs: number }> }
}

/** Runs the demo once; the process group is killed if it overruns or the bench is stopped. */
function runDemo(
  args: readonly string[],
  signal: AbortSignal,
): Promise<{ code: number | null; stdout: string; stderr: string; wallMs: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [BIN, 'demo', 'run', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  })
  // Its agents are tied to it: when it dies, they stop by themselves.
  const killGroup = (): void => {
    child.kill('SIGKILL')
  }
  const timer = setTimeout(killGroup, RUN_TIMEOUT_MS)
  signal.addEventListener('abort', killGroup, { once: true })
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
    child.once('close', (code) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', killGroup)
      resolve({ code, stdout, stderr, wallMs: performance.now() - t0 })
    })
  })
}

export default defineSuite({
  name: 'demo',
  description: 'the demo end to end, 20 runs: success rate, discovery time, task latency, failover',
  cases: [
    measure(
      'demo: 4 agents, 20 tasks, failover',
      async ({ signal }) => {
        const r = await runDemo(['--json'], signal)
        let report: Report | undefined
        try {
          report = JSON.parse(r.stdout) as Report
        } catch {
          report = undefined
        }
        const ok = r.code === 0 && report?.ok === true
        if (!ok) {
          const why = report?.failures.join('; ') ?? r.stderr.trim().split('\n').slice(-3).join(' | ')
          process.stderr.write(`demo run failed (exit ${r.code}): ${why}\n`)
        }
        const out: Record<string, number> = { successPct: ok ? 100 : 0, wallMs: r.wallMs }
        if (report === undefined) return out
        const starts = report.agents.map((a) => a.startMs).filter((ms): ms is number => ms !== null)
        if (starts.length > 0) out.agentStartMs = Math.max(...starts)
        if (report.discovery.meshMs !== null) out.discoveryMs = report.discovery.meshMs
        if (report.discovery.pairs.length > 0)
          out.slowestPairMs = Math.max(...report.discovery.pairs.map((p) => p.ms))
        const latency = report.summary.latencyMs
        if (latency !== null) {
          out.taskP50Ms = latency.p50
          out.taskP99Ms = latency.p99
          out.taskMaxMs = latency.max
        }
        out.verifiedPct = (100 * report.summary.verified) / Math.max(1, report.summary.tasks)
        const recovered = report.failover.recovered
        if (recovered.length > 0) {
          out.failoverDetectedMs = Math.max(...recovered.map((x) => x.detectedMs))
          out.failoverRecoveredMs = Math.max(...recovered.map((x) => x.recoveredMs))
        }
        return out
      },
      {
        rounds: 20,
        warmupRounds: 0,
        description:
          'one round = one `demo --json` process; successPct is 100 when it exited 0 (everything it claims happened). ' +
          'discoveryMs: last node listening → full mesh; slowestPairMs: the slowest pair of nodes to connect after both listened; ' +
          'task*: submit → verified result, per run; failover*: SIGKILL → failed attempt recorded / verified result elsewhere',
      },
    ),
  ],
})
