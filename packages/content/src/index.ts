/**
 * `@p2p-ai/content`: content-addressed data for p2p-ai nodes. Helia (Bitswap and UnixFS) runs on
 * the node's own libp2p, so only swarm peers exchange blocks (a private network's key and the
 * node's allowlist apply), with an on-disk block store under the data directory. With it a node
 * sends task inputs and outputs too large to go inline as CIDs (docs/protocol.md §2.9), gives
 * every model it serves a CID and provides its blocks from the model's own files, and pulls
 * models from its peers. A plug-in: nodes that never move large data do not install Helia.
 *
 * ```ts
 * import { createNode } from '@p2p-ai/node'
 * import { heliaContent } from '@p2p-ai/content'
 *
 * const node = await createNode({ dataDir: './data', contentStore: heliaContent() })
 * const ref = await node.content!.put(new TextEncoder().encode('hello'))  // { cid, size }
 * for await (const bytes of node.content!.get(ref)) process.stdout.write(bytes)
 * ```
 *
 * @packageDocumentation
 */

export { CHUNK_SIZE, DEFAULT_FETCH_WINDOW, DEFAULT_STALL_TIMEOUT_MS, IMPORT_PROFILE } from './constants.js'
export {
  type ContentUsage,
  HeliaContent,
  type HeliaContentInit,
  heliaContent,
  type PullFromSwarmOptions,
} from './content.js'
export { ModelNotInSwarmError } from './errors.js'
export { PeerNotAllowedError } from './gate.js'
export type { SwarmPulledModel, SwarmPullProgress } from './models/pull.js'
