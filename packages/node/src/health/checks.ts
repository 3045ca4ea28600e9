import { randomBytes } from 'node:crypto'
import { stat, statfs } from 'node:fs/promises'
import type { TaskEngine } from '@p2p-ai/engine'
import type { Transport } from '@p2p-ai/transport'
import { describePause } from '../resources/pause-reasons.js'
import type { NodeResources } from '../resources/resources.js'
import type { HealthCheck, HealthCheckResult } from './monitor.js'

/** Free space below which the store reports `degraded`. */
export const LOW_DISK_BYTES = 100 * 1024 * 1024

/** What the identity check needs. */
export interface CheckedIdentity {
  sign(data: Uint8Array): Uint8Array
  verify(data: Uint8Array, signature: Uint8Array): boolean
}

/**
 * Identity: the key signs and verifies a random probe, and its file is still on disk (without it
 * the next start would create a new PeerId).
 */
export function identityCheck(identity: CheckedIdentity, keyFile: string): HealthCheck {
  return async () => {
    const probe = randomBytes(32)
    if (!identity.verify(probe, identity.sign(probe))) {
      return { status: 'unhealthy', detail: 'the key does not verify its own signature' }
    }
    try {
      await stat(keyFile)
    } catch {
      return {
        status: 'degraded',
        detail: `key file ${keyFile} is missing: a restart would change the PeerId`,
      }
    }
    return { status: 'healthy' }
  }
}

/** Engine: its own verdict (queue pressure, crashed workers, stuck runs). */
export function engineCheck(engine: TaskEngine): HealthCheck {
  return () => {
    const h = engine.health()
    return { status: h.status, detail: h.detail }
  }
}

/**
 * Models: how many this node serves, and which are in memory with what they take (a language
 * model's weights and contexts can take gigabytes; idle ones are unloaded after a while).
 */
export function modelsCheck(engine: TaskEngine): HealthCheck {
  return () => {
    const models = engine.capabilities().models
    if (models.length === 0) return { status: 'healthy', detail: 'no models' }
    const loaded = models.filter((m) => m.loaded)
    const names = loaded.map((m) =>
      m.memoryBytes === undefined ? m.name : `${m.name} (${(m.memoryBytes / 1024 / 1024).toFixed(1)} MiB)`,
    )
    return {
      status: 'healthy',
      detail: `${models.length} served, ${loaded.length} loaded${names.length > 0 ? `: ${names.join(', ')}` : ''}`,
    }
  }
}

/** Store: answers a query, and the disk under the data directory has room. */
export function storeCheck(engine: TaskEngine, dataDir: string): HealthCheck {
  return async () => {
    const store = engine.store
    if (store === undefined) return { status: 'healthy', detail: 'no store (results kept in memory)' }
    if (store.closed) return { status: 'unhealthy', detail: 'the result store is closed' }
    const records = store.count()
    const fs = await statfs(dataDir)
    const free = fs.bavail * fs.bsize
    const detail = `${records} results, ${Math.round(free / 1024 / 1024)} MiB free`
    return free < LOW_DISK_BYTES
      ? { status: 'degraded', detail: `low disk space: ${detail}` }
      : { status: 'healthy', detail }
  }
}

/**
 * Network: listening, and (when bootstrap peers are configured) connected to someone. A node
 * alone on its LAN with no bootstrap list is healthy: there may simply be nobody else yet.
 */
export function networkCheck(transport: Transport, bootstrap: readonly string[]): HealthCheck {
  return (): HealthCheckResult => {
    if (transport.status !== 'started')
      return { status: 'unhealthy', detail: `transport is ${transport.status}` }
    const addresses = transport.getMultiaddrs().length
    if (addresses === 0) return { status: 'unhealthy', detail: 'not listening on any address' }
    const peers = transport.getPeers().length
    const detail = `${peers} peer${peers === 1 ? '' : 's'}, ${addresses} address${addresses === 1 ? '' : 'es'}`
    if (peers === 0 && bootstrap.length > 0) {
      return {
        status: 'degraded',
        detail: `no peers: none of the ${bootstrap.length} bootstrap peers answered`,
      }
    }
    return { status: 'healthy', detail }
  }
}

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
