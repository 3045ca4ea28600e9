import { readFileSync } from 'node:fs'
import type { NodeState } from './lifecycle.js'

function readVersion(): string {
  try {
    // dist/metadata.js and src/metadata.ts both sit one level below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  } catch {
    return '0.0.0'
  }
}

/** The version of `@p2p-ai/node`. */
export const VERSION: string = readVersion()

/** What identify tells peers by default. */
export const DEFAULT_AGENT_VERSION = `p2p-ai/${VERSION}`

/** What the node can run, as shown in its metadata. */
export interface NodeCapabilities {
  /** Task types with the backend that runs each. */
  readonly taskTypes: readonly string[]
  /** Models, by name. */
  readonly models: readonly string[]
  /** Tasks that run at once. */
  readonly concurrency: number
}

/** A node's identity card: answered from a cache, in well under a millisecond. */
export interface NodeMetadata {
  /** Version of `@p2p-ai/node`. */
  readonly version: string
  /** What identify announces, e.g. `p2p-ai/0.1.0`. */
  readonly agentVersion: string
  readonly peerId: string
  /** Multiaddrs peers can dial, each ending in `/p2p/<peerId>`. */
  readonly addresses: readonly string[]
  readonly state: NodeState
  /** `Date.now()` when the node became ACTIVE; undefined before. */
  readonly startedAt: number | undefined
  /** Milliseconds since the node became ACTIVE (0 before). */
  readonly uptimeMs: number
  readonly capabilities: NodeCapabilities
  /** Peers currently connected. */
  readonly connectedPeers: number
}
