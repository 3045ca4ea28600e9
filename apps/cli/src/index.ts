/**
 * `@p2p-ai/cli`: the `p2p-ai-agents` command. Besides the binary, it exports the client of a
 * node's control API (docs/control-api.md), for scripts and tools that drive a running node.
 *
 * ```ts
 * import { connectToNode } from '@p2p-ai/cli'
 *
 * const client = await connectToNode('/home/me/.local/share/p2p-ai')
 * const { peerId, connectedPeers } = await client.status()
 * const task = await client.submit({ type: 'chunk', input: { text: 'One. Two. Three.', size: 8 } })
 * const done = await client.wait(task.id)
 * ```
 *
 * @packageDocumentation
 */

export { EXIT } from './constants.js'
export {
  ControlClient,
  type ControlClientInit,
  connectToNode,
  type ListQuery,
  type RequestOptions,
} from './control/client.js'
export type { ControlServer, ControlServerInit } from './control/server.js'
export type { ControlTarget, TaskQuery } from './control/target.js'
export type * from './control/types.js'
export * from './errors.js'
export { main } from './main.js'
export { type DataDirChoice, defaultConfigFile, defaultDataDir, resolveDataDir } from './paths.js'
export { type ControlInfo, readControlInfo } from './runtime.js'
