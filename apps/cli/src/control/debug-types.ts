/**
 * JSON shapes of the control API's trace and debug endpoints (docs/control-api.md). Plain data,
 * shared by the client, the server and the daemon; the node's own types are imported as types.
 */
import type { TaskTrace } from '@p2p-ai/node'
import type { HealthJson, PeerJson, StatusJson, TaskJson } from './types.js'

/** `GET /v1/traces/:id`: every node's spans of a task (or of a trace, by its id). */
export type TraceJson = TaskTrace

/** One line of the node's log, as it wrote it (JSON). */
export type LogLineJson = Readonly<Record<string, unknown>>

/** What a snapshot says about metrics: the Prometheus exposition, or the counters the node has. */
export type SnapshotMetricsJson =
  | { readonly format: 'prometheus'; readonly text: string }
  | {
      readonly format: 'counters'
      /** Why there is no Prometheus text (this build has no metrics registry). */
      readonly note: string
      readonly tasks: StatusJson['tasks']
      readonly provider?: Readonly<Record<string, number>>
    }

/** The node process, as the snapshot sees it. */
export interface ProcessJson {
  readonly pid: number
  readonly node: string
  readonly platform: string
  readonly arch: string
  readonly cpus: number
  readonly uptimeS: number
  readonly memory: Readonly<Record<string, number>>
  /** Total and free memory of the machine, bytes. */
  readonly system: {
    readonly totalBytes: number
    readonly freeBytes: number
    readonly loadAverage: readonly number[]
  }
  /** The V8 heap's limit and use, bytes. */
  readonly heap: { readonly limitBytes: number; readonly usedBytes: number }
  /** Event loop delay since the node started, milliseconds. */
  readonly eventLoop: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number }
  /** CPU time since the node started, microseconds. */
  readonly cpu: { readonly userUs: number; readonly systemUs: number }
}

/** `GET /v1/debug/snapshot`: everything about the node in one object (one file). */
export interface SnapshotJson {
  readonly kind: 'p2p-ai-debug-snapshot'
  readonly version: 1
  readonly takenAt: number
  readonly status: StatusJson
  readonly health: HealthJson | undefined
  readonly peers: readonly PeerJson[]
  /** The configuration in force, secret settings redacted. */
  readonly config: unknown
  readonly logs: { readonly lines: readonly LogLineJson[]; readonly dropped: number }
  readonly metrics: SnapshotMetricsJson
  /** The most recent tasks, newest first (outputs left out). */
  readonly tasks: readonly TaskJson[]
  readonly tracing: { readonly enabled: boolean }
  readonly process: ProcessJson
  /** Space on the data directory's file system, bytes. */
  readonly disk?: { readonly totalBytes: number; readonly freeBytes: number }
}

/** Round trips to one peer, milliseconds. */
export interface RttJson {
  readonly samples: readonly number[]
  readonly minMs: number
  readonly medianMs: number
  readonly maxMs: number
}

/** One peer in `GET /v1/debug/network`. */
export interface PeerTestJson {
  readonly peerId: string
  readonly status: PeerJson['status']
  readonly connection?: PeerJson['connection']
  readonly protocolMinor: number
  readonly agentVersion?: string
  /** Whether it speaks each p2p-ai protocol (from identify). */
  readonly protocols: Readonly<Record<string, boolean>>
  readonly rtt?: RttJson
  /** A signed `mock` task carrying `bytes` each way, timed end to end. */
  readonly throughput?: { readonly bytes: number; readonly ms: number; readonly bytesPerSecond: number }
  /** What could not be measured, and why. */
  readonly problems: readonly string[]
}

/** `GET /v1/debug/network`: reachability, and each connected peer's round trips, throughput and versions. */
export interface NetworkTestJson {
  readonly takenAt: number
  readonly self: {
    readonly peerId: string
    readonly protocolMinor: number
    readonly addresses: ReadonlyArray<{
      readonly address: string
      readonly scope: 'loopback' | 'private' | 'public' | 'relayed'
    }>
    /**
     * Whether peers on the internet can dial this node: `public` (a confirmed public address),
     * `private` (behind a NAT: peers reach it through relays), `unknown` (no public peer told yet).
     */
    readonly reachability: 'public' | 'private' | 'unknown'
    /** Relays holding a reservation for this node. */
    readonly relays: readonly string[]
  }
  readonly peers: readonly PeerTestJson[]
}

/** `POST /v1/debug/stress`. */
export interface StressRequest {
  /** How long to submit tasks, ms (at most `MAX_STRESS_DURATION_MS`). */
  readonly durationMs: number
  /** Tasks submitted per second (at most `MAX_STRESS_RATE`). */
  readonly ratePerSecond: number
  /** @default `mock` */
  readonly type?: string
  readonly input?: Readonly<Record<string, unknown>>
  /** PeerId, or `self`; @default routed by the node */
  readonly target?: string
  /** Tasks unfinished at once before new ones are skipped (the load is controlled). */
  readonly maxInFlight?: number
}

/** The report of a stress run. */
export interface StressReportJson {
  readonly type: string
  readonly requested: {
    readonly durationMs: number
    readonly ratePerSecond: number
    readonly maxInFlight: number
  }
  readonly durationMs: number
  readonly submitted: number
  /** Not submitted because `maxInFlight` tasks were unfinished. */
  readonly skipped: number
  readonly completed: number
  readonly failed: number
  /** Failures by error code. */
  readonly errors: Readonly<Record<string, number>>
  /** Completed tasks per second over the run. */
  readonly throughputPerSecond: number
  /** Submission to final state, completed tasks, ms. */
  readonly latencyMs: {
    readonly p50: number
    readonly p90: number
    readonly p99: number
    readonly max: number
  }
  /** Tasks by the node that ran them (the provider's PeerId, or this node's). */
  readonly byProvider: Readonly<Record<string, number>>
  /** Retries the exchange made (attempts beyond the first). */
  readonly retries: number
}

/** `POST /v1/debug/profile` and `POST /v1/debug/heap-dump`. */
export interface DumpRequest {
  /** Absolute path of the file to write (must not exist); @default in `<dataDir>/debug/` */
  readonly path?: string
  /** For a profile: how long to sample, ms. */
  readonly durationMs?: number
}

/** Where a profile or heap snapshot was written. */
export interface DumpJson {
  readonly path: string
  readonly bytes: number
  /** How long the node spent on it, ms (a heap snapshot pauses the node). */
  readonly durationMs: number
}
