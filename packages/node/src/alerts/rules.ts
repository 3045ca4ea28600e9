/**
 * The alerts a node raises, as data: what each reads, which side of its threshold is bad, how it
 * describes itself and what to do about it. The monitor (monitor.ts), `node status`, the
 * `p2p_ai_alert_active` metric and docs/observability.md all read this one table.
 */
import type { NodeConfig } from '../config/types.js'

/** The `alerts` section of the configuration. */
export type AlertsConfig = NodeConfig['alerts']

/** What the conditions are evaluated on, read once per evaluation. */
export interface AlertReadings {
  /** Peers connected now. */
  readonly peers: number
  /** Share of the machine's memory in use, 0 to 100. */
  readonly memoryPercent: number
  /** Share of the tasks finished in the window that failed, 0 to 100; undefined: too few tasks. */
  readonly taskFailurePercent: number | undefined
  /** The event loop's 99th percentile delay since the previous evaluation, in milliseconds. */
  readonly eventLoopLagMs: number
  /** The engine queue's fill, 0 to 100 (% of `engine.maxQueueLength`). */
  readonly queuePercent: number
}

export type AlertName =
  | 'peers_low'
  | 'memory_high'
  | 'task_failure_rate_high'
  | 'event_loop_lag_high'
  | 'queue_full'

export interface AlertRule {
  readonly name: AlertName
  readonly reading: keyof AlertReadings
  /** `above`: raised while the reading exceeds the threshold; `below`: while it is under it. */
  readonly direction: 'above' | 'below'
  /**
   * `proportional`: clears only `alerts.hysteresisPercent` of the threshold back inside;
   * `none`: clears at the threshold (a small count such as peers has no room for a band; the
   * hold time `alerts.forMs` keeps it from flapping).
   */
  readonly band: 'proportional' | 'none'
  /** The threshold in force; 0 turns a `below` rule off. */
  threshold(config: AlertsConfig): number
  /** A reading in words (`3 peers connected`), for the log lines and `node status`. */
  measure(value: number): string
  /** The threshold in words, as the bad side of it (`fewer than 2`). */
  limit(threshold: number): string
  /** What to do about it. */
  readonly hint: string
}

const pct = (n: number): string => `${Math.round(n * 10) / 10} %`

/** Every alert, in the order `node status` lists them. */
export const ALERT_RULES: readonly AlertRule[] = Object.freeze([
  {
    name: 'peers_low',
    reading: 'peers',
    direction: 'below',
    band: 'none',
    threshold: (c) => c.peersMin,
    measure: (v) => `${v} peer${v === 1 ? '' : 's'} connected`,
    limit: (t) => `fewer than ${t}`,
    hint: 'check the network: mDNS on the LAN (`network.mdns.interface`), `network.bootstrap` peers beyond it, and the firewall',
  },
  {
    name: 'memory_high',
    reading: 'memoryPercent',
    direction: 'above',
    band: 'proportional',
    threshold: (c) => c.memoryPercent,
    measure: (v) => `${pct(v)} of the machine's memory in use`,
    limit: (t) => `above ${pct(t)}`,
    hint: 'lower `engine.concurrency`, unload large models, or give the machine more memory',
  },
  {
    name: 'task_failure_rate_high',
    reading: 'taskFailurePercent',
    direction: 'above',
    band: 'proportional',
    threshold: (c) => c.taskFailurePercent,
    measure: (v) => `${pct(v)} of recent tasks failed`,
    limit: (t) => `above ${pct(t)}`,
    hint: 'see which codes fail with `task list --status FAILED` and `p2p_ai_tasks_total`; a model or a peer may be broken',
  },
  {
    name: 'event_loop_lag_high',
    reading: 'eventLoopLagMs',
    direction: 'above',
    band: 'proportional',
    threshold: (c) => c.eventLoopLagMs,
    measure: (v) => `the event loop lags ${Math.round(v)} ms (p99)`,
    limit: (t) => `above ${t} ms`,
    hint: 'the node is too busy to answer peers promptly: lower `engine.concurrency` or move work to worker threads',
  },
  {
    name: 'queue_full',
    reading: 'queuePercent',
    direction: 'above',
    band: 'proportional',
    threshold: (c) => c.queuePercent,
    measure: (v) => `the task queue is ${pct(v)} full`,
    limit: (t) => `above ${pct(t)}`,
    hint: 'more work arrives than this node runs: raise `engine.concurrency` if the machine allows, or add nodes',
  },
] satisfies AlertRule[])

/** Every alert's name. */
export const ALERT_NAMES: readonly AlertName[] = Object.freeze(ALERT_RULES.map((r) => r.name))
