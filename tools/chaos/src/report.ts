/** What a chaos run reports, and how it reads for people. */
import type { FaultRecord } from './faults.js'
import type { MemorySample, Violation, ViolationKind } from './invariants.js'
import type { FaultKind } from './plan.js'

export interface ChaosReport {
  /** No violation. */
  readonly ok: boolean
  readonly seed: number
  readonly environment: 'loopback' | 'testnet'
  readonly nodes: number
  readonly clients: number
  /** The whole run, set-up and checks included. */
  readonly wallMs: number
  /** From the first fault to the end of the last. */
  readonly faultWindowMs: number
  readonly tasks: {
    /** Task ids the control APIs answered. */
    readonly acknowledged: number
    /** Final COMPLETED at the end, with verified outputs. */
    readonly completed: number
    /** Final otherwise at the end, by error code. */
    readonly failed: Readonly<Record<string, number>>
    /** Resumed after a crash of their node (as the clients saw them final). */
    readonly resumed: number
    /** Submitted by `fill-queue` to providers' own queues (part of `acknowledged`). */
    readonly fills: number
  }
  readonly faults: readonly FaultRecord[]
  readonly faultCounts: Readonly<Record<FaultKind, number>>
  /** Results reported COMPLETED and gone or changed at the end: must be 0. */
  readonly lost: number
  /** Acknowledged ids unknown during or at the end: must be 0. */
  readonly missing: number
  /** Acknowledged tasks not final at the end: must be 0. */
  readonly stuck: number
  /** A provider killed with tasks of the requester on it: kill → each such task's verified result. */
  readonly recovery: {
    readonly samples: number
    readonly p50Ms?: number
    readonly p99Ms?: number
    readonly maxMs?: number
  }
  /** Kill of the requester → its control API answering again, ms, per kill. */
  readonly requesterRestartMs: readonly number[]
  readonly stores: ReadonlyArray<{ readonly path: string; readonly result: string }>
  readonly memory: readonly MemorySample[]
  readonly violations: readonly Violation[]
  /** The run's directory (data directories, node logs), when kept. */
  readonly workDir?: string
}

export function countViolations(violations: readonly Violation[], kind: ViolationKind): number {
  return violations.filter((v) => v.kind === kind).length
}

/** The report as lines of text. */
export function formatReport(r: ChaosReport): string {
  const lines: string[] = []
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`
  lines.push(
    `chaos run, seed ${r.seed}, ${r.environment}: ${r.nodes} nodes, ${r.clients} clients, ${s(r.wallMs)} in all (faults for ${s(r.faultWindowMs)})`,
  )
  const failed = Object.entries(r.tasks.failed)
    .map(([code, n]) => `${n} ${code}`)
    .join(', ')
  lines.push(
    `tasks: ${r.tasks.acknowledged} acknowledged (${r.tasks.fills} to fill queues), ${r.tasks.completed} completed and verified, ${Object.values(r.tasks.failed).reduce((a, b) => a + b, 0)} failed with a reason${failed === '' ? '' : ` (${failed})`}, ${r.tasks.resumed} resumed after a crash`,
  )
  lines.push(
    `faults: ${r.faults.length} (${Object.entries(r.faultCounts)
      .map(([k, n]) => `${k} ×${n}`)
      .join(', ')})`,
  )
  for (const f of r.faults) lines.push(`  #${f.n} at ${s(f.atMs)}: ${f.kind} ${f.target}: ${f.note}`)
  lines.push(`lost: ${r.lost}, missing: ${r.missing}, stuck: ${r.stuck}`)
  const rec = r.recovery
  lines.push(
    rec.samples === 0
      ? 'recovery after a provider kill: no task of the requester was still unfinished on a killed provider'
      : `recovery after a provider kill: p50 ${rec.p50Ms} ms, p99 ${rec.p99Ms} ms, max ${rec.maxMs} ms (${rec.samples} tasks)`,
  )
  if (r.requesterRestartMs.length > 0) {
    lines.push(`requester kill → API back: ${r.requesterRestartMs.map((ms) => `${ms} ms`).join(', ')}`)
  }
  lines.push(`stores: ${r.stores.length} checked, ${r.stores.filter((x) => x.result === 'ok').length} ok`)
  for (const m of r.memory) {
    lines.push(
      `memory of ${m.node} (never restarted): ${(m.startRssBytes / 2 ** 20).toFixed(0)} MB → ${(m.endRssBytes / 2 ** 20).toFixed(0)} MB resident`,
    )
  }
  if (r.violations.length === 0) lines.push('✔ every invariant held')
  else {
    lines.push(`✖ ${r.violations.length} violations:`)
    for (const v of r.violations.slice(0, 50)) lines.push(`  [${v.kind}] ${v.detail}`)
    if (r.violations.length > 50) lines.push(`  … and ${r.violations.length - 50} more`)
  }
  if (r.workDir !== undefined) lines.push(`run directory (data, node logs): ${r.workDir}`)
  return lines.join('\n')
}
