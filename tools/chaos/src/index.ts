/**
 * @packageDocumentation
 *
 * The chaos harness of p2p-ai (private): a real workload across `p2p-ai-agents` node processes (on
 * 127.0.0.1, or on test hosts in network namespaces), while faults are injected at random from a
 * fixed seed: SIGKILL a provider, SIGKILL the requester and restart it, SIGSTOP/SIGCONT a node, cut
 * and restore a host's link, stop a node gracefully, fill a provider's queue. At the end it checks
 * that every task id an API acknowledged is final (completed with a verified result, or failed
 * with a reason), that no result an API reported is lost, that every store passes SQLite's
 * integrity check, that no process is left behind, and that surviving nodes' memory came back.
 *
 * ```ts
 * import { formatReport, runChaos } from '@p2p-ai/chaos'
 *
 * const report = await runChaos({ seed: 7, durationMs: 30_000 })
 * console.log(formatReport(report)) // report.ok: every invariant held
 * ```
 */

export { ChaosHarnessError, InvalidChaosOptionError } from './errors.js'
export type { FaultRecord } from './faults.js'
export {
  checkMemory,
  checkStores,
  checkTasks,
  percentile,
  type Violation,
  type ViolationKind,
} from './invariants.js'
export { cliBin } from './node-process.js'
export type { ChaosInit } from './options.js'
export { FAULT_KINDS, type FaultKind, type PlannedFault, planFaults, TESTNET_ONLY } from './plan.js'
export { Random } from './random.js'
export { type ChaosReport, formatReport } from './report.js'
export { runChaos } from './run.js'
