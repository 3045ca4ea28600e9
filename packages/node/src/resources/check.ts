import type { HealthCheck } from '../health/monitor.js'
import { describePause } from './pause-reasons.js'
import type { NodeResources } from './resources.js'

function mib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`
}

function percent(share: number): string {
  return `${Math.round(share * 100)} %`
}

/**
 * Resources: the latest reading in one line, `degraded` while the node is over its memory or disk
 * limit. A pause is not a problem: it is what the owner asked for.
 */
export function resourcesCheck(resources: NodeResources): HealthCheck {
  return () => {
    const s = resources.status()
    const parts: string[] = []
    const snap = s.snapshot
    if (snap !== undefined) {
      parts.push(`cpu ${percent(snap.cpu.machine)} (node ${percent(snap.cpu.node)})`)
      parts.push(`memory ${mib(snap.memory.nodeBytes)} (${mib(snap.memory.availableBytes)} available)`)
      if (snap.disk?.dataDirBytes !== undefined) parts.push(`data ${mib(snap.disk.dataDirBytes)}`)
    }
    if (s.paused) parts.push(`paused: ${describePause(s.pauseReasons)}`)
    const problems: string[] = []
    if (s.overMemory && s.limits.memoryBytes !== undefined)
      problems.push(`over the memory limit of ${mib(s.limits.memoryBytes)}: no task starts`)
    if (s.overDisk && s.limits.diskBytes !== undefined)
      problems.push(`the data directory is over the disk limit of ${mib(s.limits.diskBytes)}`)
    const detail = [...problems, ...parts].join('; ') || 'measuring'
    return { status: problems.length > 0 ? 'degraded' : 'healthy', detail }
  }
}
