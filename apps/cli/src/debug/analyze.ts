/** `debug analyze`: the rules (rules.ts) run over a snapshot, most severe findings first. */
import type { SnapshotJson } from '../control/debug-types.js'
import { RULES, type Rule, type Severity } from './rules.js'

/** One thing that looks wrong, and what to do about it. */
export interface Finding {
  readonly id: string
  readonly severity: Severity
  readonly title: string
  readonly evidence: string
  readonly advice: string
}

/** What `debug analyze --json` prints. */
export interface Analysis {
  readonly peerId: string
  readonly takenAt: number
  readonly findings: readonly Finding[]
  /** Rules that ran and found nothing (so a clean report still says what was checked). */
  readonly passed: readonly string[]
}

const ORDER: Record<Severity, number> = { critical: 0, warning: 1, info: 2 }

export function analyze(snapshot: SnapshotJson, rules: readonly Rule[] = RULES): Analysis {
  const findings: Finding[] = []
  const passed: string[] = []
  for (const rule of rules) {
    let match: ReturnType<Rule['check']>
    try {
      match = rule.check(snapshot)
    } catch {
      // A snapshot from another version may lack what a rule reads: that rule has nothing to say.
      match = undefined
    }
    if (match === undefined) passed.push(rule.id)
    else {
      findings.push({
        id: rule.id,
        severity: rule.severity,
        title: rule.title,
        evidence: match.evidence,
        advice: match.advice ?? rule.advice,
      })
    }
  }
  findings.sort((a, b) => ORDER[a.severity] - ORDER[b.severity])
  return { peerId: snapshot.status.peerId, takenAt: snapshot.takenAt, findings, passed }
}

/** Whether a value read from a file is a snapshot this version can analyse. */
export function isSnapshot(value: unknown): value is SnapshotJson {
  const v = value as Partial<SnapshotJson> | null
  return typeof v === 'object' && v !== null && v.kind === 'p2p-ai-debug-snapshot' && v.version === 1
}
