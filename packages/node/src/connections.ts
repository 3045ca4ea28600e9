/**
 * The connection limit of a running node (`network.maxConnections`, hot-reloaded): libp2p's
 * connection manager refuses and prunes beyond it, the pool stops dialling and trims the excess.
 */
import type { Transport } from '@p2p-ai/transport'
import type { Logger } from './logger.js'

/**
 * Changes the connection limit of a running transport. libp2p's connection manager can do it (and
 * prunes the excess) but the method is not on its public interface, so it is reached only if
 * present; the pool closes what is still over the limit either way.
 */
export function setMaxConnections(transport: Transport, max: number, log: Logger): void {
  const components = (transport as unknown as { components?: { connectionManager?: unknown } }).components
  const manager = components?.connectionManager as { setMaxConnections?: (n: number) => void } | undefined
  manager?.setMaxConnections?.(max)
  transport.services.pool.configure({ maxConnections: max })
  const excess = transport.getConnections().length - max
  if (excess > 0) log.info({ max, excess }, 'closing connections above the new maximum')
}
