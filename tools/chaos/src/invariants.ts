/**
 * The end of a run, judged: what must hold however the faults fell. Pure functions over the
 * evidence the harness gathered, so each rule is tested on its own (test/invariants.test.ts).
 */
import type { AuditEntry, FinalSeen } from './driver/protocol.js'
import type { Ack, Refusal } from './ledger.js'
import type { Crash } from './node-process.js'

export type ViolationKind =
  /** An acknowledged id the API did not know (during the run, or at the end). */
  | 'missing'
  /** An acknowledged task not final at the end. */
  | 'stuck'
  /** A result the API reported final (COMPLETED) that is gone or changed at the end. */
  | 'lost'
  /** A final task that changed its status afterwards. */
  | 'changed'
  /** COMPLETED with an output that does not match its input. */
  | 'unverified'
  /** Not completed, and no error code saying why. */
  | 'no-reason'
  /** The API said an answer was not durable where the node keeps a store. */
  | 'not-durable'
  /** A store file that fails `PRAGMA integrity_check`. */
  | 'store'
  /** A process of the run still alive at the end, or a node's lock file left by a clean exit. */
  | 'left-behind'
  /** A node process that exited without being killed or stopped. */
  | 'crash'
  /** A graceful stop that did not exit 0 within its deadline. */
  | 'stop'
  /** A surviving node whose memory did not come back near its start. */
  | 'memory'
  /** An error answer a correct client should never get. */
  | 'refused'

export interface Violation {
  readonly kind: ViolationKind
  readonly detail: string
  readonly id?: string
}

export interface TaskEvidence {
  readonly acks: ReadonlyMap<string, Ack>
  readonly finals: ReadonlyMap<string, FinalSeen>
  /** 404s for acknowledged ids during the run. */
  readonly missing: ReadonlyMap<string, unknown>
  /** What the API says of each acknowledged id at the end. */
  readonly audits: ReadonlyMap<string, AuditEntry>
  readonly refusals: readonly Refusal[]
}

function isFinal(status: string): boolean {
  return status !== 'PENDING' && status !== 'QUEUED' && status !== 'RUNNING'
}

/**
 * Every acknowledged task id is final at the end (completed with a verified result, or failed
 * with a code): none missing, none stuck; no result the API reported is lost or changed.
 */
export function checkTasks(e: TaskEvidence): Violation[] {
  const out: Violation[] = []
  for (const [id, at] of e.missing) {
    out.push({
      kind: 'missing',
      id,
      detail: `the API answered 404 for acknowledged task ${id} (${JSON.stringify(at)})`,
    })
  }
  for (const id of e.acks.keys()) {
    const audit = e.audits.get(id)
    if (audit === undefined || audit.unreachable === true) {
      out.push({ kind: 'stuck', id, detail: `task ${id}: its node could not be asked at the end` })
      continue
    }
    if (audit.notFound === true) {
      if (!e.missing.has(id)) out.push({ kind: 'missing', id, detail: `task ${id} is unknown at the end` })
      continue
    }
    const status = audit.status ?? 'unknown'
    if (!isFinal(status)) {
      out.push({ kind: 'stuck', id, detail: `task ${id} is still ${status} at the end` })
      continue
    }
    if (status === 'COMPLETED' && audit.verified !== true) {
      out.push({
        kind: 'unverified',
        id,
        detail: `task ${id} completed with an output that does not match its input`,
      })
    }
    if (status !== 'COMPLETED' && (audit.code === undefined || audit.code === '')) {
      out.push({ kind: 'no-reason', id, detail: `task ${id} is ${status} without an error code` })
    }
    const seen = e.finals.get(id)
    if (seen === undefined) continue
    if (seen.notDurable === true) {
      out.push({
        kind: 'not-durable',
        id,
        detail: `the API reported task ${id} ${seen.status} as not durable`,
      })
    }
    if (seen.status === 'COMPLETED' && (status !== 'COMPLETED' || audit.output !== seen.output)) {
      out.push({
        kind: 'lost',
        id,
        detail: `task ${id} was reported COMPLETED, and is ${status}${status === 'COMPLETED' ? ' with another output' : ''} at the end`,
      })
    } else if (seen.status !== status) {
      out.push({
        kind: 'changed',
        id,
        detail: `task ${id} was reported ${seen.status}, and is ${status} at the end`,
      })
    }
  }
  for (const r of e.refusals) {
    out.push({ kind: 'refused', detail: `${r.node}: ${r.what} answered ${r.status} ${r.code}: ${r.message}` })
  }
  return out
}

export function checkStores(
  results: ReadonlyArray<{ readonly path: string; readonly result: string }>,
): Violation[] {
  return results
    .filter((r) => r.result !== 'ok')
    .map((r) => ({ kind: 'store' as const, detail: `${r.path}: integrity_check says ${r.result}` }))
}

export function checkCrashes(crashes: readonly Crash[]): Violation[] {
  return crashes.map((c) => ({
    kind: 'crash' as const,
    detail: `${c.node} exited on its own (${c.code ?? c.signal}): ${c.stderr.slice(-3).join(' | ')}`,
  }))
}

export interface MemorySample {
  readonly node: string
  readonly startRssBytes: number
  readonly endRssBytes: number
}

/** A surviving node's RSS at the end is at most its start plus the larger of the two allowances. */
export function checkMemory(
  samples: readonly MemorySample[],
  growth: { readonly fraction: number; readonly bytes: number },
): Violation[] {
  const out: Violation[] = []
  for (const s of samples) {
    const allowed = s.startRssBytes + Math.max(growth.bytes, s.startRssBytes * growth.fraction)
    if (s.endRssBytes > allowed) {
      const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MB`
      out.push({
        kind: 'memory',
        detail: `${s.node}: ${mb(s.endRssBytes)} resident at the end against ${mb(s.startRssBytes)} at the start (at most ${mb(allowed)} allowed)`,
      })
    }
  }
  return out
}

/** Nearest-rank percentile of `values` (p in 0..100); undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]
}
