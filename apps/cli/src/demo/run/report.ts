/** The demo's report: what `--json` prints, and what the summary is drawn from. */
import type { DemoOptions } from './options.js'

export interface AgentReport {
  readonly name: string
  readonly pid: number | null
  readonly peerId: string | null
  readonly address: string | null
  /** Spawn to listening, in ms. */
  readonly startMs: number | null
  /** How it ended: stopped gracefully (a goodbye to its peers), or killed, and why. */
  readonly end:
    | 'stopped'
    | 'killed by the failover'
    | 'killed after the stop timeout'
    | 'killed after an error'
    | 'crashed'
    | 'running'
  /** Tasks it ran to a verified result. */
  readonly tasksCompleted: number
}

export interface DiscoveryReport {
  /** Every node saw every other, and the requester knew each agent's capabilities. */
  readonly complete: boolean
  /** Connections between nodes (agents and the requester) at the end of discovery, and how many a full mesh has. */
  readonly connections: number
  readonly expectedConnections: number
  /** From the moment the last node was listening to the full mesh, in ms. */
  readonly meshMs: number | null
  /** Each pair's first connection, in ms after both of them were listening. */
  readonly pairs: ReadonlyArray<{ readonly a: string; readonly b: string; readonly ms: number }>
}

export interface AttemptReport {
  readonly ranOn: string
  readonly error?: { readonly code: string; readonly message: string }
}

export interface TaskReport {
  readonly number: number
  readonly type: string
  readonly label: string
  readonly status: string
  /** The agent whose result was accepted. */
  readonly ranOn: string | null
  /** Links from the requester to that agent: 1 when sent to it directly; null when forwarded (see `via`). */
  readonly hops: number | null
  /** For a forwarded task: the neighbour the requester sent it to. */
  readonly via?: string
  readonly attempts: readonly AttemptReport[]
  /** Submit to verified result, as the requester measured it. */
  readonly latencyMs: number
  /** The agent's own time: waiting in its queue, and running. */
  readonly queuedMs: number | null
  readonly runMs: number | null
  /** The result was signed by the agent it was sent to and quoted our request (checked by the exchange). */
  readonly signed: boolean
  /** The demo's own check of the output. */
  readonly outputChecked: boolean
  readonly check: string
  readonly error?: { readonly code: string; readonly message: string }
}

export interface FailoverReport {
  readonly enabled: boolean
  /** An agent was killed while running a task, and that task completed, verified, on another agent. */
  readonly observed: boolean
  readonly victim: string | null
  /** The mock task whose start on the victim set off the kill. */
  readonly trigger: number | null
  /** Since the first task was sent, in ms. */
  readonly killedAtMs: number | null
  /** Tasks the victim had started and not reported finished when it was killed, by number. */
  readonly runningAtKill: readonly number[]
  /** Of those, the ones it had in fact just finished (the result had left; the event had not arrived). */
  readonly finishedThere: readonly number[]
  /** How the victim ended: must be the SIGKILL. */
  readonly exitSignal: string | null
  readonly recovered: ReadonlyArray<{
    readonly number: number
    readonly to: string
    /** Kill to the failed attempt being recorded. */
    readonly detectedMs: number
    /** The failed attempt's end to another agent accepting the task (null if the accept was not seen). */
    readonly acceptedMs: number | null
    /** Kill to the verified result from the other agent. */
    readonly recoveredMs: number
    readonly error: string
  }>
  /** Nodes whose peer table dropped the victim, and how long after the kill. */
  readonly noticedBy: ReadonlyArray<{ readonly name: string; readonly ms: number }>
}

export interface LatencySummary {
  readonly p50: number
  readonly p99: number
  readonly min: number
  readonly max: number
}

export interface DemoSummary {
  readonly agents: number
  readonly agentsRunningAtEnd: number
  /** Connections between nodes, the requester included. */
  readonly connections: number
  readonly tasks: number
  readonly completed: number
  readonly verified: number
  /** Verified tasks / tasks, 0..1. */
  readonly successRate: number
  /** Submit to verified result, over every task, in ms. */
  readonly latencyMs: LatencySummary | null
  readonly byType: Readonly<Record<string, number>>
  readonly byAgent: Readonly<Record<string, number>>
  /** Verified tasks by the hops their result came over. */
  readonly byHops: Readonly<Record<string, number>>
  readonly failedOver: number
}

export interface DemoReport {
  /** Everything the demo claims happened; the exit code is 0 exactly then. */
  readonly ok: boolean
  /** What did not happen, one line each (empty when `ok`). */
  readonly failures: readonly string[]
  readonly options: DemoOptions
  /** The run's temporary directory (data directories, the model); removed before the report. */
  readonly dataDir: string
  readonly durationMs: number
  readonly requester: { readonly peerId: string | null }
  readonly agents: readonly AgentReport[]
  readonly discovery: DiscoveryReport
  readonly tasks: readonly TaskReport[]
  readonly failover: FailoverReport
  readonly summary: DemoSummary
}

/** Nearest-rank percentile of `values` (not empty), `p` in 0..100. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]!
}

export function latencySummary(values: readonly number[]): LatencySummary | null {
  if (values.length === 0) return null
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    min: Math.min(...values),
    max: Math.max(...values),
  }
}

/** Counts of each key, in first-seen order. */
export function countBy<T>(items: readonly T[], key: (item: T) => string | null): Record<string, number> {
  const out: Record<string, number> = {}
  for (const item of items) {
    const k = key(item)
    if (k !== null) out[k] = (out[k] ?? 0) + 1
  }
  return out
}
