/**
 * `debug snapshot` on the node's side: everything about the running node in one JSON object, fit
 * to attach to a bug report (secret settings redacted).
 */
import { statfs } from 'node:fs/promises'
import { cpus, freemem, loadavg, totalmem } from 'node:os'
import type { IntervalHistogram } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import type { P2PNode } from '@p2p-ai/node'
import type { ProcessJson, SnapshotJson, SnapshotMetricsJson } from '../control/debug-types.js'
import type { StatusJson, TaskJson } from '../control/types.js'
import { SNAPSHOT_TASKS } from './constants.js'
import type { LogRing } from './log-ring.js'

/** Where a snapshot's parts come from. */
export interface SnapshotSources {
  readonly node: P2PNode
  readonly dataDir: string
  readonly status: () => StatusJson | Promise<StatusJson>
  /** The most recent tasks, newest first. */
  readonly recentTasks: (limit: number) => readonly TaskJson[] | Promise<readonly TaskJson[]>
  readonly logs: LogRing
  /** Event loop delay since the node started. */
  readonly eventLoop: IntervalHistogram
  /**
   * The Prometheus exposition of the node's metrics, when the node has a metrics registry.
   * Without it the snapshot carries the counters the control API has, and says so.
   */
  readonly metrics?: () => Promise<string>
}

export async function takeSnapshot(
  sources: SnapshotSources,
  options: { logLines: number },
): Promise<SnapshotJson> {
  const { node } = sources
  const status = await sources.status()
  const { redactConfig } = await import('@p2p-ai/node')
  return {
    kind: 'p2p-ai-debug-snapshot',
    version: 1,
    takenAt: Date.now(),
    status,
    health: node.health(),
    peers: node.peers(),
    config: redactConfig(node.config),
    logs: sources.logs.recent(options.logLines),
    metrics: await metricsOf(sources, status),
    tasks: (await sources.recentTasks(SNAPSHOT_TASKS)).map(({ output: _, ...task }) => task),
    tracing: { enabled: node.traces !== undefined },
    process: processOf(sources.eventLoop),
    ...(await diskOf(sources.dataDir)),
  }
}

async function metricsOf(sources: SnapshotSources, status: StatusJson): Promise<SnapshotMetricsJson> {
  if (sources.metrics !== undefined) return { format: 'prometheus', text: await sources.metrics() }
  return {
    format: 'counters',
    note: "this node has no Prometheus registry: these are the control API's task counters and the serving side's",
    tasks: status.tasks,
    provider: { ...sources.node.exchange.providerStats() },
  }
}

function processOf(eventLoop: IntervalHistogram): ProcessJson {
  const heap = getHeapStatistics()
  const cpu = process.cpuUsage()
  const ms = (ns: number): number => (Number.isFinite(ns) && ns > 0 ? Math.round(ns / 1e3) / 1e3 : 0)
  return {
    pid: process.pid,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus().length,
    uptimeS: Math.round(process.uptime()),
    memory: { ...process.memoryUsage() },
    system: { totalBytes: totalmem(), freeBytes: freemem(), loadAverage: loadavg() },
    heap: { limitBytes: heap.heap_size_limit, usedBytes: heap.used_heap_size },
    eventLoop: {
      p50Ms: ms(eventLoop.percentile(50)),
      p99Ms: ms(eventLoop.percentile(99)),
      maxMs: ms(eventLoop.max),
    },
    cpu: { userUs: cpu.user, systemUs: cpu.system },
  }
}

async function diskOf(dataDir: string): Promise<Pick<SnapshotJson, 'disk'>> {
  try {
    const fs = await statfs(dataDir)
    return { disk: { totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize } }
  } catch {
    // Not every file system answers; the snapshot goes on without it.
    return {}
  }
}
