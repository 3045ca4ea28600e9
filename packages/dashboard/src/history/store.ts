/**
 * The metrics history, in SQLite (better-sqlite3, WAL) in the node's data directory: one row per
 * point and tier, downsampled as it is written (each sample is added to the point of every tier
 * that covers it), and alerts as they rise and clear. Old points go tier by tier.
 */
import Database from 'better-sqlite3'
import { LATENCY_BUCKETS_MS, MAX_HISTORY_POINTS } from '../constants.js'
import type { AlertEvent, HistoryJson, HistoryPoint } from '../wire.js'
import { quantile } from './histogram.js'

/** What happened during one sample. */
export interface Sample {
  /** Start of the sample's interval (`Date.now()` values). */
  readonly at: number
  readonly completed: number
  readonly failed: number
  readonly failovers: number
  readonly served: number
  readonly peers: number
  readonly running: number
  readonly queued: number
  readonly alerts: number
  /** Latency bucket counts of the tasks that finished in it. */
  readonly latency: readonly number[]
}

export interface HistoryStoreInit {
  /** A file, or `:memory:`. */
  readonly file: string
  readonly tiers: readonly { readonly stepMs: number; readonly keepMs: number }[]
  /** How long alerts are kept (the coarsest tier's time). */
  readonly keepMs: number
}

const COUNTS = ['completed', 'failed', 'failovers', 'served'] as const
const GAUGES = ['peers', 'running', 'queued', 'alerts'] as const
const BUCKETS = Array.from({ length: LATENCY_BUCKETS_MS.length + 1 }, (_, i) => `h${i}`)

interface Row extends Record<string, number> {
  at: number
  samples: number
}

export class HistoryStore {
  readonly #db: Database.Database
  readonly #tiers: HistoryStoreInit['tiers']
  readonly #keepMs: number
  readonly #add: Database.Statement
  readonly #addAlert: Database.Statement
  readonly #points: Database.Statement
  readonly #alerts: Database.Statement

  constructor(init: HistoryStoreInit) {
    this.#tiers = init.tiers
    this.#keepMs = init.keepMs
    this.#db = new Database(init.file)
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('synchronous = NORMAL')
    const columns = [...COUNTS, ...GAUGES.map((g) => `${g}_sum`), ...BUCKETS]
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS points (
        step_ms INTEGER NOT NULL, at INTEGER NOT NULL, samples INTEGER NOT NULL,
        ${columns.map((c) => `${c} REAL NOT NULL DEFAULT 0`).join(', ')},
        PRIMARY KEY (step_ms, at)
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS alerts (
        at INTEGER NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL, message TEXT NOT NULL,
        value REAL, threshold REAL NOT NULL
      );
      CREATE INDEX IF NOT EXISTS alerts_at ON alerts (at);
    `)
    // Keyed by step, not by tier number: a history written with other tiers is still read right.
    this.#add = this.#db.prepare(`
      INSERT INTO points (step_ms, at, samples, ${columns.join(', ')})
      VALUES (@step, @at, 1, ${columns.map((c) => `@${c}`).join(', ')})
      ON CONFLICT (step_ms, at) DO UPDATE SET samples = samples + 1,
        ${columns.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}
    `)
    this.#addAlert = this.#db.prepare(
      'INSERT INTO alerts (at, name, state, message, value, threshold) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.#points = this.#db.prepare(
      'SELECT * FROM points WHERE step_ms = ? AND at >= ? AND at <= ? ORDER BY at',
    )
    this.#alerts = this.#db.prepare('SELECT * FROM alerts WHERE at >= ? AND at <= ? ORDER BY at, rowid')
  }

  /** Adds one sample to every tier, in one transaction. */
  add(sample: Sample): void {
    const values: Record<string, number> = {}
    for (const c of COUNTS) values[c] = sample[c]
    for (const g of GAUGES) values[`${g}_sum`] = sample[g]
    for (const [i, name] of BUCKETS.entries()) values[name] = sample.latency[i] ?? 0
    this.#db.transaction(() => {
      for (const { stepMs } of this.#tiers) {
        this.#add.run({ ...values, step: stepMs, at: Math.floor(sample.at / stepMs) * stepMs })
      }
    })()
  }

  addAlert(event: AlertEvent): void {
    this.#addAlert.run(event.at, event.name, event.state, event.message, event.value ?? null, event.threshold)
  }

  /**
   * The points of `[from, to]` from the finest tier that still holds the whole range in at most
   * `MAX_HISTORY_POINTS` points, and the alerts of the range.
   */
  query(from: number, to: number, now: number): HistoryJson {
    const range = to - from
    const tier =
      this.#tiers.find((t) => t.keepMs >= now - from && range / t.stepMs <= MAX_HISTORY_POINTS) ??
      this.#tiers.at(-1)!
    const rows = this.#points.all(tier.stepMs, Math.floor(from / tier.stepMs) * tier.stepMs, to) as Row[]
    const alerts = (this.#alerts.all(from, to) as Array<Record<string, unknown>>).map(
      (r): AlertEvent => ({
        at: r.at as number,
        name: r.name as string,
        state: r.state as AlertEvent['state'],
        message: r.message as string,
        ...(r.value === null ? {} : { value: r.value as number }),
        threshold: r.threshold as number,
      }),
    )
    return { from, to, stepMs: tier.stepMs, points: rows.map(toPoint), alerts, keptMs: this.#keepMs }
  }

  /** Drops what each tier no longer keeps, and alerts older than the history. */
  prune(now: number): void {
    const drop = this.#db.prepare('DELETE FROM points WHERE step_ms = ? AND at < ?')
    this.#db.transaction(() => {
      for (const { stepMs, keepMs } of this.#tiers) drop.run(stepMs, now - keepMs)
      // Points of tiers no longer configured (another sample period) go with the oldest history.
      this.#db
        .prepare(
          `DELETE FROM points WHERE step_ms NOT IN (${this.#tiers.map(() => '?').join(', ')}) AND at < ?`,
        )
        .run(...this.#tiers.map((t) => t.stepMs), now - this.#keepMs)
      this.#db.prepare('DELETE FROM alerts WHERE at < ?').run(now - this.#keepMs)
    })()
  }

  close(): void {
    if (this.#db.open) this.#db.close()
  }
}

function toPoint(row: Row): HistoryPoint {
  const n = Math.max(1, row.samples)
  const histogram = BUCKETS.map((b) => row[b] ?? 0)
  const p50 = quantile(histogram, 0.5)
  const p95 = quantile(histogram, 0.95)
  const p99 = quantile(histogram, 0.99)
  return {
    at: row.at,
    completed: row.completed ?? 0,
    failed: row.failed ?? 0,
    failovers: row.failovers ?? 0,
    served: row.served ?? 0,
    peers: (row.peers_sum ?? 0) / n,
    running: (row.running_sum ?? 0) / n,
    queued: (row.queued_sum ?? 0) / n,
    alerts: (row.alerts_sum ?? 0) / n,
    ...(p50 === undefined ? {} : { p50Ms: round(p50) }),
    ...(p95 === undefined ? {} : { p95Ms: round(p95) }),
    ...(p99 === undefined ? {} : { p99Ms: round(p99) }),
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10
}
