/**
 * The Prometheus endpoint of a node started by `node start`, when `metrics.enabled` (or
 * `--metrics`): `@p2p-ai/metrics` is loaded only then, its libp2p metrics go into `createNode`,
 * and the endpoint starts once the node runs.
 */
import type { NodeConfig, NodeInit, P2PNode } from '@p2p-ai/node'

export interface DaemonMetrics {
  /** For `createNode({ libp2pMetrics })`. */
  readonly libp2p: NonNullable<NodeInit['libp2pMetrics']>
  /** Collects from `node` and serves `/metrics`; resolves with its URL. */
  start(node: P2PNode): Promise<string>
  /** The exposition text (what a scrape gets). */
  exposition(): Promise<string>
  close(): Promise<void>
}

/**
 * The metrics of a node about to start, or undefined when they are off. Reads the token file now,
 * so a missing one fails before anything is written.
 */
export async function daemonMetrics(
  config: NodeConfig['metrics'],
  dataDir: string,
  onError: (err: unknown) => void,
): Promise<DaemonMetrics | undefined> {
  if (!config.enabled) return undefined
  const { nodeMetrics, readTokenFile, serveMetrics } = await import('@p2p-ai/metrics')
  const token = config.tokenFile === '' ? undefined : await readTokenFile(config.tokenFile)
  const metrics = nodeMetrics({ dataDir })
  let server: Awaited<ReturnType<typeof serveMetrics>> | undefined
  let detach: (() => void) | undefined
  return {
    libp2p: metrics.libp2p,
    async start(node) {
      detach = metrics.attach(node)
      server = await serveMetrics(metrics, {
        host: config.host,
        port: config.port,
        ...(token === undefined ? {} : { token }),
        onError,
      })
      return server.url
    },
    exposition: () => metrics.exposition(),
    async close() {
      detach?.()
      await server?.close()
    },
  }
}
