/**
 * The long chaos soak (issue 11): `@p2p-ai/chaos` runs a requester and three providers
 * (`p2p-ai-agents node start` processes), each on its own test host in a network namespace, with
 * 24 clients looping submit + wait on the requester's control API, for 10 minutes of faults drawn
 * from a fixed seed: SIGKILL of a provider and of the requester (restarted), SIGSTOP/SIGCONT, a cut
 * link, a graceful stop, a full queue. One round is one whole run (`--quick`: 40 s of faults, for a
 * smoke test). Needs root and iproute2, as the testnet tests do.
 *
 * It reports tasks, faults injected, lost, missing and stuck (each must be 0), violations of any
 * invariant (0), and the recovery time after a provider kill: from the SIGKILL to the verified
 * result of each task the requester had on that provider, p50 and p99. The full report goes to
 * stderr, for docs/benchmarks/chaos.md.
 */
import { formatReport, runChaos } from '@p2p-ai/chaos'
import { defineSuite, measure } from '../runner.js'

const SOAK_MS = 10 * 60_000
const QUICK_MS = 40_000
const SEED = 2026

const zero = (metric: string) =>
  ({ metric, atMost: 0, judged: 'every round', source: 'issue 11: must be 0' }) as const

export default defineSuite({
  name: 'chaos',
  description:
    'chaos soak: 10 min of random faults (seeded) on 4 node processes on test hosts; lost and stuck must be 0',
  cases: [
    measure(
      'soak: requester + 3 providers, 24 clients, every fault kind',
      async ({ quick, signal }) => {
        const report = await runChaos({
          seed: SEED,
          testnet: true,
          durationMs: quick ? QUICK_MS : SOAK_MS,
          clients: 24,
          signal,
          log: (line) => process.stderr.write(`  chaos: ${line}\n`),
        })
        process.stderr.write(`${formatReport(report)}\n`)
        const failed = Object.values(report.tasks.failed).reduce((a, b) => a + b, 0)
        return {
          tasks: report.tasks.acknowledged,
          completed: report.tasks.completed,
          failedWithReason: failed,
          resumed: report.tasks.resumed,
          faults: report.faults.length,
          // kill-provider → killProviderFaults
          ...Object.fromEntries(
            Object.entries(report.faultCounts).map(([kind, n]) => [
              `${kind.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Faults`,
              n,
            ]),
          ),
          lost: report.lost,
          missing: report.missing,
          stuck: report.stuck,
          violations: report.violations.length,
          ...(report.recovery.p50Ms === undefined ? {} : { recoveryP50Ms: report.recovery.p50Ms }),
          ...(report.recovery.p99Ms === undefined ? {} : { recoveryP99Ms: report.recovery.p99Ms }),
          recoverySamples: report.recovery.samples,
          tasksPerSec: report.tasks.acknowledged / (report.wallMs / 1000),
          wallMs: report.wallMs,
        }
      },
      {
        rounds: 1,
        warmupRounds: 0,
        units: {
          tasks: 'tasks',
          completed: 'tasks',
          failedWithReason: 'tasks',
          resumed: 'tasks',
          faults: 'count',
          lost: 'tasks',
          missing: 'tasks',
          stuck: 'tasks',
          violations: 'count',
          recoverySamples: 'tasks',
          tasksPerSec: 'tasks/s',
        },
        description:
          'one round = one seeded run; lost: results reported COMPLETED and gone at the end; stuck: acknowledged and not final; recovery: provider SIGKILL → verified result of each task it had',
        targets: [zero('lost'), zero('missing'), zero('stuck'), zero('violations')],
      },
    ),
  ],
})
